package dev.eventfd.sync.bench;

import dev.eventfd.sync.EventFdSemaphore;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A cross-process hand-off, seen from the benchmark JVM. {@link #create} makes the shared object,
 * {@link #childArgs()} tells {@link CrossProcessPeer} how to find it, {@link #childReady()} runs once
 * the child holds its side, and each {@link #roundTrip()} wakes the child once and is woken by it once.
 *
 * <p>To add a row: implement this interface, add a {@code case} to {@link #create} and to
 * {@link CrossProcessPeer#responder}, and add the name to {@code CrossProcessHandOffBenchmark.impl}.
 */
interface PingPong extends AutoCloseable {

    List<String> childArgs();

    void childReady() throws Exception;

    void roundTrip() throws Exception;

    @Override
    void close() throws Exception;

    static PingPong create(String impl) throws Exception {
        return switch (impl) {
            case "fileLock" -> new FileLockRing();
            case "posixNamedSem" -> new NamedSemaphores();
            case "eventfd" -> new EventFdNamed();
            default -> throw new IllegalArgumentException("impl " + impl);
        };
    }

    /**
     * The side one process plays in a three-region file-lock ring. Regions 0, 1, 2 (one byte each) of
     * one file; each process holds exactly one region between moves, so one region is free. A move
     * locks the next region (blocking while the other process holds it) and then unlocks the current
     * one. With two holders on a ring of three, only one process can move at any time, and each move
     * unlocks the region the other one is blocked on: strict alternation, one wake-up per move. The
     * parent starts at region 0 and the child at region 1; one parent move is one round trip.
     */
    final class LockRing implements AutoCloseable {
        static final int REGIONS = 3;
        private final FileChannel channel;
        private final FileLock[] held = new FileLock[REGIONS];
        private int at;

        LockRing(Path file, int start) throws IOException {
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            at = start;
            held[at] = channel.lock(at, 1, false);
        }

        void move() throws IOException {
            int next = (at + 1) % REGIONS;
            held[next] = channel.lock(next, 1, false);  // blocks in fcntl(F_SETLKW) until the other side moves on
            held[at].release();
            held[at] = null;
            at = next;
        }

        @Override
        public void close() throws IOException {
            channel.close();                             // releases whatever is held
        }
    }

    final class FileLockRing implements PingPong {
        private final Path file;
        private final LockRing ring;

        FileLockRing() throws IOException {
            file = Files.createTempFile("eventfd-bench-ring", ".lock");
            Files.write(file, new byte[LockRing.REGIONS]);
            ring = new LockRing(file, 0);
        }

        public List<String> childArgs() {
            return List.of("fileLock", file.toString());
        }

        public void childReady() {}

        public void roundTrip() throws IOException {
            ring.move();
        }

        public void close() throws IOException {
            try {
                ring.close();
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }

    /** {@code ping} and {@code pong}, POSIX named semaphores of 0; unlinked as soon as the child has them. */
    final class NamedSemaphores implements PingPong {
        private final Libc.Calls calls = new Libc.Calls();
        private final String base = "/eventfd-bench-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        private final String pingName = base + "-ping";
        private final String pongName = base + "-pong";
        private MemorySegment ping;
        private MemorySegment pong;

        NamedSemaphores() {
            ping = calls.semOpen(pingName, Libc.O_CREAT | Libc.O_EXCL, 0);
            try {
                pong = calls.semOpen(pongName, Libc.O_CREAT | Libc.O_EXCL, 0);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        public List<String> childArgs() {
            return List.of("posixNamedSem", pingName, pongName);
        }

        public void childReady() {
            unlink();                                  // both processes hold them now: leave nothing in /dev/shm
        }

        public void roundTrip() {
            calls.semPost(ping);
            calls.semWait(pong);
        }

        private void unlink() {
            calls.semUnlink(pingName);
            calls.semUnlink(pongName);
        }

        public void close() {
            unlink();
            if (ping != null) calls.semClose(ping);
            if (pong != null) calls.semClose(pong);
            ping = pong = null;
        }
    }

    /**
     * {@code ping} and {@code pong}, named {@link EventFdSemaphore}s of 0 permits
     * ({@link EventFdSemaphore#open(String, int)}; the child joins with {@code openExisting}). Nothing
     * waits locally on the side that releases, so each release is a write to the kernel counter, and
     * the other JVM's poller thread wakes its waiter: two thread wake-ups per direction.
     */
    final class EventFdNamed implements PingPong {
        private final String base = "bench-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        private final EventFdSemaphore ping = EventFdSemaphore.open(base + "-ping", 0);
        private final EventFdSemaphore pong;

        EventFdNamed() {
            try {
                pong = EventFdSemaphore.open(base + "-pong", 0);
            } catch (RuntimeException | Error e) {
                ping.close();
                throw e;
            }
        }

        public List<String> childArgs() {
            return List.of("eventfd", base + "-ping", base + "-pong");
        }

        public void childReady() {}

        public void roundTrip() throws InterruptedException {
            ping.release();
            pong.acquire();
        }

        public void close() {
            try {
                ping.close();
            } finally {
                pong.close();
            }
        }
    }
}
