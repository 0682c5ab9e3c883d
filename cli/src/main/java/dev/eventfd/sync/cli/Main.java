package dev.eventfd.sync.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code eventfd-sync} command: a demo of the library, running a command under a permit of a named
 * semaphore (like {@code flock(1)} or GNU parallel's {@code sem}, but counting, with timeouts, and
 * shared with Java programs), the state of a named semaphore, and a short benchmark.
 */
@Command(name = "eventfd-sync", mixinStandardHelpOptions = true, version = "eventfd-sync 0.1.0",
        description = "Cross-process semaphores on Linux eventfd. With no command, runs the demo.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {
            "  0:success (for run: the command's own status)",
            "  1:an internal failure (one line; --debug shows the stack trace)",
            "  2:usage error (one line naming the problem and the rule)",
            " 75:run -n/--nonblock: no permit was free (EX_TEMPFAIL; -E sets another)",
            "124:run -w/--timeout: no permit within the time (-E sets another); run --job-timeout: the job ran too long (as timeout(1))",
            "126:run: the command is not executable",
            "127:run: the command was not found"})
public final class Main implements Runnable {

    /** run --nonblock found no free permit (sysexits.h EX_TEMPFAIL). */
    static final int EXIT_NO_PERMIT = 75;
    /** run --timeout passed without a permit (as timeout(1)). */
    static final int EXIT_TIMEOUT = 124;
    static final int EXIT_USAGE = 2;
    static final int EXIT_FAILURE = 1;
    /** The rule for names, as the library enforces it. */
    static final String NAME_RULE = "a name is 1 to 64 characters: ASCII letters, digits, '.', '_' and '-', "
            + "starting with a letter or digit";

