package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code status}: the state of a name some process has open, and of one nobody has. */
class StatusIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    @Test
    @Timeout(60)
    void showsAvailablePermitsAndThisJvmAmongTheParticipants(@TempDir Path tmp) throws Exception {
        long me = ProcessHandle.current().pid();
        try (Cli cli = new Cli(tmp); EventFdSemaphore t = EventFdSemaphore.open("t", 3)) {
            t.acquire();                                    // 2 of 3 left
            Cli.Result r = cli.run(LIMIT, "status", "--name", "t");
            assertEquals(0, r.exit(), r::all);
            assertTrue(r.out().contains("name:         t"), r::all);
            assertEquals("2", field(r.out(), "available"), r::all);
            assertEquals("pid " + me, field(r.out(), "serving"), r::all);
            assertEquals("1", field(r.out(), "holders"), r::all);
            assertEquals("3", field(r.out(), "total"), r::all);
            assertTrue(Pattern.compile("(?m)^  pid " + me + " \\(.*java.*\\): 1 permit since \\S+ \\(\\d+ s\\), 0 waiting$").matcher(r.out()).find(),
                    () -> "this JVM (its command line) holds 1 permit: " + r.all());
            String participants = field(r.out(), "participants");
            assertTrue(Pattern.compile("\\b" + me + "\\b").matcher(participants).find(),
                    () -> "this JVM (pid " + me + ") among the participants: " + r.all());
            Cli.Result positional = cli.run(LIMIT, "status", "t");
            assertEquals(0, positional.exit(), positional::all);
            assertEquals("2", field(positional.out(), "available"), () -> "the name as a word, as run takes it: " + positional.all());
            t.release();
            assertEquals(3, t.availablePermits(), "status took and kept nothing");
        }
    }

    @Test
    @Timeout(120)
    void aRunKilledWithSigkillGivesItsPermitBackOnceItsJobHasEndedAndStatusShowsWhoHolds(@TempDir Path tmp) throws Exception {
        ProcessHandle sleep = null;
        try (Cli cli = new Cli(tmp); EventFdSemaphore k = EventFdSemaphore.open("k", 1)) {
            Cli.Running run = cli.start("run", "--name", "k", "--", "sleep", "60");
            Cli.awaitCondition("the run takes the permit", LIMIT, () -> k.availablePermits() == 0 || !run.process().isAlive());
            Cli.Result shown = cli.run(LIMIT, "status", "--name", "k");
            assertTrue(shown.out().contains("  pid " + run.pid() + " ("), () -> "the holder and its command line: " + shown.all());
            assertTrue(shown.out().contains(" run --name k -- sleep 60): 1 permit since "), shown::all);
            Cli.Result json = cli.run(LIMIT, "status", "--name", "k", "--json");
            assertEquals(0, json.exit(), json::all);
            assertTrue(json.out().startsWith("{\"name\":\"k\",\"open\":true,\"store\":\"shared-memory\",\"total\":1,\"available\":0,"
                    + "\"holders\":[{\"pid\":" + run.pid() + ",\"command\":\""), json::all);
            assertTrue(json.out().contains("\"permits\":1,\"since\":\""), json::all);
            Cli.Result list = cli.run(LIMIT, "list");
            assertTrue(Pattern.compile("(?m)^semaphore +k  participants \\[").matcher(list.out()).find(), list::all);
            Cli.Result listJson = cli.run(LIMIT, "list", "--json");
            assertTrue(listJson.out().startsWith("[{\"kind\":\"semaphore\",\"name\":\"k\",\"participants\":["), listJson::all);
            java.util.concurrent.atomic.AtomicReference<ProcessHandle> child = new java.util.concurrent.atomic.AtomicReference<>();
            Cli.awaitCondition("the run starts sleep", LIMIT, () -> {
                run.process().toHandle().children().findFirst().ifPresent(child::set);
                return child.get() != null || !run.process().isAlive();
            });
            sleep = child.get();
            run.process().destroyForcibly();                 // SIGKILL: no handler runs
            run.process().waitFor();
            assertFalse(k.tryAcquire(1, java.util.concurrent.TimeUnit.SECONDS), "the job (sleep) still runs: it keeps the killed run's permit");
            sleep.destroyForcibly();                         // the job ends
            Cli.awaitCondition("the killed run's permit comes back once its job has ended", LIMIT, () -> k.availablePermits() == 1);
            assertTrue(k.tryAcquire(), "the permit is takeable, once");
            assertEquals(0, k.availablePermits());
            k.release();
        } finally {
            if (sleep != null) sleep.destroyForcibly();
        }
    }

    @Test
    @Timeout(60)
    void saysSoForANameNobodyHasOpen(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result r = cli.run(LIMIT, "status", "--name", "nobody-has-this");
            assertEquals(1, r.exit(), r::all);
            assertTrue(r.out().contains("nobody-has-this: no process has it open"), r::all);
            Cli.Result json = cli.run(LIMIT, "status", "--name", "nobody-has-this", "--json");
            assertEquals(1, json.exit(), json::all);
            assertTrue(json.out().contains("\"open\":false"), json::all);
            assertTrue(json.out().contains("\"heldByOrphans\":false"), json::all);
            Cli.Result list = cli.run(LIMIT, "list");
            assertEquals("no named object is open\n", list.out(), list::all);
            assertEquals("[]\n", cli.run(LIMIT, "list", "--json").out());
        }
    }

    private static String field(String out, String label) {
        Matcher m = Pattern.compile("(?m)^" + label + ":\\s+(.*)$").matcher(out);
        assertTrue(m.find(), () -> "no '" + label + ":' line in:\n" + out);
        return m.group(1).strip();
    }
}
