package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdSemaphore;
import dev.eventfd.sync.internal.Poller;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Child JVM for NonPinningTest, run with one carrier thread ({@code jdk.virtualThreadScheduler.parallelism=1}
 * and {@code maxPoolSize=1}): {@code waiters} virtual threads block in {@link EventFdSemaphore#acquire()}
 * on a semaphore with no permits while a ticker virtual thread (which sleeps 1 ms between ticks) must
 * keep advancing on the only carrier; then one {@code release(waiters)} from a platform thread completes
 * every acquire. Prints {@code NON-PINNING OK semaphore ...} and exits 0, or prints
 * {@code NON-PINNING FAIL ...} and exits 1.
 */
public final class SemaphoreNonPinningChild {

    private static final long DEADLINE_SECONDS = 60;

    public static void main(String[] args) {
        try {
            run(args.length > 0 ? Integer.parseInt(args[0]) : 10_000);
        } catch (Throwable t) {
            System.out.println("NON-PINNING FAIL " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run(int waiters) throws Exception {
        check("parallelism=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.parallelism")));
        check("maxPoolSize=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.maxPoolSize")));
        try (EventFdSemaphore semaphore = new EventFdSemaphore(0)) {
            AtomicLong ticks = new AtomicLong();
            Thread ticker = Thread.ofVirtual().name("ticker").start(() -> {
                try {
                    while (true) {
                        ticks.incrementAndGet();
                        Thread.sleep(1);
                    }
                } catch (InterruptedException stop) {
                    // done
                }
            });
            waitUntil("the ticker runs", () -> ticks.get() >= 10);

            CountDownLatch acquired = new CountDownLatch(waiters);
            Map<String, Long> failures = new ConcurrentHashMap<>();
            List<Thread> threads = new ArrayList<>(waiters);
            for (int i = 0; i < waiters; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        semaphore.acquire();
                        acquired.countDown();
                    } catch (Throwable t) {
                        failures.merge(t.toString(), 1L, Long::sum);
                    }
                }));
            }
            waitUntil("all " + waiters + " acquirers are queued (failures " + failures + ")",
                    () -> semaphore.getQueueLength() == waiters);
            check("nobody acquired without a permit", acquired.getCount() == waiters);

            // every acquirer is blocked now: the only carrier must still run the ticker
            long before = ticks.get();
            waitUntil("the ticker advances while all acquirers are blocked", () -> ticks.get() >= before + 100);
            long advanced = ticks.get() - before;
            check("still " + waiters + " queued while the ticker ran (" + semaphore.getQueueLength() + ")",
                    semaphore.getQueueLength() == waiters);
            check("no permits (" + semaphore.availablePermits() + ")", semaphore.availablePermits() == 0);
            long carriers = carrierThreads();
            check("at most one carrier thread (found " + carriers + ")", carriers <= 1);

            Thread releaser = Thread.ofPlatform().name("releaser").start(() -> semaphore.release(waiters));
            check("release returned", releaser.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            check("all " + waiters + " acquired (" + acquired.getCount() + " left, failures " + failures + ")",
                    acquired.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
            for (Thread t : threads) check("acquirer ended", t.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            check("no failures " + failures, failures.isEmpty());
            check("permits end at 0 (" + semaphore.availablePermits() + ")", semaphore.availablePermits() == 0);
            check("no queued threads (" + semaphore.getQueueLength() + ")",
                    !semaphore.hasQueuedThreads() && semaphore.getQueueLength() == 0);
            check("no poller registration left (" + Poller.shared().registeredDescriptors() + ")",
                    Poller.shared().registeredDescriptors() == 0);
            ticker.interrupt();
            check("ticker ended", ticker.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            System.out.println("NON-PINNING OK semaphore waiters=" + waiters + " ticksWhileBlocked=" + advanced
                    + " carrierThreads=" + carriers);
            System.out.flush();
        }
    }

    static long carrierThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ForkJoinPool-") && t.getName().contains("worker")).count();
    }

    static void check(String what, boolean ok) {
        if (!ok) throw new AssertionError(what);
    }

    static void waitUntil(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            LockSupport.parkNanos(1_000_000);
        }
    }
}
