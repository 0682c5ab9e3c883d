package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;

/**
 * {@code eventfd-sync bench}: a short side-by-side run against {@link Semaphore} and
 * {@link FileChannel#lock()}. Medians of a few rounds of plain timing loops: an impression, not a
 * measurement (the JMH benchmarks in {@code benchmarks/} are the measurement).
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "A short side-by-side run against java.util.concurrent.Semaphore and FileChannel.lock.")
final class BenchCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "5", description = "rounds per measurement; the median is shown (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "10000", description = "virtual threads in the throughput run (default: ${DEFAULT-VALUE})")
    int threads;

    /** A timed body: does its work and returns how many operations it did. */
    private interface Body {
        long run() throws Exception;
    }

    private record Result(String what, String unit, double juc, double ours, double fileLock) {}

    private Progress progress;
    private int step;

    @Override
    public Integer call() throws Exception {
        Main.atLeast(spec, "--rounds", rounds, 1);
        Main.atLeast(spec, "--threads", threads, 1);
        progress = new Progress("measuring", 7L * rounds);
        List<Result> results = new ArrayList<>();
        Path lockFile = Files.createTempFile("eventfd-sync-bench", ".lock");
        try (EventFdSemaphore ours = new EventFdSemaphore(1);
             FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
            Semaphore juc = new Semaphore(1);
            results.add(new Result("uncontended acquire+release", "ns",
                    nanosPerOp(() -> loop(juc, 200_000)),
                    nanosPerOp(() -> loop(ours, 20_000)),
                    nanosPerOp(() -> {
                        for (int i = 0; i < 20_000; i++) {
                            FileLock l = channel.lock();
                            l.release();
                        }
                        return 20_000;
                    })));
        } finally {
            Files.deleteIfExists(lockFile);
        }
        results.add(new Result("hand-off round trip, virtual threads", "µs",
                nanosPerOp(() -> pingPong(new Semaphore(0), new Semaphore(0), 20_000)) / 1000,
                nanosPerOp(() -> {
                    try (EventFdSemaphore a = new EventFdSemaphore(0); EventFdSemaphore b = new EventFdSemaphore(0)) {
                        return pingPong(a, b, 5_000);
                    }
                }) / 1000, Double.NaN));
        results.add(new Result(String.format("%,d virtual threads on 4 permits", threads), "ms",
                nanosPerOp(() -> crowd(new Semaphore(4))) / 1e6,
                nanosPerOp(() -> {
                    try (EventFdSemaphore s = new EventFdSemaphore(4)) {
                        return crowd(s);
                    }
                }) / 1e6, Double.NaN));
        progress.finish();
        print(results);
        return 0;
    }

    private static long loop(Semaphore s, int n) throws InterruptedException {
        for (int i = 0; i < n; i++) {
            s.acquire();
            s.release();
        }
        return n;
    }

    private static long pingPong(Semaphore ping, Semaphore pong, int n) throws InterruptedException {
        Thread other = Thread.ofVirtual().start(() -> {
            for (int i = 0; i < n; i++) {
                ping.acquireUninterruptibly();
                pong.release();
            }
        });
        Thread.ofVirtual().start(() -> {
            for (int i = 0; i < n; i++) {
                ping.release();
                pong.acquireUninterruptibly();
            }
        }).join();
        other.join();
        return n;
    }

    /** The time for all threads to pass; reported as one operation. */
    private long crowd(Semaphore s) throws InterruptedException {
        List<Thread> all = new ArrayList<>(threads);
        for (int i = 0; i < threads; i++) {
            all.add(Thread.ofVirtual().start(() -> {
                s.acquireUninterruptibly();
                Thread.yield();
                s.release();
            }));
        }
        for (Thread t : all) t.join();
        return 1;
    }

    /** Median over the rounds of nanoseconds per operation, after one warm-up round. */
    private double nanosPerOp(Body body) throws Exception {
        body.run();
        double[] samples = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            long start = System.nanoTime();
            long ops = body.run();
            samples[r] = (double) (System.nanoTime() - start) / ops;
            progress.show(++step);
        }
        Arrays.sort(samples);
        return samples[rounds / 2];
    }

    private static void print(List<Result> results) {
        System.out.println();
        System.out.printf("%-40s %12s %18s %18s %12s %12s%n", "median of rounds", "j.u.c.", "EventFdSemaphore",
                "FileChannel.lock", "ours/j.u.c.", "ours/lock");
        for (Result r : results) {
            System.out.printf("%-40s %9.2f %-2s %15.2f %-2s %15s %-2s %11.1fx %12s%n", r.what(), r.juc(), r.unit(),
                    r.ours(), r.unit(), Double.isNaN(r.fileLock()) ? "-" : String.format("%.2f", r.fileLock()),
                    Double.isNaN(r.fileLock()) ? "" : r.unit(), r.ours() / r.juc(),
                    Double.isNaN(r.fileLock()) ? "-" : String.format("%.2fx", r.ours() / r.fileLock()));
        }
        System.out.printf("%nJDK %s, %d CPUs, %s %s. Lower is better. Plain timing loops, medians: an impression;%n"
                        + "benchmarks/ has the JMH measurements.%n", Runtime.version(),
                Runtime.getRuntime().availableProcessors(), System.getProperty("os.name"), System.getProperty("os.version"));
    }
}