    @CommandLine.Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "on an internal failure, print the stack trace too")
    boolean debug;

    /**
     * The subcommands, in the order of the help. Building a subcommand's model reads its annotations
     * through reflection, so a command line that names one builds only that one (the start of
     * {@code run} is measured in {@code benchmarks/startup.sh}); anything else builds them all, for
     * the help, the man page, the completion and the errors that list them ({@link #DESCRIBE_OTHERS}).
     */
    private static final Map<String, Supplier<Object>> SUBCOMMANDS = subcommands();

    /** The subcommands that show the others, and so need them all. */
    private static final Set<String> DESCRIBE_OTHERS = Set.of("help", "man", "completion");

    private static Map<String, Supplier<Object>> subcommands() {
        Map<String, Supplier<Object>> m = new LinkedHashMap<>();
        m.put("demo", DemoCommand::new);
        m.put("run", RunCommand::new);
        m.put("status", StatusCommand::new);
        m.put("list", ListCommand::new);
        m.put("bench", BenchCommand::new);
        m.put("man", DocsCommand.Man::new);
        m.put("completion", DocsCommand.Completion::new);
        m.put("help", CommandLine.HelpCommand::new);
        return m;
    }

    public static void main(String[] args) {
        Exit.now(commandLine(args.length > 0 ? args[0] : null).execute(args));
    }

    /** The command with only the subcommand {@code first} if it names one that stands alone, else with all. */
    private static CommandLine commandLine(String first) {
        CommandLine cl = new CommandLine(new Main());
        boolean alone = SUBCOMMANDS.containsKey(first) && !DESCRIBE_OTHERS.contains(first);
        SUBCOMMANDS.forEach((name, command) -> {
            if (!alone || name.equals(first)) cl.addSubcommand(name, command.get());
        });
        cl.registerConverter(TypedDuration.class, TypedDuration::parse);
        cl.setParameterExceptionHandler(Main::usageError);
        cl.setExecutionExceptionHandler(Main::internalFailure);
        CommandLine run = cl.getSubcommands().get("run");
        if (run != null) run.setStopAtPositional(true);                // the first word that is no option starts CMD
        return cl;
    }

    /** A usage error: one line on stderr (the problem and the rule, and where the help is), exit 2. */
    private static int usageError(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String name = cmd.getCommandSpec().qualifiedName();
        cmd.getErr().println(name + ": " + oneLine(e.getMessage()) + " (see '" + name + " --help')");
        return EXIT_USAGE;
    }

    /** An internal failure: one line, and how to see more; with --debug the stack trace too. Exit 1. */
    private static int internalFailure(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) {
        java.io.PrintWriter err = cmd.getErr();
        err.println(cmd.getCommandSpec().qualifiedName() + ": " + oneLine(describe(e))
                + (debugging(parsed) ? "" : " (run with --debug for the stack trace)"));
        if (debugging(parsed)) e.printStackTrace(err);
        err.flush();
        return EXIT_FAILURE;
    }

    private static String describe(Throwable e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    }

    /** Whether --debug was given, at any level of {@code parsed}. */
    static boolean debugging(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult r = parsed; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--debug")) return true;
        }
        return false;
    }

    /** Text for one line of a message: control characters (a newline in a name) shown as escapes. */
    static String oneLine(String text) {
        if (text == null) return "";
        StringBuilder b = new StringBuilder(text.length());
        text.codePoints().forEach(c -> {
            if (c == '\n') b.append("\\n");
            else if (c == '\t') b.append("\\t");
            else if (Character.isISOControl(c)) b.append(String.format("\\u%04x", c));
            else b.appendCodePoint(c);
        });
        return b.toString();
    }

    /** Opens a named object, turning a refused name into a usage error that states the rule. */
    static <T> T withName(CommandLine.Model.CommandSpec spec, String name, java.util.function.Function<String, T> open) {
        try {
            return open.apply(name);
        } catch (IllegalArgumentException refused) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "invalid name '" + oneLine(name) + "': " + oneLine(refused.getMessage()) + "; " + NAME_RULE);
        }
    }

    /** Refuses an option value below {@code least}: a usage error. */
    static void atLeast(CommandLine.Model.CommandSpec spec, String option, long value, long least) {
        if (value < least) {
            throw new CommandLine.ParameterException(spec.commandLine(), option + " must be at least " + least + ", not " + value);
        }
    }

    /** With no command: the demo, with the options given ({@code --debug}). */
    @Override
    public void run() {
        Exit.now(commandLine("demo").execute(debug ? new String[] {"demo", "--debug"} : new String[] {"demo"}));
    }

    /**
     * A duration as the user typed it ({@link #text}, which messages echo) and its value. Accepted:
     * {@code 500ms}, {@code 1.5s}, {@code 2m}, {@code 1h}, a bare number of seconds with or without
     * a fraction ({@code 1.5}, as {@code flock -w}), and ISO-8601 ({@code PT1.5S}). Refused, as usage
     * errors: negative values, and anything past {@code Long.MAX_VALUE} nanoseconds (about 292 years).
     */
    record TypedDuration(String text, Duration value) {
        private static final Pattern SIMPLE = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ms|s|m|h)?");
        private static final BigDecimal MAX_NANOS = BigDecimal.valueOf(Long.MAX_VALUE);
        static final String RULE = "use e.g. 500ms, 1.5s, 2m, 1h, 1.5 (seconds) or PT1.5S";

        static TypedDuration parse(String text) {
            String t = text.strip().toLowerCase(Locale.ROOT);
            Matcher m = SIMPLE.matcher(t);
            BigDecimal nanos;
            if (m.matches()) {
                long unit = switch (m.group(2) == null ? "s" : m.group(2)) {
                    case "ms" -> 1_000_000L;
                    case "m" -> 60_000_000_000L;
                    case "h" -> 3_600_000_000_000L;
                    default -> 1_000_000_000L;
                };
                nanos = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
            } else {
                Duration iso;
                try {
                    iso = Duration.parse(text.strip().toUpperCase(Locale.ROOT));
                } catch (java.time.format.DateTimeParseException e) {
                    throw new CommandLine.TypeConversionException("'" + oneLine(text) + "' is not a duration: " + RULE);
                }
                if (iso.isNegative()) {
                    throw new CommandLine.TypeConversionException("'" + oneLine(text) + "' is negative: a duration is 0 or more; " + RULE);
                }
                nanos = new BigDecimal(iso.getSeconds()).scaleByPowerOfTen(9).add(BigDecimal.valueOf(iso.getNano()));
            }
            if (nanos.compareTo(MAX_NANOS) > 0) {
                throw new CommandLine.TypeConversionException("'" + oneLine(text) + "' is too long: at most "
                        + Long.MAX_VALUE + " ns (about 292 years)");
            }
            long n = nanos.setScale(0, java.math.RoundingMode.CEILING).longValueExact();
            return new TypedDuration(text, Duration.ofNanos(n));
        }

        @Override
        public String toString() {
            return text;
        }
    }
}
