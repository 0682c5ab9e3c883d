package dev.eventfd.sync.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The benchmarks' own minimal FFM bindings to libc: eventfd read/write (the floor of the library's
 * design), and POSIX semaphores, unnamed ({@code sem_init}) and named ({@code sem_open}). Independent
 * of the library on purpose, so that the "raw" rows measure nothing but the calls themselves.
 *
 * <p>Every handle captures {@code errno} into a segment the caller passes first; callers keep one
 * such segment per thread (see {@link Calls}), never a shared static.
 */
@SuppressWarnings("restricted")
public final class Libc {
    public static final int EFD_SEMAPHORE = 0x1;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int O_CREAT = 0x40;
    public static final int O_EXCL = 0x80;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    /** {@code sizeof(sem_t)} with glibc on x86_64 (32) and aarch64 (32); alignment of a long. */
    public static final long SEM_T_SIZE = 32;

    public static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    static final MethodHandle EVENTFD;    // int eventfd(unsigned initval, int flags)
    static final MethodHandle READ;       // ssize_t read(int, void *, size_t)
    static final MethodHandle WRITE;      // ssize_t write(int, const void *, size_t)
    static final MethodHandle CLOSE;      // int close(int)
    static final MethodHandle SEM_INIT;   // int sem_init(sem_t *, int pshared, unsigned value)
    static final MethodHandle SEM_DESTROY;// int sem_destroy(sem_t *)
    static final MethodHandle SEM_WAIT;   // int sem_wait(sem_t *)
    static final MethodHandle SEM_POST;   // int sem_post(sem_t *)
    static final MethodHandle SEM_OPEN;   // sem_t *sem_open(const char *, int oflag, mode_t, unsigned value)
    static final MethodHandle SEM_CLOSE;  // int sem_close(sem_t *)
    static final MethodHandle SEM_UNLINK; // int sem_unlink(const char *)

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        EVENTFD = bind(linker, libc, "eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
        READ = bind(linker, libc, "read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), errno);
        WRITE = bind(linker, libc, "write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), errno);
        CLOSE = bind(linker, libc, "close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), errno);
        SEM_INIT = bind(linker, libc, "sem_init", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), errno);
        SEM_DESTROY = bind(linker, libc, "sem_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
        SEM_WAIT = bind(linker, libc, "sem_wait", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
        SEM_POST = bind(linker, libc, "sem_post", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
        SEM_OPEN = bind(linker, libc, "sem_open",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT),
                errno, Linker.Option.firstVariadicArg(2));
        SEM_CLOSE = bind(linker, libc, "sem_close", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
        SEM_UNLINK = bind(linker, libc, "sem_unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS), errno);
    }

    private Libc() {}

    private static MethodHandle bind(Linker linker, SymbolLookup libc, String name, FunctionDescriptor fd,
                                     Linker.Option... options) {
        return linker.downcallHandle(
                libc.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name)),
                fd, options);
    }

    static IllegalStateException failure(String call, int errno) {
        return new IllegalStateException(call + " failed: errno " + errno);
    }

    static IllegalStateException unexpected(Throwable t) {
        return new IllegalStateException("downcall failed", t);
    }

    /**
     * Per-thread call state: the errno capture segment and an 8-byte buffer, allocated once. Not
     * thread-safe: each thread that calls through it needs its own. The memory (48 bytes) comes from
     * the global arena, whose segments need no liveness check on each downcall (a shared arena's
     * would cost two atomic updates per segment argument, which is not part of the floor we measure);
     * the few instances a benchmark makes are never freed.
     */
    public static final class Calls implements AutoCloseable {
        private final Arena arena = Arena.global();
        private final MemorySegment capture = arena.allocate(CAPTURE);
        private final MemorySegment buffer = arena.allocate(JAVA_LONG);

        public int errno() {
            return (int) ERRNO.get(capture, 0L);
        }

        public int eventfd(int initval, int flags) {
            try {
                int fd = (int) EVENTFD.invokeExact(capture, initval, flags);
                if (fd < 0) throw failure("eventfd", errno());
                return fd;
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        /** 8-byte read; returns the value read, or 0 on EAGAIN. */
        public long read(int fd) {
            try {
                long n = (long) READ.invokeExact(capture, fd, buffer, 8L);
                if (n == 8) return buffer.get(JAVA_LONG, 0);
                if (n < 0 && errno() == EAGAIN) return 0;
                throw failure("read", n < 0 ? errno() : 0);
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        /** 8-byte write of {@code value}; returns false on EAGAIN. */
        public boolean write(int fd, long value) {
            try {
                buffer.set(JAVA_LONG, 0, value);
                long n = (long) WRITE.invokeExact(capture, fd, buffer, 8L);
                if (n == 8) return true;
                if (n < 0 && errno() == EAGAIN) return false;
                throw failure("write", n < 0 ? errno() : 0);
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        public void close(int fd) {
            try {
                int r = (int) CLOSE.invokeExact(capture, fd);
                if (r < 0 && errno() != EINTR) throw failure("close", errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        public void semInit(MemorySegment sem, int value) {
            try {
                if ((int) SEM_INIT.invokeExact(capture, sem, 0, value) != 0) throw failure("sem_init", errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        public void semDestroy(MemorySegment sem) {
            try {
                if ((int) SEM_DESTROY.invokeExact(capture, sem) != 0) throw failure("sem_destroy", errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        /** sem_wait, retried on EINTR. Blocks in native code: platform threads only. */
        public void semWait(MemorySegment sem) {
            try {
                while ((int) SEM_WAIT.invokeExact(capture, sem) != 0) {
                    if (errno() != EINTR) throw failure("sem_wait", errno());
                }
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        public void semPost(MemorySegment sem) {
            try {
                if ((int) SEM_POST.invokeExact(capture, sem) != 0) throw failure("sem_post", errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        /** sem_open(name, oflag, 0600, value); the returned segment is sized as a sem_t. */
        public MemorySegment semOpen(String name, int oflag, int value) {
            try (Arena temp = Arena.ofConfined()) {
                MemorySegment s = (MemorySegment) SEM_OPEN.invokeExact(capture, temp.allocateFrom(name), oflag, 0600, value);
                if (s.address() == 0 || s.address() == -1L) throw failure("sem_open " + name, errno()); // SEM_FAILED
                return s.reinterpret(SEM_T_SIZE);
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        public void semClose(MemorySegment sem) {
            try {
                if ((int) SEM_CLOSE.invokeExact(capture, sem) != 0) throw failure("sem_close", errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        /** sem_unlink; a name already gone (ENOENT) is not an error. */
        public void semUnlink(String name) {
            try (Arena temp = Arena.ofConfined()) {
                int r = (int) SEM_UNLINK.invokeExact(capture, temp.allocateFrom(name));
                if (r != 0 && errno() != 2) throw failure("sem_unlink " + name, errno());
            } catch (IllegalStateException e) {
                throw e;
            } catch (Throwable t) {
                throw unexpected(t);
            }
        }

        @Override
        public void close() {
            // global memory: nothing to free
        }
    }
}
