package dev.eventfd.sync.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/**
 * This process freed the slot of a process that had died with a named semaphore (or lock) open:
 * what that process held came back to the semaphore. Every survivor may try the same recovery; the
 * one whose update frees the slot records it, so each death is recorded once.
 */
@Name("dev.eventfd.sync.PermitsRecovered")
@Label("Permits Recovered")
@Category({"eventfd-sync"})
@Description("The permits a dead process held of a named semaphore came back to it")
@StackTrace(false)
public final class PermitsRecoveredEvent extends jdk.jfr.Event {

    @Label("Name")
    public String name;

    @Label("Process")
    @Description("The dead process's pid, as it numbered itself (in its own PID namespace)")
    public long pid;

    @Label("PID Namespace")
    @Description("The inode of the dead process's PID namespace, 0 if unknown")
    public long pidNamespace;

    @Label("Permits")
    @Description("The permits it held when it died")
    public long permits;

    @Label("Slot")
    public int slot;

    /** Records a recovery, if the event is enabled. */
    public static void record(String name, int slot, long pid, long pidNamespace, long permits) {
        PermitsRecoveredEvent e = new PermitsRecoveredEvent();
        if (!e.isEnabled()) return;
        e.name = name;
        e.slot = slot;
        e.pid = pid;
        e.pidNamespace = pidNamespace;
        e.permits = permits;
        e.commit();
    }
}
