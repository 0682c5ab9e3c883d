package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code run --permits 2} admits at most two commands at once across eight separate CLI processes,
 * and every permit comes back. The commands measure their own concurrency (a flock-protected
 * counter file), so the check does not depend on any timing of the test.
 */
class RunConcurrencyIT {

    private static final int CLIS = 8;
    private static final int PERMITS = 2;

    @Test
    @Timeout(180)
    void eightRunsOnTwoPermitsNeverOverlapMoreThanTwo(@TempDir Path tmp) throws Exception {
        Path script = tmp.resolve("concurrency_probe.py");
        try (InputStream in = RunConcurrencyIT.class.getResourceAsStream("/concurrency_probe.py")) {
            assertNotNull(in, "test resource concurrency_probe.py");
            Files.copy(in, script);
        }
        Path state = tmp.resolve("state");
        Files.writeString(state, "0 0 0\n");

        try (Cli cli = new Cli(tmp);
             // opened before any CLI starts: this JVM creates "t" with 2 permits and stays a participant
             EventFdSemaphore t = EventFdSemaphore.open("t", PERMITS)) {
            assertEquals(PERMITS, t.availablePermits());
            List<Cli.Running> runs = new ArrayList<>();
            for (int i = 0; i < CLIS; i++) {
                runs.add(cli.start("run", "--name", "t", "--permits", Integer.toString(PERMITS), "--",
                        "python3", script.toString(), state.toString()));
            }
            for (Cli.Running r : runs) {
                Cli.Result result = r.await(Duration.ofSeconds(150));
                assertEquals(0, result.exit(), result::all);
            }
            String[] counts = Files.readString(state).trim().split(" ");
            int running = Integer.parseInt(counts[0]);
            int most = Integer.parseInt(counts[1]);
            int done = Integer.parseInt(counts[2]);
            System.out.printf("RunConcurrencyIT: most commands running at once = %d (limit %d)%n", most, PERMITS);
            assertEquals(CLIS, done, "every command ran to its end");
            assertEquals(0, running, "every command finished");
            assertTrue(most >= 1 && most <= PERMITS,
                    "at most " + PERMITS + " commands may run at once, but " + most + " did");
            assertEquals(PERMITS, t.availablePermits(), "every permit came back");
        }
    }
}
