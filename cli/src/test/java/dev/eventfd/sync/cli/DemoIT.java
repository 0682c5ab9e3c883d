package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code demo}, and the command without arguments, which is the demo with its defaults (10,000 virtual
 * threads; about 5 s on a 2-CPU machine, so it is run for real rather than inferred from --help).
 */
class DemoIT {

    /** The row of the demo's table for the eventfd semaphore: label, most holders, permits at end, time. */
    private static final Pattern EVENTFD_ROW =
            Pattern.compile("(?m)^\\s+EventFdSemaphore\\(4\\)\\s+(\\d+)\\s+(\\d+)\\s+\\d+ ms$");

    private static void assertDemoWorked(Cli.Result r, String threads) {
        assertEquals(0, r.exit(), r::all);
        String out = r.out();
        Matcher row = EVENTFD_ROW.matcher(out);
        assertTrue(row.find(), () -> "the EventFdSemaphore(4) row of the table; " + r.all());
        int mostHolders = Integer.parseInt(row.group(1));
        int permitsAtEnd = Integer.parseInt(row.group(2));
        assertAll(
                () -> assertTrue(out.contains("eventfd-sync demo"), r::all),
                () -> assertTrue(out.contains("jdk.virtualThreadScheduler.parallelism=1"), r::all),
                () -> assertTrue(out.contains(threads + " virtual threads share 4 permits"), r::all),
                () -> assertTrue(out.contains("most holders"), r::all),
                // the demo prints "never let more than 4 threads in" whatever happened: check the number
                () -> assertTrue(mostHolders >= 1 && mostHolders <= 4, () -> "most holders " + mostHolders + "; " + r.all()),
                () -> assertEquals(4, permitsAtEnd, r::all),
                () -> assertTrue(Pattern.compile("The second JVM \\(pid \\d+\\) joined by name and took both permits")
                        .matcher(out).find(), r::all),
                () -> assertTrue(out.contains("Here: availablePermits() = 0, tryAcquire() = false."), r::all),
                () -> assertTrue(out.contains("The second JVM released; the poller woke the waiter here"), r::all),
                () -> assertTrue(out.contains("The second JVM exited (0); permits here: 2."), r::all));
    }

    @Test
    @Timeout(120)
    void demoWith500Threads(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertDemoWorked(cli.run(Duration.ofSeconds(110), "demo", "--threads", "500"), "500");
        }
    }

    @Test
    @Timeout(180)
    void noArgumentsRunsTheDefaultDemo(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            assertDemoWorked(cli.run(Duration.ofSeconds(170)), "10,000");
        }
    }

    @Test
    @Timeout(60)
    void helpListsTheSubcommands(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result r = cli.run(Duration.ofSeconds(50), "--help");
            assertEquals(0, r.exit(), r::all);
            for (String sub : new String[] {"demo", "run", "status", "bench"}) {
                assertTrue(Pattern.compile("(?m)^\\s+" + sub + "\\s").matcher(r.out()).find(),
                        () -> "--help lists '" + sub + "'; " + r.all());
            }
            assertTrue(r.out().contains("With no command, runs the demo."), r::all);
        }
    }
}
