package dev.eventfd.sync.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** This process created or joined a named object; the duration is that of the whole {@code open}. */
@Name("dev.eventfd.sync.NamedOpen")
@Label("Named Object Opened")
@Category({"eventfd-sync"})
@Description("A named semaphore, lock or latch was created or joined")
@StackTrace(true)
public final class NamedOpenEvent extends jdk.jfr.Event {

    @Label("Object Kind")
    @Description("What the name holds: a semaphore (shared-memory or kernel-counter store) or a latch")
    public String objectKind;

    @Label("Name")
    public String name;

    @Label("Created")
    @Description("true if this process created the object, false if it joined it")
    public boolean created;

    /** Ends the event and commits it with these fields if it is enabled. */
    public void finish(String objectKind, String name, boolean created) {
        end();
        if (shouldCommit()) {
            this.objectKind = objectKind;
            this.name = name;
            this.created = created;
            commit();
        }
    }
}
