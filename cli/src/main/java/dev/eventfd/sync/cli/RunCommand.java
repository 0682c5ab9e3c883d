package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code eventfd-sync run [-n | -w D] [-E CODE] [-j K] (--name NAME | NAME) (CMD [ARGS...] | -c STRING)}:
 * runs a command while holding one permit of a named semaphore, as {@code flock(1)} runs one holding
 * a lock: the first word that is not an option starts the command ({@code --} is optional).
 *
 * <p>The permit is released on every exit path this JVM survives: the command's exit, a failure to
 * start it, and SIGINT, SIGTERM or SIGHUP (forwarded to the command; the permit is released once it
 * has exited). The handlers are installed before anything else, so a signal that arrives before the
 * command has started stops this process (status 128 + signal) without starting it. A SIGKILL of
 * this process returns the permit too (the shared-memory store gives back what a dead process
 * held); the command, which this process no longer watches, keeps running unless it is killed too.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Runs CMD (or sh -c STRING) holding one permit of the named semaphore, created with K permits if new.",
                "The name is --name NAME or the first word; the first word after it that is no option starts CMD (-- is optional).",
                "Exit status: CMD's; 75 if -n found no permit, 124 if -w passed first (-E sets both); "
                        + "126 if CMD is not executable; 127 if not found; 2 on usage errors."})
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--name", paramLabel = "NAME", description = "the semaphore's name (or give it as the first word); " + Main.NAME_RULE)
    String name;

    @Option(names = {"-j", "--permits"}, paramLabel = "K", defaultValue = "1", description = "permits if the semaphore is new (default: ${DEFAULT-VALUE})")
    int permits;

    @Option(names = {"-w", "--timeout"}, paramLabel = "D",
            description = "give up after this long (exit 124): " + Main.TypedDuration.RULE)
    Main.TypedDuration timeout;

    @Option(names = {"-n", "--nonblock"}, description = "give up at once if no permit is free (exit 75)")
    boolean nonblock;

    @Option(names = {"-E", "--conflict-exit-code"}, paramLabel = "CODE",
            description = "exit with CODE (0-255) instead of 75 or 124 when no permit was had")
    Integer conflictExitCode;

    @Option(names = {"-c", "--command"}, paramLabel = "STRING", description = "run STRING through /bin/sh -c instead of CMD")
    String shellCommand;

    @Parameters(paramLabel = "CMD", description = "[NAME] then the command and its arguments")
    List<String> words = new ArrayList<>();

    /** The errno in the JDK's message of a failed exec ("error=2, ..." or "error: 2 (...)"). */
    private static final java.util.regex.Pattern ERRNO = java.util.regex.Pattern.compile("error[=:]\\s*(\\d+)");

    /** The command to run: CMD, or {@code /bin/sh -c STRING}. */
    private List<String> command;

    /** Checks the options and splits the words into the name and the command. */
    private void parse() {
        List<String> rest = new ArrayList<>(words);
        if (name == null) {
            if (rest.isEmpty()) throw new CommandLine.ParameterException(spec.commandLine(), "missing the name: give --name NAME or NAME as the first word");
            name = rest.removeFirst();
        }
        if (!rest.isEmpty() && rest.getFirst().equals("--")) rest.removeFirst();   // NAME -- CMD: the -- is optional
        if (shellCommand != null) {
            if (!rest.isEmpty()) throw new CommandLine.ParameterException(spec.commandLine(), "-c STRING and CMD exclude each other: got both -c and '" + Main.oneLine(rest.getFirst()) + "'");
            command = List.of("/bin/sh", "-c", shellCommand);
        } else if (rest.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "missing the command: give CMD [ARGS...] or -c STRING after the name");
        } else {
            command = rest;
        }
        Main.atLeast(spec, "-j/--permits", permits, 1);
        if (nonblock && timeout != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-n/--nonblock and -w/--timeout exclude each other");
        }
        if (conflictExitCode != null && (conflictExitCode < 0 || conflictExitCode > 255)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "-E/--conflict-exit-code must be in 0..255, not " + conflictExitCode);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        parse();
        // the handlers come first: a signal at any later point is forwarded, or stops us before the command starts
        Thread main = Thread.currentThread();
        AtomicReference<Process> child = new AtomicReference<>();
        AtomicReference<String> pending = new AtomicReference<>();
        List<Runnable> restore = new ArrayList<>();
        for (String sig : List.of("INT", "TERM", "HUP")) {
            Signal signal = new Signal(sig);
            SignalHandler previous = Signal.handle(signal, s -> {
                synchronized (child) {
                    Process p = child.get();
                    if (p != null) {
                        forward(p, sig);
                    } else {
                        pending.compareAndSet(null, sig);
                        main.interrupt();
                    }
                }
            });
            restore.add(() -> Signal.handle(signal, previous));
        }
        try (EventFdSemaphore semaphore = Main.withName(spec, name, n -> EventFdSemaphore.open(n, permits))) {
            try {
                if (nonblock) {
                    if (!semaphore.tryAcquire()) {
                        System.err.println("eventfd-sync run: no permit of '" + name + "' is free");
                        return conflictExitCode != null ? conflictExitCode : Main.EXIT_NO_PERMIT;
                    }
                } else if (timeout != null) {
                    if (!semaphore.tryAcquire(timeout.value().toNanos(), TimeUnit.NANOSECONDS)) {
                        System.err.println("eventfd-sync run: no permit of '" + name + "' within " + timeout);
                        return conflictExitCode != null ? conflictExitCode : Main.EXIT_TIMEOUT;
                    }
                } else {
                    semaphore.acquire();
                }
            } catch (InterruptedException e) {
                if (pending.get() == null) throw e;
                return 128 + new Signal(pending.get()).getNumber();
            }
            try {
                return runHoldingPermit(child, pending);
            } finally {
                semaphore.release();
            }
        } finally {
            restore.forEach(Runnable::run);
        }
    }

    private int runHoldingPermit(AtomicReference<Process> child, AtomicReference<String> pending) throws InterruptedException {
        Process process;
        synchronized (child) {
            if (pending.get() != null) return 128 + new Signal(pending.get()).getNumber();
            try {
                process = new ProcessBuilder(command).inheritIO().start();
            } catch (IOException e) {
                // as a shell: 127 "command not found" (ENOENT), 126 found but not executable (EACCES, ENOEXEC...)
                java.util.regex.Matcher errno = ERRNO.matcher(String.valueOf(e.getMessage()));
                boolean notFound = errno.find() && errno.group(1).equals("2");
                System.err.println("eventfd-sync run: " + Main.oneLine(command.getFirst()) + ": "
                        + (notFound ? "command not found" : "cannot execute") + " (" + Main.oneLine(e.getMessage()) + ")");
                return notFound ? 127 : 126;
            }
            child.set(process);
        }
        Thread.interrupted();                    // an interrupt from before the command started is spent
        return process.waitFor();
    }

    /** Passes a signal on to the command; this process lives on until the command has exited. */
    private static void forward(Process process, String sig) {
        if (sig.equals("TERM")) {
            process.destroy();
            return;
        }
        try {
            new ProcessBuilder("kill", "-s", sig, Long.toString(process.pid())).inheritIO().start();
        } catch (IOException e) {
            process.destroy();
        }
    }
}
