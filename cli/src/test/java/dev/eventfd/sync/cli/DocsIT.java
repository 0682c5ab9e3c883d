package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The man page renders without a warning and documents every command; the bash completion completes. */
class DocsIT {

    private static final Duration LIMIT = Duration.ofSeconds(60);

    private static String sh(Path dir, String script) throws Exception {
        Path out = Files.createTempFile(dir, "sh", ".out");
        Process p = new ProcessBuilder("bash", "-c", script).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not finish: " + script);
        }
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), () -> script + ": " + text);
        return text;
    }

    @Test
    @Timeout(120)
    void theManPageRendersCleanlyAndCoversEveryCommandAndExitStatus(@TempDir Path tmp) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/groff")), "needs groff");
        try (Cli cli = new Cli(tmp)) {
            Cli.Result man = cli.run(LIMIT, "man");
            assertEquals(0, man.exit(), man::all);
            Path page = tmp.resolve("eventfd-sync.1");
            Files.writeString(page, man.out());
            assertEquals("", sh(tmp, "groff -man -ww -z " + page + " 2>&1"), "groff warns about nothing");
            // one line per paragraph and no hyphenation, so a phrase is found wherever the text wraps
            String text = sh(tmp, "groff -man -Tutf8 -rLL=2000n -rHY=0 " + page + " | sed 's/.\\x08//g'");
            for (String s : List.of("SYNOPSIS", "EXIT STATUS", "COMMAND: RUN", "COMMAND: STATUS", "COMMAND: LIST",
                    "--conflict-exit-code", "--nonblock", "126", "127", "a name is 1 to 64 characters")) {
                assertTrue(text.contains(s), () -> "the man page mentions " + s + ":\n" + text);
            }
        }
    }

    @Test
    @Timeout(120)
    void theBashCompletionCompletesCommandsAndOptions(@TempDir Path tmp) throws Exception {
        try (Cli cli = new Cli(tmp)) {
            Cli.Result script = cli.run(LIMIT, "completion");
            assertEquals(0, script.exit(), script::all);
            Path file = tmp.resolve("completion.bash");
            Files.writeString(file, script.out());
            // compopt works only inside a real completion; simulated here, it is a no-op
            String complete = "source " + file + "; compopt() { :; }; f=$(complete -p eventfd-sync | sed 's/.*-F \\([^ ]*\\).*/\\1/'); ";
            String commands = sh(tmp, complete + "COMP_WORDS=(eventfd-sync s); COMP_CWORD=1; $f; printf '%s\\n' \"${COMPREPLY[@]}\"");
            assertEquals(List.of("status"), commands.lines().toList(), commands);
            String options = sh(tmp, complete + "COMP_WORDS=(eventfd-sync run --no); COMP_CWORD=2; $f; printf '%s\\n' \"${COMPREPLY[@]}\"");
            assertEquals(List.of("--nonblock"), options.lines().toList(), options);
        }
    }
}
