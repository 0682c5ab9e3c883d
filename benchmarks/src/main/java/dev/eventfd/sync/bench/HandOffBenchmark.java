package dev.eventfd.sync.bench;

import dev.eventfd.sync.ClosedException;
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
import org.openjdk.jmh.infra.BenchmarkParams;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Row 2: hand-off round trip inside one JVM. Two semaphores of 0 permits, {@code ping} and
 * {@code pong}; the benchmark thread releases ping and acquires pong, a helper virtual thread started
 * in {@code @Setup} acquires ping and releases pong. One op = one round trip (two wake-ups).
 * <ul>
 * <li>{@link #virtualVirtual}: the benchmark thread is itself virtual (JMH's {@code -Djmh.executor=VIRTUAL});
 * <li>{@link #platformVirtual}: the benchmark thread is JMH's usual platform thread.
 * </ul>
 * Target (issue): eventfd virtual&harr;virtual &le; 5&times; juc.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class HandOffBenchmark {

    @Param({"juc", "eventfd"})
    public String impl;

    private Semaphore ping;
    private Semaphore pong;
    private Thread helper;
    private volatile boolean stop;

    @Setup(Level.Trial)
    public void setup(BenchmarkParams params) throws InterruptedException {
        boolean wantVirtual = params.getBenchmark().endsWith(".virtualVirtual");
        if (Thread.currentThread().isVirtual() != wantVirtual) {
            throw new IllegalStateException(params.getBenchmark() + " runs on a "
                    + (Thread.currentThread().isVirtual() ? "virtual" : "platform")
                    + " thread: check -Djmh.executor in its @Fork");
        }
        ping = Impl.semaphore(impl, 0);
        pong = Impl.semaphore(impl, 0);
        helper = Thread.ofVirtual().name("hand-off-helper").start(this::helperLoop);
        ping.release();
        if (!pong.tryAcquire(10, TimeUnit.SECONDS)) throw new IllegalStateException("helper did not answer");
    }

    private void helperLoop() {
        try {
            for (;;) {
                ping.acquire();
                if (stop) return;
                pong.release();
            }
        } catch (InterruptedException | ClosedException e) {
            // torn down
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop = true;
        try {
            if (ping != null) ping.release();    // the helper wakes, sees stop and returns
            Impl.joinAll(new Thread[] {helper}, 5_000);
        } finally {
            Impl.close(ping);                      // also wakes a helper still waiting (ClosedException)
            Impl.close(pong);
        }
    }

    /** Round trip with the benchmark thread virtual. */
    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-Djmh.executor=VIRTUAL"})
    public void virtualVirtual() throws InterruptedException {
        ping.release();
        pong.acquire();
    }

    /** Round trip with the benchmark thread a platform thread. */
    @Benchmark
    public void platformVirtual() throws InterruptedException {
        ping.release();
        pong.acquire();
    }
}
