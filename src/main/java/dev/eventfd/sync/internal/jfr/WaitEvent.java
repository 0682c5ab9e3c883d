package dev.eventfd.sync.internal.jfr;

import dev.eventfd.sync.ClosedException;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;

/**
 * A thread waited for a semaphore's permits, a lock or a latch: recorded when the wait lasted at least
 * the threshold (20 ms by default, as {@code jdk.ThreadPark}'s), whatever its outcome. Only waits are
 * recorded; an acquire that does not wait costs nothing here.
 */
@Name("dev.eventfd.sync.Wait")
@Label("Synchronizer Wait")
@Category({"eventfd-sync"})
@Description("A wait for permits of an EventFdSemaphore, an EventFdLock or an EventFdLatch")
@Enabled(true)
@Threshold("20 ms")
@StackTrace(true)
public final class WaitEvent extends jdk.jfr.Event {

    /** The outcomes of a wait. */
    public static final String ACQUIRED = "acquired", TIMED_OUT = "timed out", INTERRUPTED = "interrupted",
            CLOSED = "closed", FAILED = "failed";

    @Label("Object Kind")
    @Description("semaphore, lock or latch")
    public String objectKind;

    @Label("Name")
    @Description("The name of a named object; empty for an anonymous one")
    public String name;

    @Label("Permits")
    @Description("The permits asked for (0 for a latch)")
    public long permits;

    @Label("Outcome")
    @Description("acquired, timed out, interrupted, closed or failed")
    public String outcome;

    /** A wait that may be interrupted: {@code true} if it got what it waited for, {@code false} if it timed out. */
    @FunctionalInterface
    public interface Wait {
        boolean await() throws InterruptedException;
    }

    /**
     * Runs {@code wait} as one event: its duration, and its outcome from what it returned or threw.
     *
     * @param name the object's name, or null if it is anonymous
     * @return what {@code wait} returned
     */
    public static boolean record(String objectKind, String name, long permits, Wait wait) throws InterruptedException {
        WaitEvent event = new WaitEvent();
        event.begin();
        String outcome = FAILED;
        try {
            boolean got = wait.await();
            outcome = got ? ACQUIRED : TIMED_OUT;
            return got;
        } catch (InterruptedException e) {
            outcome = INTERRUPTED;
            throw e;
        } catch (ClosedException e) {
            outcome = CLOSED;
            throw e;
        } finally {
            event.end();
            if (event.shouldCommit()) {
                event.objectKind = objectKind;
                event.name = name == null ? "" : name;
                event.permits = permits;
                event.outcome = outcome;
                event.commit();
            }
        }
    }
}
