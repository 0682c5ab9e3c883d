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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code eventfd-sync run --name NAME [--permits K] [--timeout D | --nonblock] -- CMD [ARGS...]}: runs a
 * command while holding one permit of a named semaphore.
 *
 * <p>The permit is released on every exit path this JVM survives: the command's exit, a failure to
 * start it, and SIGINT, SIGTERM or SIGHUP (forwarded to the command; the permit is released once it
 * has exited). The handlers are installed before anything else, so a signal that arrives before the
 * command has started stops this process (status 128 + signal) without starting it. A SIGKILL of
 * this process returns the permit too (the shared-memory store gives back what a dead process
 * held); the command, which this process no longer watches, keeps running unless it is killed too.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Runs CMD holding one permit of the named semaphore, created with K permits if new.",
                "Exit status: CMD's; 75 if --nonblock found no permit; 124 if --timeout passed first; 2 on usage errors."})
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--name", required = true, description = "the semaphore's name")
    String name;

    @Option(names = "--permits", defaultValue = "1", description = "permits if the semaphore is new (default: ${DEFAULT-VALUE})")
    int permits;

    @Option(names = "--timeout", description = "give up after this long, e.g. 500ms, 30s, 2m (exit 124)")
    Duration timeout;

    @Option(names = "--nonblock", description = "give up at once if no permit is free (exit 75)")
    boolean nonblock;

    @Parameters(arity = "1..*", paramLabel = "CMD", description = "the command and its arguments (after --)")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws InterruptedException {
        if (permits < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--permits must be at least 1: " + permits);
        if (nonblock && timeout != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--nonblock and --timeout exclude each other");
        }
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
        try (EventFdSemaphore semaphore = EventFdSemaphore.open(name, permits)) {
            try {
                if (nonblock) {
                    if (!semaphore.tryAcquire()) {
                        System.err.println("eventfd-sync: no permit of '" + name + "' is free");
                        return Main.EXIT_NO_PERMIT;
                    }
                } else if (timeout != null) {
                    if (!semaphore.tryAcquire(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                        System.err.println("eventfd-sync: no permit of '" + name + "' within " + timeout);
                        return Main.EXIT_TIMEOUT;
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
                System.err.println("eventfd-sync: cannot run " + command.getFirst() + ": " + e.getMessage());
                return 127;                      // as a shell says "command not found"
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
