package dev.eventfd.sync.bench;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Row 1: one uncontended acquire + release, one thread, by implementation.
 * <ul>
 * <li>{@code juc}: {@link java.util.concurrent.Semaphore} (a CAS each way);
 * <li>{@code eventfd}: {@link EventFdSemaphore} (the library);
 * <li>{@code named}: a named {@link EventFdSemaphore} on the shared-memory store (its permits in a
 *     memfd shared with every participant: one CAS of the own slot word each way, from and to the
 *     process's cache, no system call);
 * <li>{@code rawEventfd}: an 8-byte {@code read} + {@code write} on an
 *     {@code EFD_SEMAPHORE|EFD_NONBLOCK} eventfd through the benchmark's own FFM binding with errno
 *     capture and preallocated memory: the floor for a design that keeps permits in the kernel;
 * <li>{@code fileLock}: {@code FileChannel.lock()} + {@code release()} on a temporary file (the JDK's
 *     usual cross-process mutual exclusion);
 * <li>{@code posixSem}: {@code sem_wait} + {@code sem_post} on an unnamed {@code sem_t} in native
 *     memory ({@code sem_init}, pshared 0) through FFM: no system call when uncontended.
 * </ul>
 * Targets (issues): eventfd &le; 1.15&times; rawEventfd and &le; 0.5&times; fileLock; named &le; 3&times; juc.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 3, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
public class UncontendedBenchmark {

    /** What one row acquires and releases. One implementation per fork, so the call site stays monomorphic. */
    interface Permit extends AutoCloseable {
        void acquire() throws Exception;

        void release() throws Exception;

        @Override
        void close() throws Exception;
    }

    @Param({"juc", "eventfd", "named", "rawEventfd", "fileLock", "posixSem"})
    public String impl;

    private Permit permit;

    @Setup(Level.Trial)
    public void setup() throws Exception {
        permit = switch (impl) {
            case "juc" -> new Juc();
            case "eventfd" -> new EventFd();
            case "named" -> new Named();
            case "rawEventfd" -> new RawEventFd();
            case "fileLock" -> new FileLockPermit();
            case "posixSem" -> new PosixSem();
            default -> throw new IllegalArgumentException("impl " + impl);
        };
        // one cycle outside the measurement: fails the trial loudly if the implementation is broken
        permit.acquire();
        permit.release();
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (permit != null) permit.close();
    }

    @Benchmark
    public void acquireRelease() throws Exception {
        permit.acquire();
        permit.release();
    }

    static final class Juc implements Permit {
        private final Semaphore s = new Semaphore(1);

        public void acquire() throws InterruptedException {
            s.acquire();
        }

        public void release() {
            s.release();
        }

        public void close() {}
    }

    static final class EventFd implements Permit {
        private final EventFdSemaphore s = new EventFdSemaphore(1);

        public void acquire() throws InterruptedException {
            s.acquire();
        }

        public void release() {
            s.release();
        }

        public void close() {
            s.close();
        }
    }

    static final class Named implements Permit {
        private final EventFdSemaphore s = EventFdSemaphore.open("bench-uncontended-" + ProcessHandle.current().pid(), 1);

        public void acquire() throws InterruptedException {
            s.acquire();
        }

        public void release() {
            s.release();
        }

        public void close() {
            s.close();
        }
    }

    static final class RawEventFd implements Permit {
        private final Libc.Calls calls = new Libc.Calls();
        private final int fd = calls.eventfd(1, Libc.EFD_SEMAPHORE | Libc.EFD_NONBLOCK | Libc.EFD_CLOEXEC);

        public void acquire() {
            if (calls.read(fd) != 1) throw new IllegalStateException("eventfd had no permit");
        }

        public void release() {
            if (!calls.write(fd, 1)) throw new IllegalStateException("eventfd full");
        }

        public void close() {
            calls.close(fd);
            calls.close();
        }
    }

    static final class FileLockPermit implements Permit {
        private final Path file;
        private final FileChannel channel;
        private FileLock lock;

        FileLockPermit() throws IOException {
            file = Files.createTempFile("eventfd-bench", ".lock");
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        }

        public void acquire() throws IOException {
            lock = channel.lock();
        }

        public void release() throws IOException {
            lock.release();
        }

        public void close() throws IOException {
            channel.close();
            Files.deleteIfExists(file);
        }
    }

    static final class PosixSem implements Permit {
        private final Libc.Calls calls = new Libc.Calls();
        private final MemorySegment sem = Arena.global().allocate(Libc.SEM_T_SIZE, 8);

        PosixSem() {
            calls.semInit(sem, 1);
        }

        public void acquire() {
            calls.semWait(sem);
        }

        public void release() {
            calls.semPost(sem);
        }

        public void close() {
            calls.semDestroy(sem);     // 32 bytes of global memory stay allocated: one per trial
        }
    }
}
