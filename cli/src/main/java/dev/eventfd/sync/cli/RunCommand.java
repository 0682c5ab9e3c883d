package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import dev.eventfd.sync.OrphanedPermitsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code eventfd-sync run [-n | -w D] [-E CODE] [-j K] (--name NAME | NAME) (CMD [ARGS...] | -c STRING)}:
 * runs a command while holding one permit of a named semaphore, as {@code flock(1)} runs one holding
 * a lock: the first word that is not an option starts the command ({@code --} is optional).
 *
 * <p>The command runs as a whole {@link Job}: in a process group of its own, to which SIGINT, SIGTERM
 * and SIGHUP are forwarded (a second signal kills the job), with this process as its child subreaper,
 * so the permit is held until the job's last process has exited. The handlers are installed before
 * anything else, so a signal that arrives before the command has started stops this process (status
 * 128 + signal) without starting it. If a signal ends the command, or this process before the command
 * started, this process releases the permit and then ends by the same signal, as {@code timeout(1)}
 * does, so that a calling shell sees it as its own child's (a Ctrl-C at the terminal, which reaches
 * only the job while it has the terminal, then also stops a script that ran {@code run}). A stop of the
 * command (Ctrl-Z) stops this process too until it is continued. The job inherits the semaphore's lifetime descriptors: if this
 * process is killed with SIGKILL, the permit stays taken until the job's last process has exited.
 * The other participants keep counting it as held; if none is left, the name cannot be opened until
 * then, which the next {@code run} treats as no permit being free ({@link #open}).
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

    @Option(names = "--job-timeout", paramLabel = "D",
            description = "send the job SIGTERM after it has run this long, SIGKILL 10 s later, and exit 124 (as timeout(1))")
    Main.TypedDuration jobTimeout;

    /** How long a job past its --job-timeout has between SIGTERM and SIGKILL. */
    static final java.time.Duration KILL_AFTER = java.time.Duration.ofSeconds(10);

    @Option(names = {"-c", "--command"}, paramLabel = "STRING", description = "run STRING through /bin/sh -c instead of CMD")
    String shellCommand;

    @Parameters(paramLabel = "CMD", description = "[NAME] then the command and its arguments")
    List<String> words = new ArrayList<>();

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

    /**
     * The signals that, having ended the command (or stopped this process before it started), end
     * this process too once the permit is released: those whose default action ends a process and
     * that are not faults of its own ({@link Exit#bySignal}). Any other signal gives 128 + the signal.
     */
    private static final Set<Integer> PASSED_ON = Set.of(Job.SIGHUP, Job.SIGINT, Job.SIGQUIT, Job.SIGKILL,
            Job.SIGUSR1, Job.SIGUSR2, Job.SIGPIPE, Job.SIGALRM, Job.SIGTERM);

    /** Signals this process forwarded to the job. */
    private final java.util.concurrent.atomic.AtomicInteger forwarded = new java.util.concurrent.atomic.AtomicInteger();

    /** The signal to end this process by, once everything is released; 0 for none. */
    private int endBy;
    /** Whether {@link #endBy} goes to this process's whole group (a key at the terminal the job had: {@link #endedBy(Job.End)}). */
    private boolean endGroup;

    @Override
    public Integer call() throws InterruptedException {
        int status = runCommand();
        if (endBy != 0) Exit.bySignal(endBy, endGroup);
        return status;
    }

    /**
     * The status of a job that {@code end}ed. A job killed by a key at the terminal (Ctrl-C's SIGINT,
     * Ctrl-\'s SIGQUIT) while it had the terminal got a signal that, without the hand-off, the
     * terminal would have sent to this process's group, which includes the shell that waits for this
     * process: the signal is sent on to that group, so a script that ran {@code run} stops at a Ctrl-C
     * as it stops when its own child has the terminal ({@code bash} gives up a list only if it saw
     * the SIGINT itself). A SIGINT sent to the job's process alone, not by the terminal, cannot be
     * told from one: it too reaches this process's group.
     */
    private int endedBy(Job.End end) {
        if (end.signal() == 0) return end.status();
        // not a signal this process forwarded (kill -INT of run): its group did not get that one
        endGroup = end.hadTerminal() && forwarded.get() == 0 && (end.signal() == Job.SIGINT || end.signal() == Job.SIGQUIT);
        return endedBy(end.signal());
    }

    /** {@code 128 + signal}, and this process is to end by {@code signal} if it is one of {@link #PASSED_ON}. */
    private int endedBy(int signal) {
        if (PASSED_ON.contains(signal)) endBy = signal;
        return 128 + signal;
    }

    private int runCommand() throws InterruptedException {
        parse();
        // the handlers come first: a signal at any later point is forwarded, or stops us before the command starts
        Thread main = Thread.currentThread();
        AtomicReference<Job> job = new AtomicReference<>();
        AtomicReference<String> pending = new AtomicReference<>();
        List<Runnable> restore = new ArrayList<>();
        for (String sig : List.of("INT", "TERM", "HUP")) {
            Signal signal = new Signal(sig);
            SignalHandler previous = Signal.handle(signal, s -> {
                synchronized (job) {
                    Job j = job.get();
                    if (j == null) {
                        pending.compareAndSet(null, sig);
                        main.interrupt();
                    } else if (forwarded.incrementAndGet() == 1) {
                        j.signal(s.getNumber());         // the whole group: the command and what it started
                    } else {
                        j.killAll();                     // a second signal: the job, whatever it does
                    }
                }
            });
            restore.add(() -> Signal.handle(signal, previous));
        }
        Job.becomeSubreaper();                           // before the job exists: its orphans come to us
        long deadline = timeout == null ? 0 : System.nanoTime() + timeout.value().toNanos();
        EventFdSemaphore opened;
        try {
            opened = open(deadline);
        } catch (InterruptedException e) {
            if (pending.get() == null) throw e;
            return endedBy(new Signal(pending.get()).getNumber());
        } catch (OrphanedPermitsException e) {
            System.err.println("eventfd-sync run: no permit of '" + name + "' is free" + (nonblock ? "" : " within " + timeout)
                    + ": " + Main.oneLine(e.getMessage()));
            return conflictExitCode != null ? conflictExitCode : nonblock ? Main.EXIT_NO_PERMIT : Main.EXIT_TIMEOUT;
        }
        try (EventFdSemaphore semaphore = opened) {
            try {
                if (nonblock) {
                    if (!semaphore.tryAcquire()) {
                        System.err.println("eventfd-sync run: no permit of '" + name + "' is free");
                        return conflictExitCode != null ? conflictExitCode : Main.EXIT_NO_PERMIT;
                    }
                } else if (timeout != null) {
                    if (!semaphore.tryAcquire(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
                        System.err.println("eventfd-sync run: no permit of '" + name + "' within " + timeout);
                        return conflictExitCode != null ? conflictExitCode : Main.EXIT_TIMEOUT;
                    }
                } else {
                    semaphore.acquire();
                }
            } catch (InterruptedException e) {
                if (pending.get() == null) throw e;
                return endedBy(new Signal(pending.get()).getNumber());
            }
            try {
                return runHoldingPermit(semaphore, job, pending);
            } finally {
                semaphore.release();
            }
        } finally {
            restore.forEach(Runnable::run);
        }
    }

    /**
     * Opens the name. While processes that outlived every participant still hold its permits (the
     * jobs of a {@code run} killed with SIGKILL, say), it cannot be opened: that counts as no permit
     * being free, so this tries again every {@value #ORPHAN_RETRY_MILLIS} ms until {@code deadline}
     * (with {@code -w}), for ever (without), or not at all (with {@code -n}). Their exit is no event
     * this process can wait on: they are no participants.
     *
     * @throws OrphanedPermitsException if the name still cannot be opened when the time is up
     */
    private EventFdSemaphore open(long deadline) throws InterruptedException {
        for (;;) {
            try {
                return Main.withName(spec, name, n -> EventFdSemaphore.open(n, permits));
            } catch (OrphanedPermitsException e) {
                if (nonblock || timeout != null && deadline - System.nanoTime() <= 0) throw e;
                Thread.sleep(timeout == null ? ORPHAN_RETRY_MILLIS
                        : Math.max(1, Math.min(ORPHAN_RETRY_MILLIS, (deadline - System.nanoTime()) / 1_000_000)));
            }
        }
    }

    /** How often a {@code run} that waits tries again to open a name that outlived processes hold. */
    static final long ORPHAN_RETRY_MILLIS = 50;

    /** Runs the job and waits for all of it; the permit is held until its last process has exited. */
    private int runHoldingPermit(EventFdSemaphore semaphore, AtomicReference<Job> job, AtomicReference<String> pending) {
        Job started;
        synchronized (job) {
            if (pending.get() != null) return endedBy(new Signal(pending.get()).getNumber());
            try {
                started = Job.start(command, semaphore.lifetimeDescriptors());
            } catch (Job.StartFailure e) {
                System.err.println("eventfd-sync run: " + Main.oneLine(e.getMessage()));
                return e.exitStatus();
            }
            job.set(started);
        }
        Thread.interrupted();                    // an interrupt from before the command started is spent
        java.util.concurrent.atomic.AtomicBoolean timedOut = new java.util.concurrent.atomic.AtomicBoolean();
        Thread timer = jobTimeout == null ? null : Thread.ofVirtual().name("job-timeout").start(() -> {
            try {
                Thread.sleep(jobTimeout.value());
                timedOut.set(true);
                System.err.println("eventfd-sync run: the job ran past --job-timeout " + jobTimeout + ": SIGTERM");
                started.signal(Job.SIGTERM);
                Thread.sleep(KILL_AFTER);
                started.killAll();
            } catch (InterruptedException jobEnded) {
                // the job ended first
            }
        });
        try {
            Job.End end = started.awaitAll();
            if (timedOut.get()) return Main.EXIT_TIMEOUT;
            return endedBy(end);
        } finally {
            if (timer != null) timer.interrupt();
        }
    }
}
