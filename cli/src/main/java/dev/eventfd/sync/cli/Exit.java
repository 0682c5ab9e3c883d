package dev.eventfd.sync.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Ends the command at once with {@code _exit(2)}, once its output is flushed. {@code System.exit}
 * would first wait up to 300 ms for the library's poller thread, which sits in {@code epoll_wait}
 * (HotSpot's exit waits for threads in native code to block); every object the command opened is
 * closed by then, and the command registers no shutdown hooks. The launcher's AOT training run
 * ({@value #TRAINING}) exits normally, since the JVM writes the cache on its way out, and so does a
 * command run with a flight recording ({@code -XX:StartFlightRecording}), which is dumped then.
 */
final class Exit {
    private Exit() {}

    private static final MethodHandle EXIT = libc("_exit", FunctionDescriptor.ofVoid(JAVA_INT));

    private static MethodHandle libc(String name, FunctionDescriptor fd) {
        return Linker.nativeLinker().downcallHandle(Linker.nativeLinker().defaultLookup().find(name).orElseThrow(), fd);
    }

    /** The calls {@link #bySignal} makes, linked only when it is called. */
    private static final class Raise {
        static final MethodHandle SIGNAL = libc("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
        static final MethodHandle SETRLIMIT = libc("setrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
        static final MethodHandle SIGMASK = libc("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
        static final MethodHandle RAISE = libc("raise", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        static final MethodHandle KILL = libc("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        static final int RLIMIT_CORE = 4, SIG_UNBLOCK = 1;
        /** glibc's sigset_t: 1024 bits in unsigned longs, signal n at bit n - 1. */
        static final long SIGSET = 128;
    }

    /** Set for the launcher's AOT training run: the JVM writes its AOT cache as it exits normally. */
    static final String TRAINING = "eventfd.sync.cli.training";

    static void now(int status) {
        System.out.flush();
        System.err.flush();
        if (Boolean.getBoolean(TRAINING) || jdk.jfr.FlightRecorder.isInitialized()) System.exit(status);
        try {
            EXIT.invokeExact(status);
        } catch (Throwable t) {
            System.exit(status);                 // not reached: _exit does not return
        }
        System.exit(status);
    }

    /**
     * Ends the command by {@code signal}'s default action, as if nobody had handled it, and without a
     * core dump: whoever waits for this process sees it killed by that signal, as {@code timeout(1)}
     * passes on the signal that killed its command. A shell needs that to act on a Ctrl-C that only
     * its child saw: {@code bash -c 'run ...; next'} runs {@code next} after a child that exited 130,
     * and stops after one that SIGINT killed. The signal must be one whose default action ends the
     * process and that the JVM takes for no fault of its own (not SIGSEGV, SIGBUS, SIGFPE, SIGILL).
     * A run with the AOT training or a flight recording exits with {@code 128 + signal} instead, so
     * the JVM writes them out.
     *
     * @param group whether the signal goes to this process's whole process group, this process
     *              included, as a key at the terminal does, rather than to this process alone
     */
    static void bySignal(int signal, boolean group) {
        System.out.flush();
        System.err.flush();
        if (Boolean.getBoolean(TRAINING) || jdk.jfr.FlightRecorder.isInitialized()) System.exit(128 + signal);
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) Raise.SETRLIMIT.invokeExact(Raise.RLIMIT_CORE, arena.allocate(JAVA_LONG, 2));   // {0, 0}
            MemorySegment previous = (MemorySegment) Raise.SIGNAL.invokeExact(signal, MemorySegment.NULL);      // SIG_DFL
            MemorySegment set = arena.allocate(Raise.SIGSET, 8);
            set.setAtIndex(JAVA_LONG, (signal - 1) / 64, 1L << ((signal - 1) % 64));
            ignored = (int) Raise.SIGMASK.invokeExact(Raise.SIG_UNBLOCK, set, MemorySegment.NULL);            // the JVM blocks SIGQUIT
            if (group) ignored = (int) Raise.KILL.invokeExact(0, signal);                                       // the group, this process too
            ignored = (int) Raise.RAISE.invokeExact(signal);                                                   // to this thread: not returned from
        } catch (Throwable t) {
            // fall through to an ordinary exit
        }
        now(128 + signal);
    }
}
