package dev.eventfd.sync.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The scripts: {@code bin/eventfd-sync} through a symlink, and one clear line when no JDK 25 is there. */
class LauncherIT {

    /** The project's root: the packaged command is {@code ROOT/cli/target/eventfd-sync.jar}. */
    private static final Path ROOT = Cli.jar().toAbsolutePath().getParent().getParent().getParent();

    private record Outcome(int exit, String output) {}

    private static Outcome run(Path dir, List<String> cmd) throws Exception {
        Path out = Files.createTempFile(dir, "launcher", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(ROOT.toFile()).redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().remove("JAVA_HOME");
        Process p = pb.start();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(cmd + " did not exit within 120 s");
        }
        return new Outcome(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    @Test
    @Timeout(180)
    void theLauncherWorksThroughASymlinkInAnotherDirectory(@TempDir Path tmp) throws Exception {
        Path link = Files.createSymbolicLink(tmp.resolve("eventfd-sync"), ROOT.resolve("bin/eventfd-sync"));
        Outcome o = run(tmp, List.of(link.toString(), "--version"));
        assertEquals(0, o.exit(), o.output());
        assertTrue(o.output().contains("eventfd-sync 0.1.0"), o.output());
    }

    /**
     * In a mount namespace where {@code /usr/lib/jvm} is an empty directory and {@code JAVA_HOME} is
     * unset, the launcher and {@code ./mvnw} each print one line that says a JDK 25 is needed, and exit 1.
     */
    @Test
    @Timeout(180)
    void withoutAJdk25TheLauncherAndTheWrapperSaySoInOneLine(@TempDir Path tmp) throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make a mount namespace");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")), "needs unshare(1)");
        Path empty = Files.createDirectory(tmp.resolve("no-jdks"));
        for (String script : List.of("bin/eventfd-sync --version", "./mvnw -v")) {
            Outcome o = run(tmp, List.of("/usr/bin/unshare", "--mount", "sh", "-c",
                    "mount --bind " + empty + " /usr/lib/jvm && exec " + script));
            assertEquals(1, o.exit(), script + ": " + o.output());
            assertEquals(1, o.output().lines().count(), script + " prints one line: " + o.output());
            assertTrue(o.output().startsWith("error: eventfd-sync needs JDK 25 or newer"), script + ": " + o.output());
        }
    }
}
