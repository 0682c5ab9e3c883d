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
import java.util.concurrent.TimeUnit;

/**
 * Row 6: {@link #waiters} virtual threads in {@code await()} on a latch of count 1 (set up, untimed,
 * before each iteration: every waiter parked); the measured op is one {@code countDown()} until every
 * waiter has returned from {@code await()}. Single shot: one op per iteration.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5)
@Measurement(iterations = 15)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class LatchReleaseBenchmark {

    @Param({"juc", "eventfd"})
    public String impl;

    @Param({"10000"})
    public int waiters;

    private CountDownLatch latch;
    private CountDownLatch done;
    private Thread[] threads;

    @Setup(Level.Iteration)
    public void block() throws InterruptedException {
        latch = Impl.latch(impl, 1);
        done = new CountDownLatch(waiters);
        threads = new Thread[waiters];
        CountDownLatch l = latch, d = done;
        Runnable waiter = () -> {
            try {
                l.await();
                d.countDown();
            } catch (InterruptedException e) {
                // torn down after a failure
            }
        };
        for (int i = 0; i < waiters; i++) threads[i] = Thread.ofVirtual().start(waiter);
        awaitAllParked(threads, 120);
    }

    /** Waits until every thread is parked (WAITING), twice in a row 10 ms apart; fails after {@code seconds}. */
    static void awaitAllParked(Thread[] threads, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        int confirmations = 0;
        while (confirmations < 2) {
            Thread.sleep(10);
            int parked = 0;
            for (Thread t : threads) if (t.getState() == Thread.State.WAITING) parked++;
            confirmations = parked == threads.length ? confirmations + 1 : 0;
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("only " + parked + " of " + threads.length + " waiters parked after " + seconds + " s");
            }
        }
    }

    @Benchmark
    public void countDownReleasesAll() throws InterruptedException {
        latch.countDown();
        if (!done.await(120, TimeUnit.SECONDS)) throw new IllegalStateException(done.getCount() + " waiters never woke");
    }

    @TearDown(Level.Iteration)
    public void tearDown() throws InterruptedException {
        try {
            Impl.joinAll(threads, 60_000);
        } finally {
            Impl.close(latch);
            threads = null;
            latch = null;
        }
    }
}
