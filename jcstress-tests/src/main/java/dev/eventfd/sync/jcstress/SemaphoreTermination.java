package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * A thread blocked in {@code EventFdSemaphore.acquire()} (0 permits) is woken by the @Signal:
 * by release(), by an interrupt, by close(). Each comes in a platform-thread form (the jcstress actor
 * blocks itself) and a virtual-thread form (the actor starts a virtual thread that blocks, and joins
 * it), which parks through the virtual-thread scheduler instead.
 *
 * <p>Only the right ending terminates: any other (acquire() returning without a permit, a wrong
 * exception, the interrupt status left set...) makes the actor wait forever ({@link Stale#forever()}),
 * so that every wrong behaviour is reported as STALE. The actor closes the semaphore once the signal
 * is done with it (jcstress states have no teardown).
 */
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "woken, and ended the right way")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "still blocked, or ended the wrong way (see the test)")
@Outcome(expect = FORBIDDEN, desc = "anything else (ERROR: the actor or the signal threw)")
public class SemaphoreTermination {

    // ------------------------------------------------------------------ woken by release()

    /** acquire() must return once release() is called. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByRelease {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile boolean signalled;

        @Actor
        public void actor() {
            try {
                s.acquire();
            } catch (Throwable wrong) {
                Stale.forever();
            }
            Stale.spinUntil(() -> signalled);   // release() has returned: nothing uses s any more
            s.close();
        }

        @Signal
        public void signal() {
            s.release();
            signalled = true;
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByReleaseVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile boolean signalled;

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(t -> { }, () -> {
                try {
                    s.acquire();
                    return true;
                } catch (Throwable wrong) {
                    return false;
                }
            });
            Stale.spinUntil(() -> signalled);
            s.close();
        }

        @Signal
        public void signal() {
            s.release();
            signalled = true;
        }
    }

    // ------------------------------------------------------------------ acquire(2) woken by two releases

    /**
     * acquire(2) must return once two release() calls have given it both permits, and must have taken
     * exactly those two: returning after the first release (a multi-permit waiter handed part of its
     * request) leaves a permit behind, and the actor then stalls.
     */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireTwoWokenByTwoReleases {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile boolean signalled;

        @Actor
        public void actor() {
            try {
                s.acquire(2);
            } catch (Throwable wrong) {
                Stale.forever();
            }
            Stale.spinUntil(() -> signalled);   // both releases have returned
            if (s.availablePermits() != 0) Stale.forever();
            s.close();
        }

        @Signal
        public void signal() {
            s.release();
            s.release();
            signalled = true;
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireTwoWokenByTwoReleasesVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile boolean signalled;

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(t -> { }, () -> {
                try {
                    s.acquire(2);
                    return true;
                } catch (Throwable wrong) {
                    return false;
                }
            });
            Stale.spinUntil(() -> signalled);
            if (s.availablePermits() != 0) Stale.forever();
            s.close();
        }

        @Signal
        public void signal() {
            s.release();
            s.release();
            signalled = true;
        }
    }

    // ------------------------------------------------------------------ woken by an interrupt

    /**
     * acquire() must throw InterruptedException with the interrupt status cleared, and take no
     * permit (none was ever released).
     */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByInterrupt {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile Thread waiter;

        @Actor
        public void actor() {
            waiter = Thread.currentThread();
            if (!interruptedProperly(s)) Stale.forever();
            s.close();                          // the signal only interrupts: it never touches s
        }

        @Signal
        public void signal() {
            Thread t;
            while ((t = waiter) == null) Thread.onSpinWait();
            t.interrupt();
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByInterruptVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        volatile Thread waiter;

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(vt -> waiter = vt, () -> interruptedProperly(s));
            s.close();
        }

        @Signal
        public void signal() {
            Thread t;
            while ((t = waiter) == null) Thread.onSpinWait();
            t.interrupt();
        }
    }

    /** Whether acquire() ended with InterruptedException, status cleared, no permit taken. */
    static boolean interruptedProperly(EventFdSemaphore s) {
        try {
            s.acquire();
            return false;                       // returned: it took a permit nobody released
        } catch (InterruptedException expected) {
            return !Thread.currentThread().isInterrupted() && s.availablePermits() == 0;
        } catch (Throwable wrong) {
            return false;
        }
    }

    // ------------------------------------------------------------------ woken by close()

    /** acquire() must throw ClosedException when the semaphore is closed under it. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByClose {
        final EventFdSemaphore s = new EventFdSemaphore(0);

        @Actor
        public void actor() {
            if (!closedProperly(s)) Stale.forever();
        }

        @Signal
        public void signal() {
            s.close();
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(SemaphoreTermination.class)
    @State
    public static class AcquireWokenByCloseVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(t -> { }, () -> closedProperly(s));
        }

        @Signal
        public void signal() {
            s.close();
        }
    }

    /** Whether acquire() ended with ClosedException. */
    static boolean closedProperly(EventFdSemaphore s) {
        try {
            s.acquire();
            return false;                       // returned: it took a permit nobody released
        } catch (ClosedException expected) {
            return true;
        } catch (Throwable wrong) {
            return false;
        }
    }
}
