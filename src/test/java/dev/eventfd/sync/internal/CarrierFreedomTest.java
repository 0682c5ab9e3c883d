package dev.eventfd.sync.internal;

import dev.eventfd.sync.testutil.CarrierFreedomChild;
import dev.eventfd.sync.testutil.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Proves that a thread blocked in {@link Poller#await} holds no carrier: in a JVM with exactly one
 * carrier thread, 10,000 virtual threads wait on empty eventfds while a ticker virtual thread keeps
 * running, and all of them wake when written to.
 */
class CarrierFreedomTest {

    private static final List<String> ONE_CARRIER = List.of(
            "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
            "-Djdk.virtualThreadScheduler.parallelism=1",
            "-Djdk.virtualThreadScheduler.maxPoolSize=1",
            "-Xss1m");

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void tenThousandBlockedVirtualThreadsLeaveTheOnlyCarrierFree() throws Exception {
        ForkedJvm.Result r = ForkedJvm.run(ForkedJvm.command(ONE_CARRIER, CarrierFreedomChild.class, "100", "100"),
                Duration.ofSeconds(150));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("CARRIER-FREEDOM OK waiters=10000 descriptors=100 "), r::toString);
    }

    /** The harness can see a held carrier: a blocking native read on the only carrier stops the ticker. */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void negativeControlABlockingNativeReadHoldsTheOnlyCarrier() throws Exception {
        ForkedJvm.Result r = ForkedJvm.run(ForkedJvm.command(ONE_CARRIER, CarrierFreedomChild.class, "control"),
                Duration.ofSeconds(90));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("CARRIER-FREEDOM CONTROL ticksWhileCarrierHeld=0"), r::toString);
    }
}
