package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.I_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * Message passing across {@code release()} &rarr; {@code acquire}: a plain write made before
 * {@code release()} is visible after a successful acquire in the other thread. Result: the value read
 * after acquiring; -1 when the acquire did not succeed (only legal for the non-blocking variant).
 */
public class SemaphoreMessagePassing {

    /** Non-blocking: the permit may or may not be there yet. */
    @JCStressTest
    @Outcome(id = "-1", expect = ACCEPTABLE, desc = "tryAcquire() ran before release(): no permit yet")
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "acquired, and sees the write made before release()")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "acquired the permit but not the write made before release()")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TryAcquire {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        int x;

        @Actor
        public void writer() {
            x = 1;
            s.release();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = s.tryAcquire() ? x : -1;
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /**
     * Blocking (bounded): the reader waits for the permit, so it usually parks and is handed the
     * permit by release(). A timeout (-1) means a lost permit or wake-up.
     */
    @JCStressTest
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "acquired, and sees the write made before release()")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "acquired the permit but not the write made before release()")
    @Outcome(id = "-1", expect = FORBIDDEN, desc = "the acquire gave up (timed out, or closed by the arbiter) although release() was called")
    @Outcome(id = "-2", expect = FORBIDDEN, desc = "the virtual thread did not end within the bound")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TimedTryAcquire {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        int x;

        @Actor
        public void writer() {
            x = 1;
            s.release();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = Stale.boundedAcquire(s) ? x : -1;
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /**
     * The same, the reader being a virtual thread (the timed wait parks through the virtual-thread
     * scheduler); the actor joins it with a bounded wait. The writer holds its release until the
     * reader is queued (bounded), so that the reader parks and is woken in (nearly) every sample.
     */
    @JCStressTest
    @JCStressMeta(TimedTryAcquire.class)
    @State
    public static class TimedTryAcquireVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        int x;
        volatile boolean readerDone;

        @Actor
        public void writer() {
            Stale.holdUntilQueued(s, () -> readerDone);   // the reader parks first
            x = 1;
            s.release();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = Stale.inVirtualThreadBounded(() -> Stale.boundedAcquire(s) ? x : -1);
            readerDone = true;
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /**
     * Untimed acquire() in a virtual thread (it parks with no deadline; the writer waits until it is
     * queued, as above). The actor's join is bounded; a virtual thread still waiting then is woken by
     * the arbiter's close() (ClosedException).
     */
    @JCStressTest
    @JCStressMeta(TimedTryAcquire.class)
    @State
    public static class AcquireVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        int x;
        volatile boolean readerDone;

        @Actor
        public void writer() {
            Stale.holdUntilQueued(s, () -> readerDone);   // the reader parks first
            x = 1;
            s.release();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = Stale.inVirtualThreadBounded(() -> {
                try {
                    s.acquire();
                    return x;
                } catch (Throwable closedOrInterrupted) {
                    return -1;
                }
            });
            readerDone = true;
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /** Several permits: release(2) publishes, tryAcquire(2) (the multi-permit gathering path) reads. */
    @JCStressTest
    @Outcome(id = "-1", expect = ACCEPTABLE, desc = "tryAcquire(2) ran before release(2)")
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "acquired both, and sees the write made before release(2)")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "acquired both permits but not the write made before release(2)")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TryAcquireTwo {
        final EventFdSemaphore s = new EventFdSemaphore(0);
        int x;

        @Actor
        public void writer() {
            x = 1;
            s.release(2);
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = s.tryAcquire(2) ? x : -1;
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }
}
