package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exit status of {@code run}: 75, 124, the command's own, 127; and the permit comes back each time. */
class RunExitStatusIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    @Test
    @Timeout(120)
    void nonblockWithoutAFreePermitExits75(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 2)) {
            x.acquire(2);                                   // this JVM holds every permit
            Cli.Result r = cli.run(LIMIT, "run", "--name", "X", "--nonblock", "--", "true");
            assertEquals(75, r.exit(), r::all);
            assertTrue(r.err().contains("no permit of 'X' is free"), r::all);
            assertEquals(0, x.availablePermits(), "the CLI took nothing");
            x.release(2);
            assertEquals(2, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void timeoutWithoutAFreePermitExits124AfterTheTimeout(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 2)) {
            x.acquire(2);
            long start = System.nanoTime();
            Cli.Result r = cli.run(LIMIT, "run", "--name", "X", "--timeout", "300ms", "--", "true");
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            assertEquals(124, r.exit(), r::all);
            assertTrue(r.err().contains("no permit of 'X' within"), r::all);
            // a lower bound only: the CLI must have waited out its 300 ms (JVM start-up comes on top)
            assertTrue(tookMillis >= 300, "returned after " + tookMillis + " ms, before its 300 ms timeout");
            assertEquals(0, x.availablePermits(), "the CLI took nothing");
            x.release(2);
        }
    }

    @Test
    @Timeout(120)
    void theCommandsOwnExitStatusIsPassedThrough(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 2)) {
            Cli.Result seven = cli.run(LIMIT, "run", "--name", "X", "--", "sh", "-c", "exit 7");
            assertEquals(7, seven.exit(), seven::all);
            assertEquals(2, x.availablePermits(), "the permit came back after exit 7");

            Cli.Result zero = cli.run(LIMIT, "run", "--name", "X", "--", "sh", "-c", "echo hello from the command");
            assertEquals(0, zero.exit(), zero::all);
            assertTrue(zero.out().contains("hello from the command"), "the command's output is passed on: " + zero.all());
            assertEquals(2, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void aMissingProgramExits127AndReleasesThePermit(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            Cli.Result r = cli.run(LIMIT, "run", "--name", "X", "--", tmp.resolve("no-such-program").toString());
            assertEquals(127, r.exit(), r::all);
            assertTrue(r.err().contains("command not found"), r::all);
            assertEquals(1, x.availablePermits(), "the permit came back after the failed start");

            Cli.Result onPath = cli.run(LIMIT, "run", "--name", "X", "--", "eventfd-sync-no-such-command-on-path");
            assertEquals(127, onPath.exit(), onPath::all);
            assertEquals(1, x.availablePermits());
        }
    }
}
