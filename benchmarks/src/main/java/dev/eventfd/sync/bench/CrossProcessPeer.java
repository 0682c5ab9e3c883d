package dev.eventfd.sync.bench;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.EventFdLock;
import dev.eventfd.sync.EventFdSemaphore;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.locks.LockSupport;

/**
 * The child JVM of {@link CrossProcessHandOffBenchmark}: takes its side of the hand-off named by its
 * arguments, prints {@value #READY}, and answers every wake-up until its stdin reaches end of file
 * (the parent closed it, or died), when it halts at once.
 *
 * <pre>
 *   CrossProcessPeer fileLock PATH
 *   CrossProcessPeer posixNamedSem PING_NAME PONG_NAME
 *   CrossProcessPeer eventfd PING_NAME PONG_NAME
 *   CrossProcessPeer holdLock NAME          (LockRecoveryBenchmark: takes the named EventFdLock and keeps it)
 *   CrossProcessPeer holdFileLock PATH      (LockRecoveryBenchmark: takes FileChannel.lock() on PATH and keeps it)
 * </pre>
 * A holding child does nothing after {@value #READY}: the parent kills it with SIGKILL.
 */
public final class CrossProcessPeer {
    static final String READY = "READY";
    /** What to release before halting (set by {@link #responder}). */
    private static volatile Runnable onExit = () -> {};
    /** What a holding child holds, kept reachable until it is killed. */
    private static volatile Object held;

    private CrossProcessPeer() {}

    public static void main(String[] args) throws Exception {
        Thread watchdog = Thread.ofPlatform().daemon().name("stdin-watchdog").start(() -> {
            try (InputStream in = System.in) {
                while (in.read() >= 0) { /* nothing is ever sent */ }
            } catch (IOException ignored) {
                // treated as end of file
            }
            try {
                onExit.run();
            } finally {
                Runtime.getRuntime().halt(0);        // the responder may be blocked in native code
            }
        });
        Runnable responder = responder(args);
        System.out.println(READY);
        System.out.flush();
        responder.run();
        watchdog.join();
    }

    /** Takes this process's side (before READY) and returns the loop that answers. */
    static Runnable responder(String[] args) throws IOException {
        if (args.length == 0) throw new IllegalArgumentException("usage: CrossProcessPeer IMPL ARGS...");
        switch (args[0]) {
            case "fileLock" -> {
                PingPong.LockRing ring = new PingPong.LockRing(Path.of(args[1]), 1);
                return () -> {
                    try {
                        for (;;) ring.move();
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                };
            }
            case "posixNamedSem" -> {
                Libc.Calls calls = new Libc.Calls();
                MemorySegment ping = calls.semOpen(args[1], 0, 0);
                MemorySegment pong = calls.semOpen(args[2], 0, 0);
                return () -> {
                    for (;;) {
                        calls.semWait(ping);
                        calls.semPost(pong);
                    }
                };
            }
            case "eventfd" -> {
                EventFdSemaphore ping = EventFdSemaphore.openExisting(args[1]);
                EventFdSemaphore pong = EventFdSemaphore.openExisting(args[2]);
                if (ping == null || pong == null) throw new IllegalStateException("no process has " + args[1] + " open");
                onExit = () -> {
                    ping.close();                    // leave the names cleanly (wakes the responder)
                    pong.close();
                };
                return () -> {                       // answered from a virtual thread: it parks, holds no carrier
                    Thread t = Thread.ofVirtual().name("responder").start(() -> {
                        try {
                            for (;;) {
                                ping.acquire();
                                pong.release();
                            }
                        } catch (InterruptedException | ClosedException e) {
                            // shutting down
                        }
                    });
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                };
            }
            case "holdLock" -> {
                EventFdLock lock = EventFdLock.open(args[1]);
                lock.lock();
                held = lock;                         // reachable: an unreachable lock is closed by its cleaner
                return CrossProcessPeer::parkForever;
            }
            case "holdFileLock" -> {
                FileChannel channel = FileChannel.open(Path.of(args[1]), StandardOpenOption.WRITE);
                channel.lock();
                held = channel;
                return CrossProcessPeer::parkForever;
            }
            default -> throw new IllegalArgumentException("unknown impl " + args[0]);
        }
    }

    /** What a holding child does until it is killed (or its stdin closes). */
    private static void parkForever() {
        for (;;) LockSupport.park();
    }
}
