package dev.eventfd.sync.bench;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The life of a semaphore: created, one permit taken and given back, closed. What a program that
 * makes a semaphore per task (or a jcstress state) pays before the first acquire and after the last;
 * EventFdSemaphore pays for its descriptors here (two eventfds, and /proc reads only when asked for a
 * count). {@code juc} is java.util.concurrent.Semaphore, which has nothing to close.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class LifecycleBenchmark {

    @Benchmark
    public boolean juc() {
        java.util.concurrent.Semaphore s = new java.util.concurrent.Semaphore(1);
        boolean taken = s.tryAcquire();
        s.release();
        return taken;
    }

    @Benchmark
    public boolean eventfd() {
        try (EventFdSemaphore s = new EventFdSemaphore(1)) {
            boolean taken = s.tryAcquire();
            s.release();
            return taken;
        }
    }
}
