package dev.eventfd.sync;

import dev.eventfd.sync.testutil.ForkedJvm;
import dev.eventfd.sync.testutil.NonPinningChild;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves that threads blocked in {@link EventFdSemaphore#acquire()} and {@link EventFdLatch#await()}
 * hold no carrier: in a forked JVM with exactly one carrier thread, 10,000 virtual threads block while a
 * ticker virtual thread keeps advancing, and a single release / count-down from a platform thread then
 * completes all of them. (A waiter blocked in a native call would hold the only carrier and stop the
 * ticker; CarrierFreedomTest's negative control shows the harness can see that.)
 */
class NonPinningTest {

    private static final List<String> ONE_CARRIER = List.of(
            "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
            "-Djdk.virtualThreadScheduler.parallelism=1",
            "-Djdk.virtualThreadScheduler.maxPoolSize=1",
            "-Xss1m");

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void tenThousandVirtualThreadsBlockedInSemaphoreAcquireLeaveTheOnlyCarrierFree() throws Exception {
        ForkedJvm.Result r = ForkedJvm.run(
                ForkedJvm.command(ONE_CARRIER, NonPinningChild.class, "semaphore", "10000"), Duration.ofSeconds(150));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("NON-PINNING OK semaphore waiters=10000 "), r::toString);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void tenThousandVirtualThreadsBlockedInLatchAwaitLeaveTheOnlyCarrierFree() throws Exception {
        ForkedJvm.Result r = ForkedJvm.run(
                ForkedJvm.command(ONE_CARRIER, NonPinningChild.class, "latch", "10000"), Duration.ofSeconds(150));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("NON-PINNING OK latch waiters=10000 "), r::toString);
    }
}
