package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code run} as users of {@code flock(1)} and GNU {@code sem} type it: the name as the first word,
 * {@code --} optional, {@code -c}, {@code -n}, {@code -w} with flock's bare seconds, {@code -E},
 * {@code -j}; the shell's 126 and 127; and an internal failure as one line.
 */
class RunCompatibilityIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    @Test
    @Timeout(180)
    void theNameIsTheFirstWordAndTheNextNonOptionStartsTheCommand(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result plain = cli.run(LIMIT, "run", "X", "ls", "-d", tmp.toString());   // -d is ls's, no -- needed
            assertEquals(0, plain.exit(), plain::all);
            assertEquals(tmp.toString(), plain.out().strip(), plain::all);
            Cli.Result dashes = cli.run(LIMIT, "run", "X", "--", "sh", "-c", "exit 3");
            assertEquals(3, dashes.exit(), dashes::all);
            Cli.Result named = cli.run(LIMIT, "run", "-j", "2", "--name", "Y", "echo", "-n", "hi");
            assertEquals("hi", named.out(), named::all);
            Cli.Result shell = cli.run(LIMIT, "run", "-c", "echo one; echo two; exit 4", "X");
            assertEquals(4, shell.exit(), shell::all);
            assertEquals("one\ntwo\n", shell.out(), shell::all);
        }
    }

    @Test
    @Timeout(180)
    void nonblockAndTimeoutExitWithTheirCodesOrTheConflictExitCode(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            x.acquire();                                    // this JVM holds the permit
            assertEquals(75, cli.run(LIMIT, "run", "-n", "X", "true").exit());
            assertEquals(9, cli.run(LIMIT, "run", "-n", "-E", "9", "X", "true").exit());
            Cli.Result bare = cli.run(LIMIT, "run", "-w", "0.25", "X", "true");
            assertEquals(124, bare.exit(), bare::all);
            assertTrue(bare.err().contains("no permit of 'X' within 0.25"), () -> "echoes what was typed; " + bare.all());
            Cli.Result ms = cli.run(LIMIT, "run", "-w", "1.5s", "-E", "7", "X", "true");
            assertEquals(7, ms.exit(), ms::all);
            assertTrue(ms.err().contains("within 1.5s"), ms::all);
            assertEquals(0, x.availablePermits(), "the runs took nothing");
            x.release();
            Cli.Result free = cli.run(LIMIT, "run", "-w", "PT2S", "X", "true");
            assertEquals(0, free.exit(), free::all);
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void aCommandThatIsNotExecutableExits126AndAMissingOne127(@TempDir Path tmp) throws Exception {
        Path plainFile = tmp.resolve("not-executable");
        Files.writeString(plainFile, "echo never\n");
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            Cli.Result notExecutable = cli.run(LIMIT, "run", "X", plainFile.toString());
            assertEquals(126, notExecutable.exit(), notExecutable::all);
            assertTrue(notExecutable.err().contains("cannot execute"), notExecutable::all);
            Cli.Result missing = cli.run(LIMIT, "run", "X", "eventfd-sync-no-such-command");
            assertEquals(127, missing.exit(), missing::all);
            assertTrue(missing.err().contains("command not found"), missing::all);
            assertEquals(1, x.availablePermits(), "the permit came back after each failed start");
        }
    }

    @Test
    @Timeout(120)
    void anExecutableScriptWithoutAnInterpreterLineRunsThroughSh(@TempDir Path tmp) throws Exception {
        Path script = tmp.resolve("no-hashbang");
        Files.writeString(script, "echo \"the script got $1\"; exit 7\n");
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            Cli.Result r = cli.run(LIMIT, "run", "X", script.toString(), "its argument");
            assertEquals(7, r.exit(), () -> "ENOEXEC: run by /bin/sh, as execvp(3) and flock(1) do; " + r.all());
            assertTrue(r.out().contains("the script got its argument"), r::all);
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void anInternalFailureIsOneLineAndDebugShowsTheStackTrace(@TempDir Path tmp) throws Exception {
        Path notADirectory = tmp.resolve("file");
        Files.writeString(notADirectory, "");
        Cli.Result plain = runWithSocketDirectory(tmp, notADirectory, "status", "--name", "X");
        assertEquals(1, plain.exit(), plain::all);
        assertEquals(1, plain.err().lines().count(), () -> "one line; " + plain.all());
        assertTrue(plain.err().startsWith("eventfd-sync status: "), plain::all);
        assertTrue(plain.err().contains("(run with --debug for the stack trace)"), plain::all);
        Cli.Result debug = runWithSocketDirectory(tmp, notADirectory, "status", "--debug", "--name", "X");
        assertEquals(1, debug.exit(), debug::all);
        assertTrue(debug.err().contains("\tat "), () -> "--debug prints the stack trace; " + debug.all());
        assertFalse(debug.err().contains("run with --debug"), debug::all);
        Cli.Result demo = runWithSocketDirectory(tmp, notADirectory, "--debug");
        assertEquals(1, demo.exit(), demo::all);
        assertTrue(demo.err().contains("\tat "), () -> "--debug without a subcommand reaches the demo; " + demo.all());
    }

    /** The command with {@code eventfd.sync.dir} pointing at {@code dir} (which the library refuses if it is no directory). */
    private static Cli.Result runWithSocketDirectory(Path tmp, Path dir, String... args) throws Exception {
        Path out = tmp.resolve("internal.out"), err = tmp.resolve("internal.err");
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(Cli.JAVA, "-Deventfd.sync.dir=" + dir,
                "-jar", Cli.jar().toString()));
        cmd.addAll(java.util.List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not exit within " + LIMIT);
        }
        return new Cli.Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
