package dev.eventfd.sync.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code eventfd-sync} command: a demo of the library, running a command under a permit of a named
 * semaphore (like {@code flock(1)} or GNU parallel's {@code sem}, but counting, with timeouts, and
 * shared with Java programs), the state of a named semaphore, and a short benchmark.
 */
@Command(name = "eventfd-sync", mixinStandardHelpOptions = true, version = "eventfd-sync 0.1.0",
        description = "Cross-process semaphores on Linux eventfd. With no command, runs the demo.",
        subcommands = {DemoCommand.class, RunCommand.class, StatusCommand.class, BenchCommand.class},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            " 0:success (for run: the command's own status)",
            " 2:usage error",
            "75:run --nonblock: no permit was free (EX_TEMPFAIL)",
            "124:run --timeout: no permit within the time (as timeout(1))",
            "1:any other failure"})
public final class Main implements Runnable {

    /** run --nonblock found no free permit (sysexits.h EX_TEMPFAIL). */
    static final int EXIT_NO_PERMIT = 75;
    /** run --timeout passed without a permit (as timeout(1)). */
    static final int EXIT_TIMEOUT = 124;
    static final int EXIT_USAGE = 2;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.registerConverter(Duration.class, Main::parseDuration);
        cl.setExitCodeExceptionMapper(e -> e instanceof CommandLine.ParameterException ? EXIT_USAGE : 1);
        return cl;
    }

    /** With no command: the demo. */
    @Override
    public void run() {
        System.exit(commandLine().execute("demo"));
    }

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)?");

    /**
     * Durations: {@code 500ms}, {@code 30s}, {@code 2m}, {@code 1h}, a plain number of seconds, or ISO-8601
     * ({@code PT1.5S}). Negative durations are refused.
     */
    static Duration parseDuration(String text) {
        String t = text.strip().toLowerCase(Locale.ROOT);
        Matcher m = DURATION.matcher(t);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            return switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofSeconds(n);
            };
        }
        try {
            Duration d = Duration.parse(text.strip().toUpperCase(Locale.ROOT));
            if (!d.isNegative()) return d;
        } catch (java.time.format.DateTimeParseException ignored) {
            // fall through to the message below
        }
        throw new CommandLine.TypeConversionException("'" + text + "' is not a duration: use e.g. 500ms, 30s, 2m, 1h"
                + " (not negative)");
    }
}
