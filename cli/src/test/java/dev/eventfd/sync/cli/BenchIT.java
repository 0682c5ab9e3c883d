package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A short {@code bench} runs to its end and prints its table (the numbers themselves are not checked). */
class BenchIT {

    @Test
    @Timeout(180)
    void oneRoundPrintsTheTable(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result r = cli.run(Duration.ofSeconds(170), "bench", "--rounds", "1", "--threads", "500");
            assertEquals(0, r.exit(), r::all);
            assertTrue(Pattern.compile("(?m)^median of rounds\\s+j\\.u\\.c\\.\\s+EventFdSemaphore\\s+FileChannel\\.lock"
                    + "\\s+ours/j\\.u\\.c\\.\\s+ours/lock$").matcher(r.out()).find(), () -> "the table header; " + r.all());
            for (String row : new String[] {"uncontended acquire+release", "hand-off round trip, virtual threads",
                    "500 virtual threads on 4 permits"}) {
                assertTrue(Pattern.compile("(?m)^" + Pattern.quote(row) + "\\s+\\d").matcher(r.out()).find(),
                        () -> "a row '" + row + "'; " + r.all());
            }
        }
    }
}
