package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code run} runs a whole job: the permit is held until every process the command started has
 * exited, signals reach the job's process group, a second signal kills the job, and a job whose
 * {@code run} was killed with SIGKILL keeps the permit while it runs. This test JVM has the name open
 * throughout, as another participant does in a contended use, except where a test says otherwise.
 */
class RunJobIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    /**
     * The CLI's descendants that run {@code sleep 300}: longer than any test's timeout, so a job's
     * sleep is gone only if something ended it.
     */
    private static List<ProcessHandle> longSleeps(Cli.Running run) {
        return run.process().toHandle().descendants()
                .filter(h -> h.info().command().map(c -> c.endsWith("/sleep")).orElse(false)
                        && h.info().arguments().map(a -> a.length == 1 && a[0].equals("300")).orElse(false))
                .toList();
    }

    /** Starts {@code run ARGS... sh -c SCRIPT} and waits until {@code sleeps} of its processes run {@code sleep 300}. */
    private static Cli.Running startJob(Cli cli, int sleeps, String script, String... args) throws Exception {
        List<String> all = new java.util.ArrayList<>(List.of("run"));
        all.addAll(List.of(args));
        all.addAll(List.of("X", "sh", "-c", script));
        Cli.Running run = cli.start(all.toArray(String[]::new));
        Cli.awaitCondition(sleeps + " sleep(s) of the job run", LIMIT, () -> longSleeps(run).size() >= sleeps || !run.process().isAlive());
        assertTrue(run.process().isAlive(), () -> "the CLI ended early: " + run.err());
        return run;
    }

    /** Kills the CLI with SIGKILL (no handler runs). @return the job's processes, every one still alive */
    private static List<ProcessHandle> killLeavingTheJob(Cli.Running run) throws InterruptedException {
        List<ProcessHandle> job = run.process().toHandle().descendants().toList();
        run.process().destroyForcibly();
        run.process().waitFor();
        assertTrue(job.stream().allMatch(ProcessHandle::isAlive), "the job outlives the CLI");
        return job;
    }

    /** The state letter in {@code /proc/PID/stat} (Z: a zombie), or "gone". */
    private static String state(ProcessHandle h) {
        try {
            String stat = java.nio.file.Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
            return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        } catch (java.io.IOException e) {
            return "gone";
        }
    }

    /** Kills every process of {@code job} and waits until all have exited. */
    private static void endJob(List<ProcessHandle> job) throws Exception {
        job.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle h : job) h.onExit().get();
    }

    @Test
    @Timeout(120)
    void aSecondJobNeverRunsBesideAProcessTheFirstLeftBehind(@TempDir Path tmp) throws Exception {
        Path go = tmp.resolve("go"), done = tmp.resolve("first-done");
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            // the command exits at once; the process it left behind works until the test lets it finish
            Cli.Running first = cli.start("run", "X", "sh", "-c",
                    "(while [ ! -e " + go + " ]; do sleep 0.05; done; touch " + done + ") & exit 0");
            Cli.awaitCondition("the first job holds the permit", LIMIT, () -> x.availablePermits() == 0 || !first.process().isAlive());
            Cli.Result meanwhile = cli.run(LIMIT, "run", "-n", "X", "true");
            assertEquals(75, meanwhile.exit(), () -> "the process the command left behind holds the permit; " + meanwhile.all());
            java.nio.file.Files.createFile(go);
            Cli.Result second = cli.run(LIMIT, "run", "X", "sh", "-c", "test -e " + done);
            assertEquals(0, second.exit(), () -> "the second job ran before the first one's last process had ended; " + second.all());
            Cli.Result firstResult = first.await(LIMIT);
            assertEquals(0, firstResult.exit(), "the command's own status: " + firstResult.all());
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void sigtermReachesEveryProcessOfTheJobAndASecondSignalKillsIt(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            // a sleep that takes SIGTERM, beside a shell that ignores it (and whose later sleeps inherit that)
            Cli.Running run = startJob(cli, 1, "sleep 300 & trap '' TERM; while :; do sleep 0.2; done");
            ProcessHandle sleep = longSleeps(run).getFirst();
            assertTrue(run.process().toHandle().destroy(), "SIGTERM sent to the CLI");
            Cli.awaitCondition("the sleep (not the CLI's child) gets the SIGTERM", Duration.ofSeconds(20), () -> !sleep.isAlive());
            assertTrue(run.process().isAlive(), "the shell ignores SIGTERM: the CLI waits for it");
            assertEquals(0, x.availablePermits(), "the permit is held while the job runs");
            assertTrue(run.process().toHandle().destroy(), "a second SIGTERM");
            Cli.Result r = run.await(LIMIT);
            assertEquals(128 + 9, r.exit(), () -> "the second signal killed the job; " + r.all());
            assertEquals(1, x.availablePermits(), "and the permit came back");
        }
    }

    @Test
    @Timeout(120)
    void aSecondSignalAlsoKillsWhatLeftTheJobsGroupAndWhatThatStarted(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            // a session of its own (no signal to the group reaches it) whose shell and sleep ignore SIGTERM
            Cli.Running run = startJob(cli, 1, "setsid sh -c 'trap \"\" TERM; sleep 300 & wait' & while :; do sleep 0.2; done");
            List<ProcessHandle> job = run.process().toHandle().descendants().toList();
            ProcessHandle command = run.process().toHandle().children().findFirst().orElseThrow();
            assertTrue(run.process().toHandle().destroy(), "SIGTERM to the CLI");
            Cli.awaitCondition("the command has exited", LIMIT, () -> List.of("Z", "gone").contains(state(command)));
            assertTrue(run.process().isAlive(), "the CLI waits for what the command left in the other session");
            assertTrue(run.process().toHandle().destroy(), "a second SIGTERM: the job is killed");
            Cli.Result r = run.await(LIMIT);
            assertEquals(128 + 15, r.exit(), () -> "the command's status; " + r.all());
            assertTrue(job.stream().noneMatch(ProcessHandle::isAlive), "every process of the job is gone, the other session's too");
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void aSignalAfterTheCommandExitedReachesWhatItLeftBehind(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            Cli.Running run = startJob(cli, 1, "sleep 300 & exit 0");
            ProcessHandle sleep = longSleeps(run).getFirst();
            Cli.awaitCondition("the command has exited and left sleep to the CLI", LIMIT,
                    () -> sleep.parent().map(ProcessHandle::pid).orElse(-1L) == run.pid() || !sleep.isAlive());
            assertEquals(run.pid(), sleep.parent().map(ProcessHandle::pid).orElse(-1L), "the subreaper adopted the orphan");
            assertTrue(run.process().toHandle().destroy(), "SIGTERM to the CLI");
            Cli.Result r = run.await(LIMIT);
            assertFalse(sleep.isAlive(), "the orphan got the SIGTERM");
            assertEquals(0, r.exit(), () -> "the command's own status; " + r.all());
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void aJobPastItsJobTimeoutIsTerminatedAndRunExits124(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            Cli.Running run = startJob(cli, 2, "sleep 300 & sleep 300; wait", "--job-timeout", "1.5s");
            List<ProcessHandle> job = run.process().toHandle().descendants().toList();
            Cli.Result r = run.await(LIMIT);
            assertEquals(124, r.exit(), r::all);
            assertTrue(r.err().contains("the job ran past --job-timeout 1.5s"), r::all);
            assertTrue(job.stream().noneMatch(ProcessHandle::isAlive), "every process of the job is gone");
            assertEquals(1, x.availablePermits());
        }
    }

    @Test
    @Timeout(120)
    void aJobWhoseRunWasKilledWithSigkillKeepsThePermitUntilItsLastProcessEnds(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1)) {
            List<ProcessHandle> job = killLeavingTheJob(startJob(cli, 2, "sleep 300 & sleep 300; wait"));
            Cli.Result meanwhile = cli.run(LIMIT, "run", "-n", "X", "true");
            assertEquals(75, meanwhile.exit(), () -> "no second job while the first one's processes run; " + meanwhile.all());
            assertFalse(x.tryAcquire(), "nor anyone else");
            endJob(job);
            Cli.Result next = cli.run(LIMIT, "run", "-w", "10s", "X", "true");
            assertEquals(0, next.exit(), () -> "the permit comes back once the job has ended; " + next.all());
        }
    }

    @Test
    @Timeout(120)
    void aJobThatOutlivedTheLastParticipantStillKeepsTheNextJobOut(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            // nobody else has X open: once the CLI is killed, no process serves the name
            List<ProcessHandle> job = killLeavingTheJob(startJob(cli, 2, "sleep 300 & sleep 300; wait"));
            Cli.Result nonblock = cli.run(LIMIT, "run", "-n", "X", "true");
            assertEquals(75, nonblock.exit(), () -> "no second job while the first one's processes run; " + nonblock.all());
            assertTrue(nonblock.err().contains("outlived"), () -> "the message says why: " + nonblock.err());
            Cli.Result status = cli.run(LIMIT, "status", "X");
            assertEquals(1, status.exit(), status::all);
            assertTrue(status.out().contains("still hold its permits"), () -> "status says who keeps the name: " + status.all());
            Cli.Result json = cli.run(LIMIT, "status", "X", "--json");
            assertTrue(json.out().contains("\"heldByOrphans\":true"), json::all);
            Cli.Result timed = cli.run(LIMIT, "run", "-w", "0.5s", "X", "true");
            assertEquals(124, timed.exit(), () -> "nor within a timeout; " + timed.all());
            Cli.Running waiting = cli.start("run", "X", "true");
            Cli.awaitCondition("the plain run waits for the orphans to end", LIMIT,
                    () -> Cli.mainThreadIn(waiting.pid(), "dev.eventfd.sync.cli.RunCommand.open(") || !waiting.process().isAlive());
            assertTrue(waiting.process().isAlive(), () -> "the plain run waits; " + waiting.err());
            endJob(job);
            Cli.Result waited = waiting.await(LIMIT);
            assertEquals(0, waited.exit(), () -> "a plain run gets the permit once the job has ended; " + waited.all());
            Cli.Result next = cli.run(LIMIT, "run", "-n", "X", "true");
            assertEquals(0, next.exit(), () -> "and the name is free again; " + next.all());
        }
    }
}
