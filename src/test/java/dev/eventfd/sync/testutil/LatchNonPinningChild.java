package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.internal.Poller;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static dev.eventfd.sync.testutil.SemaphoreNonPinningChild.carrierThreads;
import static dev.eventfd.sync.testutil.SemaphoreNonPinningChild.check;
import static dev.eventfd.sync.testutil.SemaphoreNonPinningChild.waitUntil;

/**
 * Child JVM for NonPinningTest, run with one carrier thread: {@code waiters} virtual threads block in
 * {@link EventFdLatch#await()} while a ticker virtual thread (which sleeps 1 ms between ticks) must keep
 * advancing on the only carrier; then one {@code countDown()} from a platform thread releases every
 * waiter. Prints {@code NON-PINNING OK latch ...} and exits 0, or prints {@code NON-PINNING FAIL ...}
 * and exits 1.
 */
public final class LatchNonPinningChild {

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
        try (EventFdLatch latch = new EventFdLatch(1)) {
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

            CountDownLatch returned = new CountDownLatch(waiters);
            Map<String, Long> failures = new ConcurrentHashMap<>();
            List<Thread> threads = new ArrayList<>(waiters);
            for (int i = 0; i < waiters; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        latch.await();
                        returned.countDown();
                    } catch (Throwable t) {
                        failures.merge(t.toString(), 1L, Long::sum);
                    }
                }));
            }
            // this JVM has no other poller waiters: every one is a thread parked in await()
            waitUntil("all " + waiters + " waiters are parked in the poller (failures " + failures + ")",
                    () -> Poller.shared().queuedWaiters() == waiters);
            check("nobody passed the shut latch", returned.getCount() == waiters);

            long before = ticks.get();
            waitUntil("the ticker advances while all waiters are blocked", () -> ticks.get() >= before + 100);
            long advanced = ticks.get() - before;
            check("still " + waiters + " parked while the ticker ran (" + Poller.shared().queuedWaiters() + ")",
                    Poller.shared().queuedWaiters() == waiters);
            check("count still 1", latch.getCount() == 1);
            long carriers = carrierThreads();
            check("at most one carrier thread (found " + carriers + ")", carriers <= 1);

            Thread counter = Thread.ofPlatform().name("count-down").start(latch::countDown);
            check("countDown returned", counter.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            check("all " + waiters + " released (" + returned.getCount() + " left, failures " + failures + ")",
                    returned.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
            for (Thread t : threads) check("waiter ended", t.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            check("no failures " + failures, failures.isEmpty());
            check("count 0", latch.getCount() == 0);
            check("nothing parked in the poller (" + Poller.shared().queuedWaiters() + ")",
                    Poller.shared().queuedWaiters() == 0);
            check("no poller registration left (" + Poller.shared().registeredDescriptors() + ")",
                    Poller.shared().registeredDescriptors() == 0);
            ticker.interrupt();
            check("ticker ended", ticker.join(Duration.ofSeconds(DEADLINE_SECONDS)));
            System.out.println("NON-PINNING OK latch waiters=" + waiters + " ticksWhileBlocked=" + advanced
                    + " carrierThreads=" + carriers);
            System.out.flush();
        }
    }
}
