package dev.eventfd.sync.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the packaged command ({@code -jar $cli.jar}) with the test JVM's own java, every run with
 * {@code -Deventfd.sync.dir} set to one fresh 0700 directory, which this test JVM uses too.
 * Output goes to files in that directory (no pipe can fill up and stall a child). {@link #close()}
 * kills whatever is still running, children included, and restores the system property.
 */
final class Cli implements AutoCloseable {

    static final String JAVA = ProcessHandle.current().info().command()
            .orElseThrow(() -> new IllegalStateException("the test JVM's java command is unknown"));

    final Path dir;
    private final String previousDir;
    private final List<Process> started = new CopyOnWriteArrayList<>();
    private final AtomicInteger runs = new AtomicInteger();

    /** A run that has finished. */
    record Result(int exit, String out, String err) {
        String all() {
            return "exit " + exit + "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err;
        }
    }

    /** A run in progress, with its output files. */
    record Running(Process process, Path out, Path err) {
        long pid() {
            return process.pid();
        }

        Result await(Duration limit) throws Exception {
            if (!process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS)) {
                fail("the command did not exit within " + limit + "; so far:\n--- stdout ---\n"
                        + Files.readString(out) + "\n--- stderr ---\n" + Files.readString(err));
            }
            return new Result(process.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        }
    }

    /** Takes {@code base} (a fresh directory of the test's own), makes it 0700 and points everything at it. */
    Cli(Path base) throws IOException {
        this.dir = base.resolve("sync");
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));  // whatever the umask
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        previousDir = System.setProperty("eventfd.sync.dir", dir.toString());
    }

    static Path jar() {
        String jar = System.getProperty("cli.jar");
        assertTrue(jar != null && Files.isRegularFile(Path.of(jar)),
                "system property cli.jar must name the packaged command (failsafe sets it): " + jar);
        return Path.of(jar);
    }

    /** {@code java -Deventfd.sync.dir=DIR -jar cli.jar ARGS...}, started. */
    Running start(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-Deventfd.sync.dir=" + dir, "-jar", jar().toString()));
        cmd.addAll(List.of(args));
        int n = runs.incrementAndGet();
        Path out = dir.resolveSibling("run-" + n + ".out");
        Path err = dir.resolveSibling("run-" + n + ".err");
        Process p = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .start();
        started.add(p);
        return new Running(p, out, err);
    }

    /** Runs the command to its end (at most {@code limit}). */
    Result run(Duration limit, String... args) throws Exception {
        return start(args).await(limit);
    }

    /**
     * Waits until {@code condition} holds, checking it every few milliseconds (a polling pause, not a
     * synchronization: nothing is assumed to have happened when it ends), failing after {@code limit}.
     */
    static void awaitCondition(String what, Duration limit, BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) fail("timed out after " + limit + " waiting until " + what);
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    private static final Pattern MAIN_THREAD = Pattern.compile("(?ms)^\"main\".*?(?:\\R\\R|\\z)");

    /**
     * Whether the main thread of the JVM {@code pid} has {@code frame} (e.g.
     * {@code "dev.eventfd.sync.cli.Job.awaitAll("}) on its stack, read with the JDK's
     * {@code jcmd Thread.print}; false while the JVM cannot be attached to yet.
     */
    static boolean mainThreadIn(long pid, String frame) {
        try {
            Path jcmd = Path.of(JAVA).resolveSibling("jcmd");
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print")
                    .redirectErrorStream(true).start();
            String dump = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) return false;
            Matcher main = MAIN_THREAD.matcher(dump);
            return main.find() && main.group().contains(frame);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : started) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (previousDir == null) System.clearProperty("eventfd.sync.dir");
        else System.setProperty("eventfd.sync.dir", previousDir);
    }

    static void writeFile(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
