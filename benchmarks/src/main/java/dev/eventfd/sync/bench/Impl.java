package dev.eventfd.sync.bench;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdSemaphore;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

/** The two implementations compared in-JVM: {@code juc} (java.util.concurrent) and {@code eventfd} (this library). */
final class Impl {
    private Impl() {}

    static Semaphore semaphore(String impl, int permits) {
        return switch (impl) {
            case "juc" -> new Semaphore(permits);
            case "eventfd" -> new EventFdSemaphore(permits);
            default -> throw new IllegalArgumentException("impl must be juc or eventfd: " + impl);
        };
    }

    static CountDownLatch latch(String impl, int count) {
        return switch (impl) {
            case "juc" -> new CountDownLatch(count);
            case "eventfd" -> new EventFdLatch(count);
            default -> throw new IllegalArgumentException("impl must be juc or eventfd: " + impl);
        };
    }

    /** Closes what holds descriptors; a j.u.c. object needs nothing. */
    static void close(Object synchronizer) {
        if (synchronizer instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("close failed", e);
            }
        }
    }

    /**
     * Joins {@code threads}, interrupting stragglers after {@code millis}; throws if any is still alive
     * after that, so that a benchmark never leaks a thread silently.
     */
    static void joinAll(Thread[] threads, long millis) throws InterruptedException {
        if (threads == null) return;
        long deadline = System.nanoTime() + millis * 1_000_000L;
        for (Thread t : threads) {
            if (t == null) continue;
            long left = Math.max(1, (deadline - System.nanoTime()) / 1_000_000L);
            t.join(left);
        }
        int alive = 0;
        for (Thread t : threads) {
            if (t != null && t.isAlive()) {
                t.interrupt();
                alive++;
            }
        }
        if (alive == 0) return;
        for (Thread t : threads) if (t != null) t.join(5_000);
        int still = 0;
        for (Thread t : threads) if (t != null && t.isAlive()) still++;
        throw new IllegalStateException(alive + " thread(s) had not finished after " + millis
                + " ms and were interrupted; " + still + " still alive");
    }
}
