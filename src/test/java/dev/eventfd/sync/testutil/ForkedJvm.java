package dev.eventfd.sync.testutil;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Starts a child JVM (the same {@code java} as this one) on the class path, with this project's main and
 * test classes, and collects its exit code and output.
 */
public final class ForkedJvm {

    /** What a child JVM did. */
    public record Result(int exitCode, String output) {
        @Override
        public String toString() {
            return "exit code " + exitCode + ", output:\n" + output;
        }
    }

    private ForkedJvm() {}

    /** The {@code java} launcher running this JVM. */
    public static String java() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** The project directory (surefire sets {@code basedir}; otherwise the working directory). */
    public static Path baseDir() {
        return Path.of(System.getProperty("basedir", System.getProperty("user.dir")));
    }

    public static Path mainClasses() {
        return baseDir().resolve("target/classes");
    }

    public static Path testClasses() {
        return baseDir().resolve("target/test-classes");
    }

    /**
     * A class path holding the main and test classes: every entry of this JVM's module path and class
     * path (surefire puts the main classes on the module path when the project has a module-info), and
     * target/classes and target/test-classes in any case.
     */
    public static String classPath() {
        Set<String> entries = new LinkedHashSet<>();
        entries.add(mainClasses().toString());
        entries.add(testClasses().toString());
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String value = System.getProperty(property);
            if (value == null) continue;
            for (String e : value.split(File.pathSeparator)) {
                if (!e.isBlank()) entries.add(e);
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    /** {@code java <jvmOptions> -cp <classPath()> <main> <args>}. */
    public static List<String> command(List<String> jvmOptions, Class<?> main, String... args) {
        return command(jvmOptions, classPath(), main.getName(), args);
    }

    public static List<String> command(List<String> jvmOptions, String classPath, String main, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(java());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(main);
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * Runs {@code command} with stdout and stderr merged into one file; on timeout the process is
     * killed ({@code destroyForcibly}) and an AssertionError carries what it printed so far.
     */
    public static Result run(List<String> command, Duration timeout) throws IOException, InterruptedException {
        Path out = Files.createTempFile("forked-jvm-", ".log");
        try {
            Process p = new ProcessBuilder(command)
                    .directory(baseDir().toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .start();
            try {
                if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(30, TimeUnit.SECONDS);
                    throw new AssertionError("child JVM did not finish within " + timeout + ": " + command
                            + "\noutput so far:\n" + Files.readString(out, StandardCharsets.UTF_8));
                }
            } finally {
                if (p.isAlive()) p.destroyForcibly();
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }
}
