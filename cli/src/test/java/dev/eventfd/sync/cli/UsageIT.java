package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Usage errors: one line on standard error that names the problem and the rule, never a stack trace,
 * nothing run, exit status 2 (as documented). The marker file shows that the command never ran.
 */
class UsageIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    private static void assertUsageError(Cli.Result r, String command, String expectedMessage) {
        List<String> lines = r.err().lines().toList();
        assertAll(
                () -> assertEquals(2, r.exit(), () -> "usage errors exit 2 (README, --help); " + r.all()),
                () -> assertEquals(1, lines.size(), () -> "one line on stderr; " + r.all()),
                () -> assertTrue(r.err().startsWith("eventfd-sync " + command + ": "), () -> "names the command; " + r.all()),
                () -> assertTrue(r.err().contains(expectedMessage), () -> "says '" + expectedMessage + "'; " + r.all()),
                () -> assertFalse(r.err().contains("\tat "), () -> "no stack trace; " + r.all()),
                () -> assertEquals("", r.out(), () -> "nothing on stdout; " + r.all()));
    }

    /** Runs {@code run ARGS... touch MARKER}: a usage error must leave MARKER missing. */
    private static Cli.Result runTouching(Cli cli, Path tmp, String... args) throws Exception {
        Path marker = tmp.resolve("ran");
        String[] all = new String[args.length + 3];
        all[0] = "run";
        System.arraycopy(args, 0, all, 1, args.length);
        all[args.length + 1] = "touch";
        all[args.length + 2] = marker.toString();
        Cli.Result r = cli.run(LIMIT, all);
        assertFalse(marker.toFile().exists(), () -> "the command ran despite the usage error; " + r.all());
        return r;
    }

    @Test
    @Timeout(120)
    void unknownOptionAndMissingParts(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertUsageError(cli.run(LIMIT, "run", "--bogus"), "run", "Unknown option: '--bogus'");
            assertUsageError(cli.run(LIMIT, "run", "--name", "x"), "run", "missing the command");
            assertUsageError(cli.run(LIMIT, "run"), "run", "missing the name");
            assertUsageError(cli.run(LIMIT, "run", "-c", "true", "x", "echo"), "run", "-c STRING and CMD exclude each other");
            assertUsageError(cli.run(LIMIT, "status"), "status", "missing the name: give NAME or --name NAME");
            assertUsageError(cli.run(LIMIT, "status", "--name", "a", "b"), "status", "the name is given twice");
            assertUsageError(cli.run(LIMIT, "status", "a", "b"), "status", "Unmatched argument");
        }
    }

    @Test
    @Timeout(300)
    void everyInvalidNameIsRefusedWithTheRule(@TempDir Path tmp) throws Exception {
        String rule = "a name is 1 to 64 characters";
        try (Cli cli = new Cli(tmp)) {
            for (String bad : List.of("../x", "a/b", "", "x".repeat(200), "grüße-✓", "with space", "new\nline", ".hidden")) {
                Cli.Result r = runTouching(cli, tmp, "--name", bad);
                assertUsageError(r, "run", rule);
                assertTrue(r.err().contains("invalid name"), r::all);
            }
            assertTrue(runTouching(cli, tmp, "--name", "new\nline").err().contains("'new\\nline'"), "a newline is shown as \\n");
            assertUsageError(cli.run(LIMIT, "status", "--name", "a/b"), "status", rule);
            assertUsageError(cli.run(LIMIT, "status", "a/b"), "status", rule);
        }
    }

    @Test
    @Timeout(180)
    void badDurationsAndNumbers(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertUsageError(runTouching(cli, tmp, "--timeout", "-5s", "x"), "run", "'-5s' is not a duration");
            assertUsageError(runTouching(cli, tmp, "-w", "3000000h", "x"), "run", "'3000000h' is too long");
            assertUsageError(runTouching(cli, tmp, "-w", "PT-1S", "x"), "run", "'PT-1S' is negative");
            assertUsageError(runTouching(cli, tmp, "-w", "soon", "x"), "run", "use e.g. 500ms, 1.5s");
            assertUsageError(runTouching(cli, tmp, "--permits", "0", "x"), "run", "-j/--permits must be at least 1, not 0");
            assertUsageError(runTouching(cli, tmp, "-j", "-3", "x"), "run", "-j/--permits must be at least 1, not -3");
            assertUsageError(runTouching(cli, tmp, "-n", "-w", "1s", "x"), "run", "exclude each other");
            assertUsageError(runTouching(cli, tmp, "-E", "256", "-n", "x"), "run", "must be in 0..255");
            assertUsageError(cli.run(LIMIT, "bench", "--rounds", "0"), "bench", "--rounds must be at least 1, not 0");
            assertUsageError(cli.run(LIMIT, "bench", "--threads", "-5"), "bench", "--threads must be at least 1, not -5");
            assertUsageError(cli.run(LIMIT, "demo", "--threads", "-1"), "demo", "--threads must be at least 1, not -1");
            assertUsageError(cli.run(LIMIT, "demo", "--threads", "0"), "demo", "--threads must be at least 1, not 0");
        }
    }

    @Test
    @Timeout(60)
    void helpForACommandAndTheExitTable(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result help = cli.run(LIMIT, "help", "run");
            assertEquals(0, help.exit(), help::all);
            assertTrue(help.out().contains("Usage: eventfd-sync run"), help::all);
            Cli.Result top = cli.run(LIMIT, "--help");
            for (String code : List.of("0", "1", "2", "75", "124", "126", "127")) {
                assertTrue(java.util.regex.Pattern.compile("(?m)^\\s*" + code + "\\s+\\S").matcher(top.out()).find(),
                        () -> "--help lists exit status " + code + "; " + top.all());
            }
        }
    }
}
