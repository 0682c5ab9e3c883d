package dev.eventfd.sync.internal.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CoarseClockTest {

    private static final int CARRIERS = Integer.getInteger("jdk.virtualThreadScheduler.parallelism",
            Runtime.getRuntime().availableProcessors());

    /** A stamp is never ahead of the clock, and behind it by a tick or so (a generous bound: a loaded CI machine). */
    @Test
    void stampsFollowTheClockWithinATick() {
        CoarseClock.start();
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
     * Once nobody stamps, the ticker rests; a stamp while it rests reads the clock itself, never the
     * time the last tick left behind.
     */
    @Test
    void aStampWhileTheTickerRestsIsFresh() {
        awaitTicking();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (CoarseClock.ticking()) {                     // ticks that no stamp used make it rest
            assertTrue(System.nanoTime() < deadline, "the ticker never rested");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CoarseClock.TICK_MILLIS));
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));   // let the clock move past the last tick
        long before = System.currentTimeMillis();
        assertTrue(CoarseClock.millis() >= before, "a resting ticker's time was used");
    }

    /**
     * Virtual threads that keep every carrier busy do not freeze the time: the ticker is a
     * platform thread (a virtual ticker never ran again, and stamps kept its last value).
     */
    @Test
    void stampsAdvanceWhileVirtualThreadsHoldEveryCarrier() throws InterruptedException {
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch spinning = new CountDownLatch(CARRIERS);
        List<Thread> spinners = new ArrayList<>();
        try {
            awaitTicking();
            for (int i = 0; i < CARRIERS; i++) {
                spinners.add(Thread.ofVirtual().start(() -> {
                    spinning.countDown();
                    while (!stop.get()) Thread.onSpinWait();   // never yields its carrier
                }));
            }
            assertTrue(spinning.await(10, TimeUnit.SECONDS), "the spinners never ran");
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
            while (System.nanoTime() < deadline) {
                CoarseClock.millis();                       // keeps the ticker ticking
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

    /** Starts the ticker and stamps until it ticks (it wakes from its rest within a second). */
    private static void awaitTicking() {
        CoarseClock.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!CoarseClock.ticking()) {
            assertTrue(System.nanoTime() < deadline, "the ticker never began to tick");
            CoarseClock.millis();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CoarseClock.TICK_MILLIS));
        }
    }
}
