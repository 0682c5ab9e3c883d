package dev.eventfd.sync.internal.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
}
