package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.III_Result;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * close() racing a barging tryAcquire() loop while a third thread waits in the superclass queue.
 * close() wakes waiters by releasing a pool of {@code Integer.MAX_VALUE} permits into the local count
 * (see EventFdSemaphore's implementation overview): no barger may ever get one of those, and the
 * waiter must end with ClosedException holding nothing.
 *
 * <p>The barger actor starts the waiter (a virtual thread), waits until it is queued, then loops on
 * tryAcquire() until it throws ClosedException; the other actor closes the semaphore once the waiter
 * is queued. A tryAcquire() that starts after close() has returned must throw. Results:
 * <ol>
 * <li>the barger's grants minus the real permits the semaphore had (0 or 1), capped at 1: 1 means
 *     it was granted one or more permits that never existed;
 * <li>how the waiter ended: 0 ClosedException, 1 acquired (permits that never existed), 2 another
 *     exception, -2 it never queued or did not end within the bound;
 * <li>1 if the barger's loop ended with ClosedException, 0 if a tryAcquire() after close() returned
 *     did not throw (or the loop ran out of time).
 * </ol>
 */
@Outcome(id = "0, 0, 1", expect = ACCEPTABLE, desc = "the barger got exactly the real permits (none, or the one); both ended with ClosedException")
@Outcome(id = "-1, 0, 1", expect = ACCEPTABLE, desc = "closed before the barger took the one real permit (OnePermit only)")
@Outcome(expect = FORBIDDEN, desc = "anything else: first 1, a permit granted that never existed (close()'s wake pool); second not 0, the waiter did not end with ClosedException; third 0, a use after close() did not throw")
public class SemaphoreCloseVersusBarging {

    /** The shared body: a waiter for {@code waiterPermits}, a barger, a closer. */
    abstract static class Race {
        final EventFdSemaphore s;
        final int realPermits;
        final int waiterPermits;
        volatile boolean queued;            // the waiter is in the queue (or the barger gave up waiting for it)
        volatile boolean closeReturned;
        volatile int waiterEnd = Stale.HUNG;

        Race(int realPermits, int waiterPermits) {
            this.s = new EventFdSemaphore(realPermits);
            this.realPermits = realPermits;
            this.waiterPermits = waiterPermits;
        }

        void barge(III_Result r) {
            Thread waiter = Thread.ofVirtual().start(() -> {
                try {
                    s.acquire(waiterPermits);
                    waiterEnd = 1;
                } catch (ClosedException expected) {
                    waiterEnd = 0;
                } catch (Throwable wrong) {
                    waiterEnd = 2;
                }
            });
            boolean isQueued = Stale.boundedSpinUntil(s::hasQueuedThreads);
            queued = true;
            int grants = 0;
            int endedClosed = 0;
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Stale.BOUND_MILLIS);
            for (;;) {
                boolean afterClose = closeReturned;
                try {
                    if (s.tryAcquire()) grants++;
                } catch (ClosedException expected) {
                    endedClosed = 1;
                    break;
                }
                if (afterClose || System.nanoTime() - deadline > 0) break;
            }
            boolean ended;
            try {
                ended = waiter.join(Duration.ofMillis(2 * Stale.BOUND_MILLIS));
            } catch (InterruptedException unexpected) {
                Thread.currentThread().interrupt();
                ended = false;
            }
            r.r1 = Math.min(grants - realPermits, 1);   // 1: one or more
            r.r2 = isQueued && ended ? waiterEnd : Stale.HUNG;
            r.r3 = endedClosed;
        }

        void close() {
            Stale.boundedSpinUntil(() -> queued);
            s.close();
            closeReturned = true;
        }
    }

    /** 0 permits; the waiter wants 1: the barger must get nothing. */
    @JCStressTest
    @JCStressMeta(SemaphoreCloseVersusBarging.class)
    @State
    public static class ZeroPermits extends Race {
        public ZeroPermits() {
            super(0, 1);
        }

        @Actor
        public void barger(III_Result r) {
            barge(r);
        }

        @Actor
        public void closer() {
            close();
        }
    }

    /**
     * 1 permit; the waiter wants 2, so it queues with the one permit fed to it in the local count,
     * where the barger may take it (barging is legal): at most 1 grant.
     */
    @JCStressTest
    @JCStressMeta(SemaphoreCloseVersusBarging.class)
    @State
    public static class OnePermit extends Race {
        public OnePermit() {
            super(1, 2);
        }

        @Actor
        public void barger(III_Result r) {
            barge(r);
        }

        @Actor
        public void closer() {
            close();
        }
    }
}
