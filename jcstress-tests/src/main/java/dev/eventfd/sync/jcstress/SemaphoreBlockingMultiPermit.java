package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.III_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * Blocking multi-permit acquires: on {@code EventFdSemaphore(3)} each actor acquires 2 permits, reads a
 * plain counter, writes it back incremented, and releases its 2. Two holders at once would need 4
 * permits, so whichever comes second waits (the gather and the multi-permit feed) until the first
 * releases; the holder stays inside (between reading and writing the counter) until the other is
 * queued, so that the other really parks, and both holding at once shows as the same value read.
 * Results: the counter value each actor read (-1: its acquire gave up within the bound; -2:
 * its virtual thread did not end; -3: it threw), then availablePermits() seen by the arbiter, which
 * must be 3 again.
 */
@Outcome(id = {"0, 1, 3", "1, 0, 3"}, expect = ACCEPTABLE, desc = "one holder after the other; all 3 permits back")
@Outcome(id = {"0, 0, 3", "1, 1, 3"}, expect = FORBIDDEN, desc = "both held 2 of the 3 permits at once, or the second missed the first's write")
@Outcome(expect = FORBIDDEN, desc = "anything else: a permit created or lost (last value not 3), or an acquire that gave up (-1), hung (-2) or threw (-3)")
public class SemaphoreBlockingMultiPermit {

    /** Timed tryAcquire(2) with a generous bound, on platform threads (the jcstress actors). */
    @JCStressTest
    @JCStressMeta(SemaphoreBlockingMultiPermit.class)
    @State
    public static class TimedAcquireTwo {
        final EventFdSemaphore s = new EventFdSemaphore(3);
        int counter;
        volatile boolean done1, done2;

        private int critical(boolean first) {
            try {
                if (!Stale.boundedAcquire(s, 2)) return -1;
                int seen = counter;
                Stale.holdUntilQueued(s, () -> first ? done2 : done1);
                counter = seen + 1;
                s.release(2);
                return seen;
            } finally {
                if (first) done1 = true; else done2 = true;
            }
        }

        @Actor
        public void actor1(III_Result r) {
            r.r1 = critical(true);
        }

        @Actor
        public void actor2(III_Result r) {
            r.r2 = critical(false);
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r3 = s.availablePermits();
            s.close();
        }
    }

    /**
     * Untimed acquire(2) in a virtual thread on each side (parks with no deadline); each actor joins
     * its virtual thread with a bounded wait, and one still waiting then is woken by the arbiter's
     * close().
     */
    @JCStressTest
    @JCStressMeta(SemaphoreBlockingMultiPermit.class)
    @State
    public static class AcquireTwoVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(3);
        int counter;
        volatile boolean done1, done2;

        private int critical(boolean first) {
            try {
                try {
                    s.acquire(2);
                } catch (Throwable closedOrInterrupted) {
                    return -1;
                }
                int seen = counter;
                Stale.holdUntilQueued(s, () -> first ? done2 : done1);
                counter = seen + 1;
                s.release(2);
                return seen;
            } finally {
                if (first) done1 = true; else done2 = true;
            }
        }

        @Actor
        public void actor1(III_Result r) {
            r.r1 = Stale.inVirtualThreadBounded(() -> critical(true));
        }

        @Actor
        public void actor2(III_Result r) {
            r.r2 = Stale.inVirtualThreadBounded(() -> critical(false));
        }

        @Arbiter
        public void arbiter(III_Result r) {
            r.r3 = s.availablePermits();
            s.close();
        }
    }
}
