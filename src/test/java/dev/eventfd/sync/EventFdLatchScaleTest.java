package dev.eventfd.sync;

import dev.eventfd.sync.internal.Poller;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** 10,000 virtual threads parked in {@link EventFdLatch#await()} are all released by one countDown(). */
class EventFdLatchScaleTest {

    private static final int WAITERS = 10_000;
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    @Timeout(value = 150, unit = TimeUnit.SECONDS)
    void oneCountDownFromAPlatformThreadReleasesTenThousandVirtualWaiters() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(1)) {
            int baseline = Poller.shared().queuedWaiters();
            CountDownLatch returned = new CountDownLatch(WAITERS);
            Map<String, Integer> failures = new ConcurrentHashMap<>();
            List<Thread> threads = new ArrayList<>(WAITERS);
            for (int i = 0; i < WAITERS; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        latch.await();
                        returned.countDown();
                    } catch (Throwable t) {
                        failures.merge(t.toString(), 1, Integer::sum);
                    }
                }));
            }
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (Poller.shared().queuedWaiters() - baseline < WAITERS) {
                if (System.nanoTime() - deadline > 0) {
                    throw new AssertionError("only " + (Poller.shared().queuedWaiters() - baseline)
                            + " waiters parked; failures " + failures);
                }
                LockSupport.parkNanos(1_000_000);
            }
            assertEquals(WAITERS, returned.getCount(), "a waiter returned before the count-down");
            assertEquals(1, latch.getCount());

            Thread counter = Thread.ofPlatform().name("count-down").start(latch::countDown);
            assertTrue(counter.join(PATIENCE));
            assertTrue(returned.await(PATIENCE.toSeconds(), TimeUnit.SECONDS),
                    returned.getCount() + " waiters still waiting; failures " + failures);
            for (Thread t : threads) assertTrue(t.join(PATIENCE));
            assertTrue(failures.isEmpty(), failures::toString);
            assertEquals(0, latch.getCount());
        }
    }
}
