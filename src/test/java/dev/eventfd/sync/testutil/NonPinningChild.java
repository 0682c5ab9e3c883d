package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdLatch;
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
 * and {@code maxPoolSize=1}): {@code waiters} virtual threads block, in {@link EventFdSemaphore#acquire()}
 * on a semaphore with no permits ({@code semaphore}) or in {@link EventFdLatch#await()} ({@code latch}),
 * while a ticker virtual thread (which sleeps 1 ms between ticks) must keep advancing on the only
 * carrier; then one {@code release(waiters)} or {@code countDown()} from a platform thread lets every
 * waiter through. Prints {@code NON-PINNING OK <kind> ...} and exits 0, or {@code NON-PINNING FAIL ...}
 * and exits 1. Arguments: {@code semaphore|latch [waiters]}.
 */
public final class NonPinningChild {

    private static final long DEADLINE_SECONDS = 60;

    /** One synchronizer under test: how a thread waits on it, how many wait, how all are let go. */
    private interface Subject extends AutoCloseable {
        void await() throws InterruptedException;

        int waiting();

        void releaseAll(int waiters);

        /** Checks the state after everyone went through. */
        void checkDone();

        @Override
        void close();
    }

    private static Subject semaphore() {
        EventFdSemaphore s = new EventFdSemaphore(0);
        return new Subject() {
            public void await() throws InterruptedException { s.acquire(); }
            public int waiting() { return s.getQueueLength(); }
            public void releaseAll(int waiters) { s.release(waiters); }
            public void checkDone() {
                check("permits end at 0 (" + s.availablePermits() + ")", s.availablePermits() == 0);
                check("no queued threads (" + s.getQueueLength() + ")", !s.hasQueuedThreads());
            }
            public void close() { s.close(); }
        };
    }

    private static Subject latch() {
        EventFdLatch l = new EventFdLatch(1);
        return new Subject() {
            public void await() throws InterruptedException { l.await(); }
            // this JVM has no other poller waiters: every one is a thread parked in await()
            public int waiting() { return Poller.shared().queuedWaiters(); }
            public void releaseAll(int waiters) { l.countDown(); }
            public void checkDone() { check("count 0", l.getCount() == 0); }
            public void close() { l.close(); }
        };
    }

    public static void main(String[] args) {
        try {
            String kind = args[0];
            int waiters = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
            try (Subject subject = switch (kind) {
                case "semaphore" -> semaphore();
                case "latch" -> latch();
                default -> throw new IllegalArgumentException("semaphore or latch: " + kind);
            }) {
                run(kind, subject, waiters);
            }
        } catch (Throwable t) {
            System.out.println("NON-PINNING FAIL " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run(String kind, Subject subject, int waiters) throws Exception {
        check("parallelism=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.parallelism")));
        check("maxPoolSize=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.maxPoolSize")));
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

        CountDownLatch through = new CountDownLatch(waiters);
        Map<String, Long> failures = new ConcurrentHashMap<>();
        List<Thread> threads = new ArrayList<>(waiters);
        for (int i = 0; i < waiters; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    subject.await();
                    through.countDown();
                } catch (Throwable t) {
                    failures.merge(t.toString(), 1L, Long::sum);
                }
            }));
        }
        waitUntil("all " + waiters + " are waiting (failures " + failures + ")", () -> subject.waiting() == waiters);
        check("nobody went through early", through.getCount() == waiters);

        // every waiter is blocked now: the only carrier must still run the ticker
        long before = ticks.get();
        waitUntil("the ticker advances while all are blocked", () -> ticks.get() >= before + 100);
        long advanced = ticks.get() - before;
        check("still " + waiters + " waiting while the ticker ran (" + subject.waiting() + ")",
                subject.waiting() == waiters);
        long carriers = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ForkJoinPool-") && t.getName().contains("worker")).count();
        check("at most one carrier thread (found " + carriers + ")", carriers <= 1);

        Thread releaser = Thread.ofPlatform().name("releaser").start(() -> subject.releaseAll(waiters));
        check("the release returned", releaser.join(Duration.ofSeconds(DEADLINE_SECONDS)));
        check("all " + waiters + " went through (" + through.getCount() + " left, failures " + failures + ")",
                through.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
        for (Thread t : threads) check("waiter ended", t.join(Duration.ofSeconds(DEADLINE_SECONDS)));
        check("no failures " + failures, failures.isEmpty());
        subject.checkDone();
        check("nothing parked in the poller (" + Poller.shared().queuedWaiters() + ")",
                Poller.shared().queuedWaiters() == 0);
        check("no poller registration left (" + Poller.shared().registeredDescriptors() + ")",
                Poller.shared().registeredDescriptors() == 0);
        ticker.interrupt();
        check("ticker ended", ticker.join(Duration.ofSeconds(DEADLINE_SECONDS)));
        System.out.println("NON-PINNING OK " + kind + " waiters=" + waiters + " ticksWhileBlocked=" + advanced
                + " carrierThreads=" + carriers);
        System.out.flush();
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
