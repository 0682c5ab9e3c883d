package dev.eventfd.sync.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;

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

    private static final MethodHandle EXIT = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("_exit").orElseThrow(), FunctionDescriptor.ofVoid(JAVA_INT));

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
}
