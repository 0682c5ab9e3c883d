package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code run} at a terminal, as a shell user has it: on a pseudo-terminal made by {@code script(1)},
 * whose standard input this test writes the keys to. While the job runs it has the terminal's
 * foreground, so the terminal's Ctrl-C and Ctrl-Z reach the job alone; {@code run} must then end by
 * the job's SIGINT, so the calling script stops as it would after its own child, and stop when the
 * job stops, so that an interactive shell gets its terminal back and can continue the job.
 *
 * <p>Each test waits until the job's process group has the terminal (its {@code tpgid} in
 * {@code /proc/PID/stat}) before it types the key, so the key reaches the job, not {@code run}.
 */
class RunTerminalIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    @BeforeAll
    static void scriptIsThere() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")), "script(1) from util-linux makes the terminal");
    }

    /** A shell command line under {@code script -qec}, its output (the terminal's) in a file, its keys from this test. */
    private record Terminal(Process process, Path out, OutputStream keys) implements AutoCloseable {
        static Terminal start(Path tmp, String commandLine, Map<String, String> env) throws IOException {
            Path out = tmp.resolve("terminal.out");
            ProcessBuilder pb = new ProcessBuilder("script", "-qec", commandLine, "/dev/null")
                    .redirectOutput(out.toFile()).redirectErrorStream(true);
            pb.environment().putAll(env);
            pb.environment().put("PS1", "$ ");
            Process p = pb.start();
            return new Terminal(p, out, p.getOutputStream());
        }

        void type(String text) throws IOException {
            keys.write(text.getBytes(StandardCharsets.UTF_8));
            keys.flush();
        }

        String screen() {
            try {
                return Files.readString(out, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        void awaitScreen(String what, String text) {
            try {
                Cli.awaitCondition(what, LIMIT, () -> screen().contains(text));
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + "; the screen:\n" + screen(), e);
            }
        }

        @Override
        public void close() {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The environment the command lines use: the java, the jar, the directory of names and the job's files. */
    private static Map<String, String> env(Cli cli, Path tmp) {
        return Map.of("JAVA", Cli.JAVA, "JAR", Cli.jar().toString(), "DIR", cli.dir.toString(),
                "PIDFILE", tmp.resolve("job.pid").toString(), "GO", tmp.resolve("go").toString());
    }

    /** {@code run X} with the job {@code script} (sh -c), as typed at the shell. */
    private static final String RUN = "\"$JAVA\" -Deventfd.sync.dir=\"$DIR\" -jar \"$JAR\" run X sh -c ";

    /** Waits until the job has written its pid, its process group is the terminal's foreground, and it runs. */
    private static long awaitJobInTheForeground(Path tmp) {
        Path pidFile = tmp.resolve("job.pid");
        Cli.awaitCondition("the job has the terminal", LIMIT, () -> {
            try {
                String pid = Files.exists(pidFile) ? Files.readString(pidFile).strip() : "";
                if (pid.isEmpty()) return false;
                List<String> stat = stat(Long.parseLong(pid));
                // pgrp == tpgid, and not stopped: a job that read the terminal just before it was handed
                // over stopped for SIGTTIN, and run continues it (a Ctrl-Z meanwhile would be lost)
                return !stat.isEmpty() && stat.get(4).equals(stat.get(7)) && !stat.get(2).equals("T");
            } catch (IOException e) {
                return false;
            }
        });
        try {
            return Long.parseLong(Files.readString(pidFile).strip());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fields of {@code /proc/PID/stat} from the state on (state, ppid, pgrp, session, tty, tpgid, ...), index 0 = pid. */
    private static List<String> stat(long pid) {
        try {
            String s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String rest = s.substring(s.lastIndexOf(')') + 2);
            List<String> fields = new java.util.ArrayList<>(List.of(String.valueOf(pid), "comm"));
            fields.addAll(List.of(rest.split(" ")));
            return fields;
        } catch (IOException e) {
            return List.of();
        }
    }

    @Test
    @Timeout(120)
    void ctrlCEndsTheCallingScriptAsItWouldEndItAfterItsOwnChild(@TempDir Path tmp) throws Exception {
        String screen = interruptedScript(tmp, (t, job) -> t.type("\u0003"));   // Ctrl-C: SIGINT to the terminal's foreground group
        assertFalse(screen.contains("AFTER-"), () -> "run ended by the SIGINT, so bash stopped the list, as after its own child: " + screen);
    }

    /** A SIGINT that run forwarded (kill -INT of run) is not a key at the terminal: only run ends by it. */
    @Test
    @Timeout(120)
    void aSigintSentToRunIsNotPassedOnToItsGroup(@TempDir Path tmp) throws Exception {
        String screen = interruptedScript(tmp, (t, job) -> {
            long run = Long.parseLong(stat(job).get(3));        // the job's parent
            assertEquals(0, new ProcessBuilder("kill", "-INT", Long.toString(run)).inheritIO().start().waitFor());
        });
        assertTrue(screen.contains("AFTER-130"), () -> "bash got no SIGINT of its own and went on: " + screen);
    }

    /** What interrupts the job of {@link #interruptedScript}, given the terminal and the job's pid. */
    private interface Interrupt {
        void apply(Terminal t, long job) throws Exception;
    }

    /**
     * Runs {@code bash -c 'run X sh -c "exec sleep 300"; echo AFTER-$?'} at the terminal, and once the
     * job has the terminal, {@code interrupt}s it with a SIGINT. @return the screen once bash has ended
     */
    private static String interruptedScript(Path tmp, Interrupt interrupt) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1);
             Terminal t = Terminal.start(tmp, "bash -c '" + RUN + "\"echo \\$\\$ > \\\"\\$PIDFILE\\\"; exec sleep 300\"; echo AFTER-$?'",
                     env(cli, tmp))) {
            long job = awaitJobInTheForeground(tmp);
            assertEquals(0, x.availablePermits(), "the job holds the permit");
            interrupt.apply(t, job);
            assertTrue(t.process().waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS), () -> "the script ended; " + t.screen());
            assertFalse(ProcessHandle.of(job).map(ProcessHandle::isAlive).orElse(false), "the job got the SIGINT");
            assertEquals(1, x.availablePermits(), "the permit is back");
            return t.screen();
        }
    }

    @Test
    @Timeout(120)
    void ctrlZStopsRunWithItsJobAndFgContinuesBoth(@TempDir Path tmp) throws Exception {
        ctrlZThenFg(tmp, RUN + JOB_READING_THE_TERMINAL + "\n", "SHOUT");
    }

    /**
     * Under a script that waits for {@code run} (no job control of its own), Ctrl-Z must stop the
     * script too, as the terminal would have: the interactive shell waits until all of its job stops.
     */
    @Test
    @Timeout(120)
    void ctrlZStopsAScriptThatRanRunAndFgContinuesIt(@TempDir Path tmp) throws Exception {
        Path caller = tmp.resolve("caller.sh");
        Files.writeString(caller, RUN + JOB_READING_THE_TERMINAL + "\necho \"the script goes on: $?\"\n");
        ctrlZThenFg(tmp, "bash " + caller + "\n", "the script goes on: 0");
    }

    /** The job forks nothing: a stop that lands while dash waits for a vfork child to exec never completes. */
    private static final String JOB_READING_THE_TERMINAL = "'echo $$ > \"$PIDFILE\"; exec tr a-z A-Z'";

    /** Types {@code line} at an interactive bash, Ctrl-Z once the job runs, then {@code fg}; {@code after} shows that it ended. */
    private static void ctrlZThenFg(Path tmp, String line, String after) throws Exception {
        try (Cli cli = new Cli(tmp); EventFdSemaphore x = EventFdSemaphore.open("X", 1);
             Terminal t = Terminal.start(tmp, "bash --norc --noprofile -i", env(cli, tmp))) {
            t.type(line);
            long job = awaitJobInTheForeground(tmp);
            t.type("\u001a");                                   // Ctrl-Z: SIGTSTP to the job's group
            Cli.awaitCondition("the job stops", LIMIT, () -> stat(job).get(2).equals("T"));
            t.type("echo ali\"\"ve\n");                         // the screen shows "ali""ve" as typed, "alive" only once bash runs it
            t.awaitScreen("the shell has its terminal back while run and the job are stopped", "alive");
            assertEquals("T", stat(job).get(2), "the job is still stopped");
            assertEquals(0, x.availablePermits(), "and holds the permit");
            t.type("fg\n");
            awaitJobInTheForeground(tmp);
            t.type("shout\n");                                 // tr reads it from the terminal: the job has it again
            t.awaitScreen("the job reads the terminal again", "SHOUT");
            t.type("\u0004");                                   // Ctrl-D: end of input, tr exits 0
            t.awaitScreen("the job ends", after);
            t.type("echo sta\"\"tus=$?\n");
            t.awaitScreen("run, or the script, exits 0", "status=0");
            t.type("exit\n");
            assertTrue(t.process().waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS), () -> "the shell exited; " + t.screen());
            assertEquals(1, x.availablePermits(), "the permit is back");
        }
    }
}
