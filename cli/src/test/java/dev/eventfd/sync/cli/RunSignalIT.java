package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * SIGTERM and SIGINT to {@code run} while its command runs: the signal reaches the command, the CLI
 * exits with the command's status (128 + the signal), the command is gone and the permit is back.
 *
 * <p>Two moments are tested. Once the CLI waits for its command (its main thread is in
 * {@code Job.awaitAll}, seen in a {@code jcmd Thread.print}), which pins the forwarding itself
 * deterministically. And as soon as the permit is taken and the command is running, which is what a
 * user (or a supervisor) sees; that one is repeated because a signal there can fall into the window
 * before the CLI has installed its handlers.
 */
class RunSignalIT {

    private static final int SIGINT = 2;
    private static final int SIGTERM = 15;

    /** When the test sends the signal. */
    private enum Moment { COMMAND_RUNNING, CLI_WAITING_FOR_COMMAND }

    @Test
    @Timeout(120)
    void sigtermWhileTheCliWaitsForItsCommand(@TempDir Path tmp) throws Exception {
        signalWhileTheCommandRuns(tmp, SIGTERM, Moment.CLI_WAITING_FOR_COMMAND);
    }

    @Test
    @Timeout(120)
    void sigintWhileTheCliWaitsForItsCommand(@TempDir Path tmp) throws Exception {
        signalWhileTheCommandRuns(tmp, SIGINT, Moment.CLI_WAITING_FOR_COMMAND);
    }

    @RepeatedTest(6)
    @Timeout(120)
    void sigtermAsSoonAsTheCommandRuns(@TempDir Path tmp) throws Exception {
        signalWhileTheCommandRuns(tmp, SIGTERM, Moment.COMMAND_RUNNING);
    }

    private static void signalWhileTheCommandRuns(Path tmp, int signal, Moment moment) throws Exception {
        ProcessHandle child = null;
        try (Cli cli = new Cli(tmp); EventFdSemaphore sig = EventFdSemaphore.open("sig", 1)) {
            Cli.Running run = cli.start("run", "--name", "sig", "--", "sleep", "30");
            if (signal == SIGINT) {
                // a JVM keeps SIGINT ignored if it started with it ignored (a background job of a
                // non-interactive shell): then there is nothing to forward and nothing to test
                Cli.awaitCondition("the CLI is running", Duration.ofSeconds(30),
                        () -> Files.exists(Path.of("/proc/" + run.pid() + "/status")));
                assumeFalse(signalIgnored(run.pid(), SIGINT),
                        "the CLI was started with SIGINT ignored (inherited from the build's shell)");
            }
            // the permit is taken, and the command (sleep) runs as the CLI's child
            Cli.awaitCondition("the CLI takes the permit", Duration.ofSeconds(60),
                    () -> sig.availablePermits() == 0 || !run.process().isAlive());
            AtomicReference<ProcessHandle> sleep = new AtomicReference<>();
            Cli.awaitCondition("the CLI starts sleep", Duration.ofSeconds(60), () -> {
                sleep.set(sleepChild(run.process().toHandle()).orElse(null));
                return sleep.get() != null || !run.process().isAlive();
            });
            child = sleep.get();
            if (moment == Moment.CLI_WAITING_FOR_COMMAND) {
                Cli.awaitCondition("the CLI's main thread waits for its command", Duration.ofSeconds(60),
                        () -> Cli.mainThreadIn(run.pid(), "dev.eventfd.sync.cli.Job.awaitAll(") || !run.process().isAlive());
            }
            assertTrue(run.process().isAlive(), () -> "the CLI ended early: " + readQuietly(run.err()));
            assertEquals(0, sig.availablePermits(), "the CLI holds the only permit");

            if (signal == SIGTERM) {
                assertTrue(ProcessHandle.of(run.pid()).orElseThrow().destroy(), "SIGTERM sent");
            } else {
                Process kill = new ProcessBuilder("kill", "-INT", Long.toString(run.pid())).inheritIO().start();
                assertEquals(0, kill.waitFor(), "kill -INT");
            }

            Cli.Result r = run.await(Duration.ofSeconds(30));
            ProcessHandle command = child;
            int permitsAfter = sig.availablePermits();
            assertAll(
                    () -> assertNotEquals(0, r.exit(), r::all),
                    () -> assertEquals(128 + signal, r.exit(), () -> "the command's status, 128 + " + signal + "; " + r.all()),
                    // the CLI waits for its command, so the command is gone by now (not orphaned, still sleeping)
                    () -> assertFalse(command.isAlive(), "the command (sleep, pid " + command.pid() + ") outlived the CLI"),
                    () -> assertEquals(1, permitsAfter, "the CLI released its permit"));
        } finally {
            if (child != null) child.destroyForcibly();
        }
    }

    /** The {@code sleep} among the CLI's descendants, once it has been exec'd. */
    private static Optional<ProcessHandle> sleepChild(ProcessHandle cli) {
        return cli.descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("/sleep")).orElse(false))
                .findFirst();
    }

    /** Whether {@code signal} is in the SigIgn mask of {@code /proc/PID/status}. */
    private static boolean signalIgnored(long pid, int signal) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("SigIgn:")) {
                    return new BigInteger(line.substring("SigIgn:".length()).strip(), 16).testBit(signal - 1);
                }
            }
            return false;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String readQuietly(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }
}
