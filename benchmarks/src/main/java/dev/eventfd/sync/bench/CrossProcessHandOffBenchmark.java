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

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Row 3: hand-off round trip between two JVMs: this (benchmark) JVM and a child JVM started in
 * {@code @Setup} with the same {@code java} and class path, running {@link CrossProcessPeer}. One op =
 * one round trip (the child is woken once, and wakes us once). Implementations ({@link PingPong}):
 * <ul>
 * <li>{@code fileLock}: {@code FileChannel.lock} on three one-byte regions of a shared file, passed
 *     round like a baton (see {@link PingPong.FileLockRing});
 * <li>{@code posixNamedSem}: two POSIX named semaphores ({@code sem_open}), {@code ping} and
 *     {@code pong}, as in the in-JVM row 2;
 * <li>{@code eventfd}: two named {@link dev.eventfd.sync.EventFdSemaphore}s
 *     ({@code EventFdSemaphore.open(name, 0)} here, {@code openExisting(name)} in the child, whose
 *     responder is a virtual thread).
 * </ul>
 * The benchmark thread is a platform thread: {@code FileChannel.lock} and {@code sem_wait} block in
 * native code and would pin a virtual one. To add a row: implement {@link PingPong} (see there).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx512m"})
public class CrossProcessHandOffBenchmark {

    @Param({"fileLock", "posixNamedSem", "eventfd"})
    public String impl;

    private PingPong side;
    private Process child;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        side = PingPong.create(impl);
        try {
            child = startChild(side.childArgs());
            awaitReady(child, 60);
            side.childReady();
            side.roundTrip();                      // one outside the measurement: fails loudly if broken
        } catch (Exception | Error e) {
            tearDown();
            throw e;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        try {
            stopChild(child);
        } finally {
            child = null;
            if (side != null) side.close();
            side = null;
        }
    }

    @Benchmark
    public void roundTrip() throws Exception {
        side.roundTrip();
    }

    // ------------------------------------------------------------------ the child JVM

    /** Starts {@link CrossProcessPeer} in a JVM like this one: same java, same class path. */
    static Process startChild(List<String> peerArgs) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("-Xmx64m");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(CrossProcessPeer.class.getName());
        cmd.addAll(peerArgs);
        return new ProcessBuilder(cmd)
                .redirectError(ProcessBuilder.Redirect.INHERIT)  // its errors show in the JMH log
                .start();                                         // stdin: a pipe; EOF tells it to exit
    }

    /** Waits for the child's {@code READY} line (it prints it once it holds its side). */
    static void awaitReady(Process child, int seconds) throws Exception {
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, r -> Thread.ofPlatform().daemon().name("peer-ready").start(r));
        String got;
        try {
            got = line.get(seconds, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new IllegalStateException("child JVM did not get ready within " + seconds + " s");
        }
        if (!CrossProcessPeer.READY.equals(got)) {
            throw new IllegalStateException("child JVM said " + got + " instead of " + CrossProcessPeer.READY
                    + (child.isAlive() ? "" : " and exited with " + child.exitValue()));
        }
    }

    /** Closes the child's stdin (it exits on EOF), then kills it if it is still there. Never hangs. */
    static void stopChild(Process child) throws InterruptedException {
        if (child == null) return;
        try (OutputStream in = child.getOutputStream()) {
            // closing is the message
        } catch (IOException ignored) {
            // already gone
        }
        if (!child.waitFor(5, TimeUnit.SECONDS)) {
            child.destroyForcibly();
            if (!child.waitFor(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("child JVM " + child.pid() + " survived SIGKILL");
            }
        }
    }
}
