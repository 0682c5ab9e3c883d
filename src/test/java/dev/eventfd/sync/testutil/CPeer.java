package dev.eventfd.sync.testutil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The C peer of the shared-memory store ({@code peers/c/efs_peer.c}), built here with the system's cc. */
public final class CPeer {

    private static Path binary;

    private CPeer() {}

    /** Builds {@code target/efs_peer} once. @return the binary, or null if there is no C compiler */
    public static synchronized Path binary() throws IOException, InterruptedException {
        if (binary != null) return binary;
        Path source = ForkedJvm.baseDir().resolve("peers/c/efs_peer.c");
        Path out = ForkedJvm.baseDir().resolve("target/efs_peer");
        for (String cc : List.of("cc", "gcc")) {
            try {
                Process p = new ProcessBuilder(cc, "-O2", "-Wall", "-Werror", "-o", out.toString(), source.toString())
                        .redirectErrorStream(true).start();
                String output = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(120, TimeUnit.SECONDS)) throw new AssertionError(cc + " did not finish");
                if (p.exitValue() != 0) throw new AssertionError(cc + " failed on " + source + ":\n" + output);
                return binary = out;
            } catch (IOException noCompiler) {
                // try the next name
            }
        }
        return null;
    }

    /** Starts the peer on {@code name} in {@code dir}, with {@code extra} arguments (e.g. "chaos"). */
    public static NamedParticipantChild.Handle start(String label, Path dir, String name, String... extra)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(binary().toString(), dir.toString(), name));
        command.addAll(List.of(extra));
        return NamedParticipantChild.Handle.startCommand(label, command);
    }

    /** Whether a C compiler is there (for assumptions). */
    public static boolean available() {
        try {
            return binary() != null && Files.isExecutable(binary());
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
