package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.II_Result;

import java.util.concurrent.TimeUnit;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * Mutual exclusion through {@code EventFdSemaphore(1)}: each actor takes the permit, reads a plain
 * counter, writes it back incremented, and releases. Results: the value each actor read (-1: it never
 * got the permit within the bound). The two must differ: one ran strictly after the other and saw its
 * increment.
 */
@Outcome(id = {"0, 1", "1, 0"}, expect = ACCEPTABLE, desc = "one critical section after the other")
@Outcome(id = {"0, 0", "1, 1"}, expect = FORBIDDEN, desc = "both inside at once, or the second missed the first's write")
@Outcome(expect = FORBIDDEN, desc = "anything else (-1: the permit was lost; -2: a virtual thread did not end within the bound)")
public class SemaphoreMutualExclusion {

    /** Spins on tryAcquire() (bounded): the barging fast path only. */
    @JCStressTest
    @JCStressMeta(SemaphoreMutualExclusion.class)
    @State
    public static class TryAcquireSpin {
        final EventFdSemaphore s = new EventFdSemaphore(1);
        int counter;

        private int critical() {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Stale.BOUND_MILLIS);
            while (!s.tryAcquire()) {
                if (System.nanoTime() - deadline > 0) return -1;
                Thread.onSpinWait();
            }
            int seen = counter;
            counter = seen + 1;
            s.release();
            return seen;
        }

        @Actor
        public void actor1(II_Result r) {
            r.r1 = critical();
        }

        @Actor
        public void actor2(II_Result r) {
            r.r2 = critical();
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /** Timed tryAcquire with a generous bound: the loser parks and is handed the permit by release(). */
    @JCStressTest
    @JCStressMeta(SemaphoreMutualExclusion.class)
    @State
    public static class TimedTryAcquire {
        final EventFdSemaphore s = new EventFdSemaphore(1);
        int counter;

        private int critical() {
            if (!Stale.boundedAcquire(s)) return -1;
            int seen = counter;
            counter = seen + 1;
            s.release();
            return seen;
        }

        @Actor
        public void actor1(II_Result r) {
            r.r1 = critical();
        }

        @Actor
        public void actor2(II_Result r) {
            r.r2 = critical();
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }

    /**
     * Untimed acquire() in a virtual thread on each side: the loser parks through the virtual-thread
     * scheduler with no deadline, and is handed the permit by release(). The holder stays inside
     * (between reading and writing the counter) until the other is queued, so that the other really
     * parks. Each actor joins its virtual thread with a bounded wait; one still waiting then is woken
     * by the arbiter's close().
     */
    @JCStressTest
    @JCStressMeta(SemaphoreMutualExclusion.class)
    @State
    public static class AcquireVirtual {
        final EventFdSemaphore s = new EventFdSemaphore(1);
        int counter;
        volatile boolean done1, done2;

        private int critical(boolean first) {
            try {
                try {
                    s.acquire();
                } catch (Throwable closedOrInterrupted) {
                    return -1;
                }
                int seen = counter;
                Stale.holdUntilQueued(s, () -> first ? done2 : done1);
                counter = seen + 1;
                s.release();
                return seen;
            } finally {
                if (first) done1 = true; else done2 = true;
            }
        }

        @Actor
        public void actor1(II_Result r) {
            r.r1 = Stale.inVirtualThreadBounded(() -> critical(true));
        }

        @Actor
        public void actor2(II_Result r) {
            r.r2 = Stale.inVirtualThreadBounded(() -> critical(false));
        }

        @Arbiter
        public void close() {
            s.close();
        }
    }
}
