package dev.eventfd.sync.demo;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdSemaphore;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Shows 10,000 virtual threads waiting on an eventfd semaphore while the only carrier thread stays free
 * to run a ticker, then the same run with {@code java.util.concurrent.Semaphore} beside it.
 *
 * <p>Run with {@code -Djdk.virtualThreadScheduler.parallelism=1 -Djdk.virtualThreadScheduler.maxPoolSize=1}
 * (as {@code bin/demo} does) so that there really is one carrier.
 */
public final class Demo {
    private static final int THREADS = 10_000;
    private static final int PERMITS = 4;

    public static void main(String[] args) throws Exception {
        String parallelism = System.getProperty("jdk.virtualThreadScheduler.parallelism", "(cores)");
        say("eventfd-sync demo: %,d virtual threads, %d permits, virtual-thread carriers: %s",
                THREADS, PERMITS, parallelism);
        say("");
        say("1. Every virtual thread blocks in acquire() on an EventFdSemaphore with 0 permits.");
        say("   A ticker virtual thread counts while they wait: it can only run if no carrier is held.");
        try (EventFdSemaphore semaphore = new EventFdSemaphore(0);
             EventFdLatch done = new EventFdLatch(THREADS)) {
            AtomicLong ticks = new AtomicLong();
            Thread ticker = Thread.ofVirtual().name("ticker").start(() -> {
                try {
                    while (true) {
                        ticks.incrementAndGet();
                        Thread.sleep(1);        // a virtual thread's sleep parks: it needs a free carrier to tick
                    }
                } catch (InterruptedException stop) {
                    // done
                }
            });
            AtomicInteger holders = new AtomicInteger();
            AtomicInteger mostHolders = new AtomicInteger();
            long start = System.nanoTime();
            List<Thread> threads = new ArrayList<>(THREADS);
            for (int i = 0; i < THREADS; i++) {
                threads.add(Thread.ofVirtual().start(() -> {
                    semaphore.acquireUninterruptibly();
                    try {
                        mostHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                        Thread.yield();
                        holders.decrementAndGet();
                    } finally {
                        semaphore.release();
                    }
                    done.countDown();
                }));
            }
            while (semaphore.getQueueLength() < THREADS) {
                say("   ... %,6d of %,d waiting, ticker at %,d", semaphore.getQueueLength(), THREADS, ticks.get());
                Thread.sleep(200);  // pacing the progress display only
            }
            long before = ticks.get();
            Thread.sleep(200);      // give the ticker time to show it still runs
            long after = ticks.get();
            say("   all %,d are parked (queue length %,d); the ticker advanced %,d ticks meanwhile: %s",
                    THREADS, semaphore.getQueueLength(), after - before,
                    after > before ? "the carrier is free" : "THE CARRIER IS STUCK");
            say("");
            say("2. Four permits arrive through the kernel counter (as any process could write them).");
            semaphore.release(PERMITS);
            while (!done.await(500, TimeUnit.MILLISECONDS)) {
                say("   ... %,d threads still to finish", done.getCount());
            }
            for (Thread t : threads) t.join();
            ticker.interrupt();
            ticker.join();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            say("   all %,d threads went through; most holders at once: %d (limit %d); permits at the end: %d; %,d ms",
                    THREADS, mostHolders.get(), PERMITS, semaphore.availablePermits(), millis);
        }
        say("");
        say("3. The same %,d threads through java.util.concurrent.Semaphore(%d), for comparison:", THREADS, PERMITS);
        Semaphore juc = new Semaphore(PERMITS);
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger mostHolders = new AtomicInteger();
        long start = System.nanoTime();
        List<Thread> threads = new ArrayList<>(THREADS);
        for (int i = 0; i < THREADS; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                juc.acquireUninterruptibly();
                try {
                    mostHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                    Thread.yield();
                    holders.decrementAndGet();
                } finally {
                    juc.release();
                }
            }));
        }
        for (Thread t : threads) t.join();
        say("   most holders at once: %d; permits at the end: %d; %,d ms",
                mostHolders.get(), juc.availablePermits(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    private static void say(String format, Object... args) {
        System.out.println(String.format(format, args));
    }
}
