package dev.eventfd.sync.testutil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The non-JVM peers of the shared-memory store: the C peer ({@code peers/c/efs_peer.c}), built here
 * with the system's cc, and the Python peer ({@code peers/python/efs_peer.py}), which drives the same
 * C code built as a library through ctypes.
 */
public final class CPeer {

    private static Path binary, library;

    private CPeer() {}

    /** Builds {@code target/efs_peer} once. @return the binary, or null if there is no C compiler */
    public static synchronized Path binary() throws IOException, InterruptedException {
        if (binary == null) binary = compile("target/efs_peer");
        return binary;
    }

    /** Builds {@code target/libefs.so} once. @return the library, or null if there is no C compiler */
    public static synchronized Path library() throws IOException, InterruptedException {
        if (library == null) library = compile("target/libefs.so", "-shared", "-fPIC", "-DEFS_LIBRARY");
        return library;
    }

    private static Path compile(String target, String... flags) throws IOException, InterruptedException {
        Path source = ForkedJvm.baseDir().resolve("peers/c/efs_peer.c");
        Path out = ForkedJvm.baseDir().resolve(target);
        for (String cc : List.of("cc", "gcc")) {
            List<String> command = new ArrayList<>(List.of(cc, "-O2", "-Wall", "-Werror"));
            command.addAll(List.of(flags));
            command.addAll(List.of("-o", out.toString(), source.toString()));
            try {
                Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
                String output = new String(p.getInputStream().readAllBytes());
                if (!p.waitFor(120, TimeUnit.SECONDS)) throw new AssertionError(cc + " did not finish");
                if (p.exitValue() != 0) throw new AssertionError(cc + " failed on " + source + ":\n" + output);
                return out;
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

    /** Starts the Python peer on {@code name} in {@code dir}; it answers the C peer's commands. */
    public static NamedParticipantChild.Handle startPython(String label, Path dir, String name)
            throws IOException, InterruptedException {
        Path script = ForkedJvm.baseDir().resolve("peers/python/efs_peer.py");
        return NamedParticipantChild.Handle.startCommand(label,
                List.of("python3", script.toString(), library().toString(), dir.toString(), name));
    }

    /** Whether a C compiler is there (for assumptions). */
    public static boolean available() {
        try {
            return binary() != null && Files.isExecutable(binary());
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Whether the Python peer can run: a C compiler for the library, and python3 with ctypes. */
    public static boolean pythonAvailable() {
        try {
            if (library() == null) return false;
            Process p = new ProcessBuilder("python3", "-c", "import ctypes").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
