package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.EventFdLatch;
import org.openjdk.jcstress.annotations.*;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * A thread blocked in {@code EventFdLatch.await()} (count 1) is woken by the @Signal: by
 * countDown(), by an interrupt, by close(); each in a platform-thread and a virtual-thread form. As in
 * {@link SemaphoreTermination}, any wrong ending makes the actor wait forever, so it shows as STALE.
 */
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "woken, and ended the right way")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "still blocked, or ended the wrong way (see the test)")
@Outcome(expect = FORBIDDEN, desc = "anything else (ERROR: the actor or the signal threw)")
public class LatchTermination {

    // ------------------------------------------------------------------ woken by countDown()

    /** await() must return once countDown() takes the count to zero. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByCountDown {
        final EventFdLatch latch = new EventFdLatch(1);
        volatile boolean signalled;

        @Actor
        public void actor() {
            try {
                latch.await();
            } catch (Throwable wrong) {
                Stale.forever();
            }
            Stale.spinUntil(() -> signalled);   // countDown() has returned: nothing uses the latch any more
            latch.close();
        }

        @Signal
        public void signal() {
            latch.countDown();
            signalled = true;
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByCountDownVirtual {
        final EventFdLatch latch = new EventFdLatch(1);
        volatile boolean signalled;

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(t -> { }, () -> {
                try {
                    latch.await();
                    return true;
                } catch (Throwable wrong) {
                    return false;
                }
            });
            Stale.spinUntil(() -> signalled);
            latch.close();
        }

        @Signal
        public void signal() {
            latch.countDown();
            signalled = true;
        }
    }

    // ------------------------------------------------------------------ woken by an interrupt

    /** await() must throw InterruptedException with the status cleared, the count unchanged. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByInterrupt {
        final EventFdLatch latch = new EventFdLatch(1);
        volatile Thread waiter;

        @Actor
        public void actor() {
            waiter = Thread.currentThread();
            if (!interruptedProperly(latch)) Stale.forever();
            latch.close();                      // the signal only interrupts: it never touches the latch
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
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByInterruptVirtual {
        final EventFdLatch latch = new EventFdLatch(1);
        volatile Thread waiter;

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(vt -> waiter = vt, () -> interruptedProperly(latch));
            latch.close();
        }

        @Signal
        public void signal() {
            Thread t;
            while ((t = waiter) == null) Thread.onSpinWait();
            t.interrupt();
        }
    }

    /** Whether await() ended with InterruptedException, status cleared, count still 1. */
    static boolean interruptedProperly(EventFdLatch latch) {
        try {
            latch.await();
            return false;                       // returned although nobody counted down
        } catch (InterruptedException expected) {
            return !Thread.currentThread().isInterrupted() && latch.getCount() == 1;
        } catch (Throwable wrong) {
            return false;
        }
    }

    // ------------------------------------------------------------------ woken by close()

    /** await() must throw ClosedException when the latch is closed under it. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByClose {
        final EventFdLatch latch = new EventFdLatch(1);

        @Actor
        public void actor() {
            if (!closedProperly(latch)) Stale.forever();
        }

        @Signal
        public void signal() {
            latch.close();
        }
    }

    /** The same, the waiter being a virtual thread. */
    @JCStressTest(Mode.Termination)
    @JCStressMeta(LatchTermination.class)
    @State
    public static class AwaitWokenByCloseVirtual {
        final EventFdLatch latch = new EventFdLatch(1);

        @Actor
        public void actor() throws InterruptedException {
            Stale.inVirtualThread(t -> { }, () -> closedProperly(latch));
        }

        @Signal
        public void signal() {
            latch.close();
        }
    }

    /** Whether await() ended with ClosedException. */
    static boolean closedProperly(EventFdLatch latch) {
        try {
            latch.await();
            return false;                       // returned although nobody counted down
        } catch (ClosedException expected) {
            return true;
        } catch (Throwable wrong) {
            return false;
        }
    }
}
