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
import org.openjdk.jmh.infra.Blackhole;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Row 4: contended throughput. One op = start {@link #threads} virtual threads that each run
 * {@link #cycles} times {@code acquire(); Blackhole.consumeCPU(work); release()} on a semaphore of
 * {@link #permits} permits, and join them all: {@code threads * cycles} permit cycles. The fork runs with
 * {@code -Djdk.virtualThreadScheduler.parallelism=8}, as the issue asks, on a 2-core machine: eight
 * carriers share two CPUs. Throughput ratio = time(juc) / time(eventfd).
 * Target (issue): eventfd throughput &ge; 0.9&times; juc.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g",
        "-Djdk.virtualThreadScheduler.parallelism=8"})
public class ContendedThroughputBenchmark {

    @Param({"juc", "eventfd"})
    public String impl;

    @Param({"10000"})
    public int threads;

    @Param({"4"})
    public int permits;

    @Param({"10"})
    public int cycles;

    /** Blackhole.consumeCPU tokens spent while holding a permit. */
    @Param({"100"})
    public int work;

    private Semaphore semaphore;

    @Setup(Level.Trial)
    public void setup() {
        semaphore = Impl.semaphore(impl, permits);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        Impl.close(semaphore);
    }

    @Benchmark
    public void cycleAll() throws InterruptedException {
        Semaphore s = semaphore;
        int n = cycles, tokens = work;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable task = () -> {
            try {
                for (int i = 0; i < n; i++) {
                    s.acquire();
                    try {
                        Blackhole.consumeCPU(tokens);
                    } finally {
                        s.release();
                    }
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
        Thread[] ts = new Thread[threads];
        for (int i = 0; i < ts.length; i++) ts[i] = Thread.ofVirtual().start(task);
        Impl.joinAll(ts, 120_000);
        if (failure.get() != null) throw new IllegalStateException("a worker failed", failure.get());
    }

    @TearDown(Level.Iteration)
    public void checkPermits() {
        int available = semaphore.availablePermits();
        if (available != permits) {
            throw new IllegalStateException("permits lost or made: " + available + " available, expected " + permits);
        }
    }
}
