package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Usage errors: a message and the usage on standard error, nothing run, exit status 2 (as documented). */
class UsageIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    private static void assertUsageError(Cli.Result r, String expectedMessage) {
        assertAll(
                () -> assertEquals(2, r.exit(), () -> "usage errors exit 2 (README, --help); " + r.all()),
                () -> assertTrue(r.err().contains("Usage: eventfd-sync run"), () -> "usage on stderr; " + r.all()),
                () -> assertTrue(r.err().contains(expectedMessage), () -> "says '" + expectedMessage + "'; " + r.all()),
                () -> assertEquals("", r.out(), () -> "nothing on stdout; " + r.all()));
    }

    @Test
    @Timeout(120)
    void unknownOption(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            // picocli reports the missing --name and CMD first here
            assertUsageError(cli.run(LIMIT, "run", "--bogus"), "Missing required");
            // with everything else right, the unknown option itself is named
            assertUsageError(cli.run(LIMIT, "run", "--name", "x", "--bogus", "--", "true"), "Unknown option: '--bogus'");
        }
    }

    @Test
    @Timeout(60)
    void missingCommand(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertUsageError(cli.run(LIMIT, "run", "--name", "x"), "Missing required parameter: 'CMD'");
        }
    }

    @Test
    @Timeout(60)
    void negativeDuration(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertUsageError(cli.run(LIMIT, "run", "--name", "x", "--timeout", "-5s", "--", "true"),
                    "'-5s' is not a duration");
        }
    }

    @Test
    @Timeout(60)
    void zeroPermits(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertUsageError(cli.run(LIMIT, "run", "--name", "x", "--permits", "0", "--", "true"),
                    "--permits must be at least 1");
        }
    }
}
