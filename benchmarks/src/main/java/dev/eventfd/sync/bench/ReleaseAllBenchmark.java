package dev.eventfd.sync.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Row 5, time: {@link #waiters} virtual threads blocked in {@code acquire()} on one semaphore of 0
 * permits (set up, untimed, before each iteration); the measured op is {@code release(waiters)} until
 * every waiter has returned from {@code acquire()}. Single shot: one op per iteration.
 * {@code -p waiters=1000000} is the separate large run (not a default value). The heap each blocked
 * waiter costs is measured by {@link HeapPerWaiter}, a separate program, so that no GC runs here.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms3g", "-Xmx3g"})
public class ReleaseAllBenchmark {

    @Param({"juc", "eventfd"})
    public String impl;

    @Param({"100000"})
    public int waiters;

    private Semaphore semaphore;
    private CountDownLatch done;
    private Thread[] threads;

    @Setup(Level.Iteration)
    public void block() throws InterruptedException {
        semaphore = Impl.semaphore(impl, 0);
        done = new CountDownLatch(waiters);
        threads = new Thread[waiters];
        Semaphore s = semaphore;
        CountDownLatch d = done;
        Runnable waiter = () -> {
            try {
                s.acquire();
                d.countDown();
            } catch (InterruptedException e) {
                // torn down after a failure
            }
        };
        for (int i = 0; i < waiters; i++) threads[i] = Thread.ofVirtual().start(waiter);
        awaitQueued(semaphore, waiters, 120);
    }

    /** Waits until {@code n} threads are queued on {@code s}; fails after {@code seconds}. */
    static void awaitQueued(Semaphore s, int n, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (s.getQueueLength() < n) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + s.getQueueLength() + " of " + n + " waiters queued after " + seconds + " s");
            }
            Thread.sleep(5);
        }
    }

    @Benchmark
    public void releaseAll() throws InterruptedException {
        semaphore.release(waiters);
        if (!done.await(120, TimeUnit.SECONDS)) throw new IllegalStateException(done.getCount() + " waiters never woke");
    }

    @TearDown(Level.Iteration)
    public void tearDown() throws InterruptedException {
        try {
            Impl.joinAll(threads, 60_000);
            if (semaphore.availablePermits() != 0) {
                throw new IllegalStateException(semaphore.availablePermits() + " permits left over");
            }
        } finally {
            Impl.close(semaphore);
            threads = null;
            semaphore = null;
        }
    }
}
