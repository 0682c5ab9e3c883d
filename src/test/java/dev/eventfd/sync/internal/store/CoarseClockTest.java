package dev.eventfd.sync.internal.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CoarseClockTest {

    /** A stamp is never ahead of the clock, and behind it by a tick or so (a generous bound: a loaded CI machine). */
    @Test
    void stampsFollowTheClockWithinATick() {
        for (int i = 0; i < 2_000; i++) {
            long before = System.currentTimeMillis();
            long stamp = CoarseClock.millis();
            long after = System.currentTimeMillis();
            assertTrue(stamp <= after, stamp + " is ahead of the clock (" + after + ")");
            assertTrue(stamp >= before - 1_000, stamp + " lags the clock (" + before + ") by more than a second");
            if (i % 100 == 0) LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CoarseClock.TICK_MILLIS / 2));
        }
    }

    /**
     * Once nobody stamps, the ticker stops; the first stamp after that reads the clock itself, never
     * the time the ticker left behind.
     */
    @Test
    void theFirstStampAfterAnIdleSpellIsFresh() {
        CoarseClock.millis();
        CoarseClock.millis();                               // two stamps in a row: the ticker runs
        assertTrue(CoarseClock.running());
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (CoarseClock.running()) {                     // a tick that no stamp needed stops it
            assertTrue(System.nanoTime() < deadline, "the ticker never stopped");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CoarseClock.TICK_MILLIS));
        }
        // let the clock move past the last tick, and past the start threshold since the last stamp
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2 * CoarseClock.START_MILLIS));
        long before = System.currentTimeMillis();
        assertTrue(CoarseClock.millis() >= before, "a stopped ticker's time was used");
        assertFalse(CoarseClock.running(), "one stamp after an idle spell starts no ticker");
    }

    /**
     * Virtual threads that keep every carrier busy do not freeze the time: the ticker is a
     * platform thread (a virtual ticker never ran again, and stamps kept its last value).
     */
    @Test
    void stampsAdvanceWhileVirtualThreadsHoldEveryCarrier() throws InterruptedException {
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.CountDownLatch spinning = new java.util.concurrent.CountDownLatch(CARRIERS);
        List<Thread> spinners = new ArrayList<>();
        try {
            CoarseClock.millis();
            CoarseClock.millis();                           // the ticker runs
            for (int i = 0; i < CARRIERS; i++) {
                spinners.add(Thread.ofVirtual().start(() -> {
                    spinning.countDown();
                    while (!stop.get()) Thread.onSpinWait();   // never yields its carrier
                }));
            }
            assertTrue(spinning.await(10, TimeUnit.SECONDS), "the spinners never ran");
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
            while (System.nanoTime() < deadline) {
                CoarseClock.millis();                       // keeps the ticker busy
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
            }
            long before = System.currentTimeMillis();
            long stamp = CoarseClock.millis();
            assertTrue(stamp >= before - 500, "the time froze while the carriers were busy: " + (before - stamp) + " ms behind");
        } finally {
            stop.set(true);
            for (Thread t : spinners) t.join();
        }
    }

    /** A ticker that cannot start leaves stamps reading the clock; a stamp never throws. */
    @Test
    void aTickerThatCannotStartLeavesStampsReadingTheClock() {
        java.util.concurrent.ThreadFactory before = CoarseClock.tickers;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (CoarseClock.running()) {
                assertTrue(System.nanoTime() < deadline, "the ticker never stopped");
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CoarseClock.TICK_MILLIS));
            }
            CoarseClock.tickers = r -> { throw new OutOfMemoryError("unable to create native thread"); };
            for (int i = 0; i < 3; i++) {
                long t0 = System.currentTimeMillis();
                long stamp = CoarseClock.millis();          // the second and third try to start it
                assertTrue(stamp >= t0 && stamp <= System.currentTimeMillis(), "not the clock: " + stamp);
            }
            assertFalse(CoarseClock.running(), "no ticker, and stamps go on reading the clock");
        } finally {
            CoarseClock.tickers = before;
        }
    }

    private static final int CARRIERS = Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
            Runtime.getRuntime().availableProcessors());
}
