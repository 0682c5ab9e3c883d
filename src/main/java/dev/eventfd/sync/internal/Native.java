package dev.eventfd.sync.internal;

import dev.eventfd.sync.NativeCallException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The Linux calls this library makes, bound through the Foreign Function and Memory API.
 *
 * <p>This class owns every downcall handle. Each wrapper captures {@code errno} into memory private to
 * that call (never a shared static), returns the values a caller must handle ({@code EAGAIN} on a
 * non-blocking descriptor becomes {@code 0} or {@code false}) and turns every other failure into a
 * {@link NativeCallException} that names the call and the errno, e.g.
 * {@code eventfd: EMFILE (Too many open files)}.
 *
 * <p>No call made here can block: every descriptor the library opens is non-blocking, and the only
 * blocking call, {@code epoll_wait}, is made by the poller's own platform thread.
 */
@SuppressWarnings("restricted") // the one place that links native code; see Availability for the flags
public final class Native {

    // <sys/eventfd.h>
    public static final int EFD_SEMAPHORE = 0x1;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;

    // <sys/epoll.h>
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLL_CTL_MOD = 3;
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    public static final int EPOLLONESHOT = 1 << 30;

    // <poll.h>
    static final short POLLIN = 0x001;

    // <fcntl.h>
    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_NOCTTY = 0400;
    static final int O_NONBLOCK = 04000;
    static final int O_DIRECTORY = 0200000;
    static final int O_NOFOLLOW = 0400000;
    static final int O_CLOEXEC = 0x80000;
    static final int O_PATH = 010000000;
    static final int AT_FDCWD = -100;
    static final int AT_SYMLINK_NOFOLLOW = 0x100;
    static final int AT_EMPTY_PATH = 0x1000;

    // <sys/stat.h>: the file type bits of st_mode, and the set-id and sticky bits
    static final int S_IFMT = 0170000;
    static final int S_IFSOCK = 0140000;
    static final int S_IFLNK = 0120000;
    static final int S_IFREG = 0100000;
    static final int S_IFDIR = 0040000;
    static final int S_ISVTX = 01000;

    // <sys/socket.h>, <sys/un.h>, <sys/file.h>
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_NONBLOCK = 04000;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SOL_SOCKET = 1;
    static final int SCM_RIGHTS = 1;
    static final int SO_PEERCRED = 17;
    static final int SO_PEERGROUPS = 59;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int LOCK_EX = 2;
    static final int LOCK_NB = 4;
    static final int LOCK_UN = 8;

    // <sys/mman.h>, <fcntl.h>: shared memory and open file description locks
    static final int MFD_CLOEXEC = 1, MFD_ALLOW_SEALING = 2;
    static final int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    static final int F_SEAL_SEAL = 1, F_SEAL_SHRINK = 2, F_SEAL_GROW = 4;
    static final int PROT_READ = 1, PROT_WRITE = 2;
    static final int MAP_SHARED = 1;
    static final int F_OFD_GETLK = 36, F_OFD_SETLK = 37;
    static final short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    /** sizeof(sun_path) */
    public static final int UNIX_PATH_MAX = 108;

    // errno values this library reacts to (asm-generic/errno-base.h)
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EPERM = 1;
    public static final int EACCES = 13;
    public static final int EEXIST = 17;
    public static final int ENOTDIR = 20;
    public static final int ELOOP = 40;
    public static final int ERANGE = 34;
    public static final int EADDRINUSE = 98;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int EPIPE = 32;
    public static final int ECONNRESET = 104;
    public static final int ECONNREFUSED = 111;

    /**
     * <pre>{@code
     * typedef union epoll_data { void *ptr; int fd; uint32_t u32; uint64_t u64; } epoll_data_t;
     * struct epoll_event { uint32_t events; epoll_data_t data; } __EPOLL_PACKED;  // packed on x86_64
     * }</pre>
     */
    public static final StructLayout EPOLL_EVENT = Availability.EPOLL_EVENT_LAYOUT;
    private static final VarHandle EV_EVENTS =
            EPOLL_EVENT.varHandle(MemoryLayout.PathElement.groupElement("events"));
    private static final VarHandle EV_DATA =
            EPOLL_EVENT.varHandle(MemoryLayout.PathElement.groupElement("data"));

    /** <pre>{@code struct pollfd { int fd; short events; short revents; }; }</pre> */
    private static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), ValueLayout.JAVA_SHORT.withName("events"),
            ValueLayout.JAVA_SHORT.withName("revents"));

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final StructLayout SCRATCH = MemoryLayout.structLayout(JAVA_LONG.withName("counter"), CAPTURE);

    /*
     * Each downcall handle lives in a holder class of its own, linked on first use: linking spins
     * classes (about 5 ms a handle at start-up), and a short-lived process such as the command uses
     * only some of the calls. A static final field of an initialized class is a constant to the JIT,
     * as it would be in Native itself.
     */
    static {
        Availability.ensureAvailable();   // before the linker, which fails less clearly
    }

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final Linker.Option ERRNO_CAPTURE = Linker.Option.captureCallState("errno");

    private static final class Eventfd { // int eventfd(unsigned int initval, int flags)
        static final MethodHandle HANDLE =
                bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Read { // ssize_t read(int fd, void *buf, size_t count)
        static final MethodHandle HANDLE =
                bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO_CAPTURE);
    }
    private static final class Pread { // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
        static final MethodHandle HANDLE =
                bind("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), ERRNO_CAPTURE);
    }
    private static final class Write { // ssize_t write(int fd, const void *buf, size_t count)
        static final MethodHandle HANDLE =
                bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), ERRNO_CAPTURE);
    }
    private static final class Close { // int close(int fd)
        static final MethodHandle HANDLE =
                bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Open { // int open(const char *path, int flags, ...)
        static final MethodHandle HANDLE =
                bind("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                        ERRNO_CAPTURE, Linker.Option.firstVariadicArg(2));
    }
    private static final class Poll { // int poll(struct pollfd *fds, nfds_t nfds, int timeout)
        static final MethodHandle HANDLE =
                bind("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class EpollCreate1 { // int epoll_create1(int flags)
        static final MethodHandle HANDLE =
                bind("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class EpollCtl { // int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
        static final MethodHandle HANDLE =
                bind("epoll_ctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
                        ERRNO_CAPTURE);
    }
    private static final class EpollWait { // int epoll_wait(int epfd, struct epoll_event *evs, int max, int timeout)
        static final MethodHandle HANDLE =
                bind("epoll_wait", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                        ERRNO_CAPTURE);
    }
    private static final class Strerror { // char *strerror(int errnum)
        static final MethodHandle HANDLE =
                LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(), FunctionDescriptor.of(
                        ADDRESS.withTargetLayout(MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)), JAVA_INT));
    }
    private static final class Socket { // int socket(int domain, int type, int protocol)
        static final MethodHandle HANDLE =
                bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Bind { // int bind(int fd, const struct sockaddr *addr, socklen_t len)
        static final MethodHandle HANDLE =
                bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Listen { // int listen(int fd, int backlog)
        static final MethodHandle HANDLE =
                bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Accept4 { // int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
        static final MethodHandle HANDLE =
                bind("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Connect { // int connect(int fd, const struct sockaddr *addr, socklen_t len)
        static final MethodHandle HANDLE =
                bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Sendmsg { // ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
        static final MethodHandle HANDLE =
                bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Recvmsg { // ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
        static final MethodHandle HANDLE =
                bind("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Getsockopt { // int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
        static final MethodHandle HANDLE =
                bind("getsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS),
                        ERRNO_CAPTURE);
    }
    private static final class Flock { // int flock(int fd, int operation)
        static final MethodHandle HANDLE =
                bind("flock", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Unlink { // int unlink(const char *path)
        static final MethodHandle HANDLE =
                bind("unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS), ERRNO_CAPTURE);
    }
    private static final class Openat { // int openat(int dirfd, const char *path, int flags, ...)
        static final MethodHandle HANDLE =
                bind("openat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                        ERRNO_CAPTURE, Linker.Option.firstVariadicArg(3));
    }
    private static final class Statx { // int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
        static final MethodHandle HANDLE =
                bind("statx", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS),
                        ERRNO_CAPTURE);
    }
    private static final class Fchmod { // int fchmod(int fd, mode_t mode)
        static final MethodHandle HANDLE =
                bind("fchmod", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Chmod { // int chmod(const char *path, mode_t mode)
        static final MethodHandle HANDLE =
                bind("chmod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Fchownat { // int fchownat(int dirfd, const char *path, uid_t uid, gid_t gid, int flags)
        static final MethodHandle HANDLE =
                bind("fchownat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT),
                        ERRNO_CAPTURE);
    }
    private static final class Unlinkat { // int unlinkat(int dirfd, const char *path, int flags)
        static final MethodHandle HANDLE =
                bind("unlinkat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Linkat { // int linkat(int olddirfd, const char *old, int newdirfd, const char *new, int flags)
        static final MethodHandle HANDLE =
                bind("linkat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT),
                        ERRNO_CAPTURE);
    }
    private static final class Geteuid { // uid_t geteuid(void)
        static final MethodHandle HANDLE =
                bind("geteuid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Getegid { // gid_t getegid(void)
        static final MethodHandle HANDLE =
                bind("getegid", FunctionDescriptor.of(JAVA_INT));
    }
    private static final class Getgroups { // int getgroups(int size, gid_t list[])
        static final MethodHandle HANDLE =
                bind("getgroups", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), ERRNO_CAPTURE);
    }
    private static final class MemfdCreate { // int memfd_create(const char *name, unsigned int flags)
        static final MethodHandle HANDLE =
                bind("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), ERRNO_CAPTURE);
    }
    private static final class Ftruncate { // int ftruncate(int fd, off_t length)
        static final MethodHandle HANDLE =
                bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), ERRNO_CAPTURE);
    }
    private static final class Mmap { // void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
        static final MethodHandle HANDLE =
                bind("mmap", FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
                        ERRNO_CAPTURE);
    }
    private static final class Munmap { // int munmap(void *addr, size_t len)
        static final MethodHandle HANDLE =
                bind("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), ERRNO_CAPTURE);
    }
    private static final class FcntlLock { // int fcntl(int fd, int cmd, struct flock *lock)
        static final MethodHandle HANDLE =
                bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS),
                        ERRNO_CAPTURE, Linker.Option.firstVariadicArg(2));
    }
    private static final class FcntlInt { // int fcntl(int fd, int cmd, int arg)
        static final MethodHandle HANDLE =
                bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
                        ERRNO_CAPTURE, Linker.Option.firstVariadicArg(2));
    }
    private static final class Syscall2 { // long syscall(long number, long, long): pidfd_open
        // syscall(2) reads every argument after the number as a long: pass longs, not ints
        static final MethodHandle HANDLE =
                bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                        ERRNO_CAPTURE, Linker.Option.firstVariadicArg(1));
    }

    private Native() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
        return LINKER.downcallHandle(
                LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name)),
                fd, options);
    }

    /**
     * Scratch memory private to one call, in one allocation: an 8-byte counter buffer at offset 0 and
     * the errno capture state at offset 8. The capture state is what the downcall handle takes first.
     */
    private static MemorySegment scratch(Arena arena) {
        return arena.allocate(SCRATCH);
    }

    /*
     * The calls on the hot path (counter reads and writes, readiness polls) take their scratch memory
     * from a small pool allocated once, instead of a confined arena per call: malloc, free and the
     * arena's bookkeeping cost more than the rest of the call's Java side. A ThreadLocal would not do,
     * since every virtual thread would get its own. A slot is claimed by CAS, starting at a place
     * chosen by the thread's id, and given back with a release store; when every slot is taken the
     * call falls back to a confined arena. Slots are 64 bytes apart, so claimers do not share lines.
     */
    private static final int POOL_SLOTS = 64;
    private static final long SLOT_BYTES = 64;
    private static final MemorySegment[] POOL = new MemorySegment[POOL_SLOTS];
    private static final java.util.concurrent.atomic.AtomicIntegerArray POOL_TAKEN =
            new java.util.concurrent.atomic.AtomicIntegerArray(POOL_SLOTS * 16);   // one int per 64 bytes

    static {
        MemorySegment all = Arena.global().allocate(POOL_SLOTS * SLOT_BYTES, 64);
        for (int i = 0; i < POOL_SLOTS; i++) POOL[i] = all.asSlice(i * SLOT_BYTES, SLOT_BYTES);
    }

    /** @return a free pool slot, or -1 if all are taken */
    private static int claimSlot() {
        int start = (int) Thread.currentThread().threadId();
        for (int i = 0; i < POOL_SLOTS; i++) {
            int slot = (start + i) & (POOL_SLOTS - 1);
            if (POOL_TAKEN.get(slot * 16) == 0 && POOL_TAKEN.compareAndSet(slot * 16, 0, 1)) return slot;
        }
        return -1;
    }

    private static void freeSlot(int slot) {
        POOL_TAKEN.setRelease(slot * 16, 0);
    }

    private static MemorySegment captureState(MemorySegment scratch) {
        return scratch.asSlice(8);
    }

    private static MemorySegment counterBuffer(MemorySegment scratch) {
        return scratch.asSlice(0, 8);
    }

    private static int errno(MemorySegment scratch) {
        return (int) ERRNO.get(captureState(scratch), 0L);
    }

    static NativeCallException failure(String call, int errno) {
        return new NativeCallException(call, errno, Errno.name(errno), strerror(errno));
    }

    private static AssertionError unexpected(Throwable t) {
        return new AssertionError("unexpected failure of a native downcall", t);
    }

    // ------------------------------------------------------------------ eventfd

    /** Creates an eventfd; flags are {@code EFD_*}. */
    public static int eventfd(int initval, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) Eventfd.HANDLE.invokeExact(captureState(s), initval, flags);
            if (fd < 0) throw failure("eventfd", errno(s));
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Reads an eventfd counter without blocking.
     *
     * @return the value read (1 for an {@code EFD_SEMAPHORE} descriptor, the whole count otherwise), or
     *         {@code 0} when the counter is zero ({@code EAGAIN})
     */
    public static long readCounter(int fd) {
        int slot = claimSlot();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                return readCounter(fd, scratch(arena));
            }
        }
        try {
            return readCounter(fd, POOL[slot]);
        } finally {
            freeSlot(slot);
        }
    }

    private static long readCounter(int fd, MemorySegment s) {
        try {
            MemorySegment buf = counterBuffer(s);
            long n = (long) Read.HANDLE.invokeExact(captureState(s), fd, buf, 8L);
            if (n == 8) return buf.get(JAVA_LONG, 0);
            if (n < 0) {
                int e = errno(s);
                if (e == EAGAIN) return 0;
                throw failure("read", e);
            }
            throw new NativeCallException("read", 0, "EIO", "short read of " + n + " bytes from an eventfd");
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Adds {@code value} to an eventfd counter without blocking.
     *
     * @return {@code true} if added, {@code false} if the counter cannot take it ({@code EAGAIN}: the sum
     *         would pass {@code 0xfffffffffffffffe})
     */
    public static boolean writeCounter(int fd, long value) {
        int slot = claimSlot();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                return writeCounter(fd, value, scratch(arena));
            }
        }
        try {
            return writeCounter(fd, value, POOL[slot]);
        } finally {
            freeSlot(slot);
        }
    }

    private static boolean writeCounter(int fd, long value, MemorySegment s) {
        try {
            MemorySegment buf = counterBuffer(s);
            buf.set(JAVA_LONG, 0, value);
            long n = (long) Write.HANDLE.invokeExact(captureState(s), fd, buf, 8L);
            if (n == 8) return true;
            if (n < 0) {
                int e = errno(s);
                if (e == EAGAIN) return false;
                throw failure("write", e);
            }
            throw new NativeCallException("write", 0, "EIO", "short write of " + n + " bytes to an eventfd");
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Whether {@code fd} is readable now ({@code poll} with a zero timeout: never waits). */
    public static boolean isReadable(int fd) {
        if (fd < 0) throw failure("poll", EBADF);  // poll(2) silently skips negative descriptors
        int slot = claimSlot();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                return isReadable(fd, arena.allocate(SLOT_BYTES, 8));
            }
        }
        try {
            return isReadable(fd, POOL[slot]);
        } finally {
            freeSlot(slot);
        }
    }

    /** @param s scratch memory: the capture state as for every call, then a pollfd at offset 32 */
    private static boolean isReadable(int fd, MemorySegment s) {
        try {
            MemorySegment pfd = s.asSlice(32, POLLFD.byteSize());
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(ValueLayout.JAVA_SHORT, 4, POLLIN);
            int r = (int) Poll.HANDLE.invokeExact(captureState(s), pfd, 1L, 0);
            if (r < 0) throw failure("poll", errno(s));
            short revents = pfd.get(ValueLayout.JAVA_SHORT, 6);
            if ((revents & 0x20) != 0) throw failure("poll", EBADF); // POLLNVAL: not an open descriptor
            return (revents & POLLIN) != 0;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Closes a descriptor. {@code EINTR} still releases the descriptor on Linux, so it is not an error. */
    public static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int r = (int) Close.HANDLE.invokeExact(captureState(s), fd);
            if (r < 0 && errno(s) != EINTR) throw failure("close", errno(s));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Opens a file read-only with {@code O_CLOEXEC}. */
    public static int openReadOnly(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) Open.HANDLE.invokeExact(captureState(s), arena.allocateFrom(path), O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) throw failure("open " + path, errno(s));
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Reads up to {@code max} bytes at offset 0 of {@code fd} (a {@code /proc} text file) as ASCII. */
    public static String preadText(int fd, int max) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment buf = arena.allocate(max);
            long n = (long) Pread.HANDLE.invokeExact(captureState(s), fd, buf, (long) max, 0L);
            if (n < 0) throw failure("pread", errno(s));
            return new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ------------------------------------------------------------------ epoll

    public static int epollCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) EpollCreate1.HANDLE.invokeExact(captureState(s), EPOLL_CLOEXEC);
            if (fd < 0) throw failure("epoll_create1", errno(s));
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code epoll_ctl(epfd, op, fd, {events, data})}.
     *
     * @return 0, or {@code -errno} when that errno is {@code tolerated} (e.g. {@code ENOENT} for a
     *         {@code MOD} of a descriptor not yet added)
     */
    public static int epollCtl(int epfd, int op, int fd, int events, long data, int tolerated) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment ev = arena.allocate(EPOLL_EVENT);
            EV_EVENTS.set(ev, 0L, events);
            EV_DATA.set(ev, 0L, data);
            int r = (int) EpollCtl.HANDLE.invokeExact(captureState(s), epfd, op, fd, ev);
            if (r == 0) return 0;
            int e = errno(s);
            if (e == tolerated) return -e;
            throw failure("epoll_ctl(" + opName(op) + ", fd " + fd + ")", e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static String opName(int op) {
        return switch (op) {
            case EPOLL_CTL_ADD -> "EPOLL_CTL_ADD";
            case EPOLL_CTL_DEL -> "EPOLL_CTL_DEL";
            case EPOLL_CTL_MOD -> "EPOLL_CTL_MOD";
            default -> "op " + op;
        };
    }

    /**
     * {@code epoll_wait} into {@code events} (an array of {@link #EPOLL_EVENT}); the caller owns the
     * segment and the capture state. Only the poller thread calls this: it is the one blocking call.
     *
     * @return the number of events, or 0 if interrupted by a signal ({@code EINTR})
     */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis,
                                MemorySegment captureState) {
        try {
            int n = (int) EpollWait.HANDLE.invokeExact(captureState, epfd, events, maxEvents, timeoutMillis);
            if (n >= 0) return n;
            int e = (int) ERRNO.get(captureState, 0L);
            if (e == EINTR) return 0;
            throw failure("epoll_wait", e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Capture-state memory for a caller that makes many calls from one thread (the poller). */
    public static MemorySegment allocateCaptureState(Arena arena) {
        return arena.allocate(CAPTURE);
    }

    public static int eventEvents(MemorySegment events, int index) {
        return (int) EV_EVENTS.get(events, index * EPOLL_EVENT.byteSize());
    }

    public static long eventData(MemorySegment events, int index) {
        return (long) EV_DATA.get(events, index * EPOLL_EVENT.byteSize());
    }

    // ------------------------------------------------------------------ UNIX sockets and files

    /**
     * <pre>{@code struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; };}</pre>
     */
    private static MemorySegment sockaddr(Arena arena, String path) {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= UNIX_PATH_MAX) {
            throw new IllegalArgumentException("socket path longer than " + (UNIX_PATH_MAX - 1) + " bytes: " + path);
        }
        MemorySegment addr = arena.allocate(2 + UNIX_PATH_MAX, 2);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, addr, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return addr;
    }

    /** A non-blocking, close-on-exec {@code AF_UNIX} stream socket. */
    static int unixSocket() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) Socket.HANDLE.invokeExact(captureState(s), AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) throw failure("socket", errno(s));
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code bind} then {@code listen}. */
    static void bindAndListen(int fd, String path, int backlog) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment addr = sockaddr(arena, path);
            if ((int) Bind.HANDLE.invokeExact(captureState(s), fd, addr, (int) addr.byteSize()) < 0) {
                throw failure("bind " + path, errno(s));
            }
            if ((int) Listen.HANDLE.invokeExact(captureState(s), fd, backlog) < 0) throw failure("listen " + path, errno(s));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** @return 0, or {@code -errno} for ECONNREFUSED, ENOENT and EAGAIN (no listener, no file, backlog full) */
    static int connect(int fd, String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment addr = sockaddr(arena, path);
            if ((int) Connect.HANDLE.invokeExact(captureState(s), fd, addr, (int) addr.byteSize()) == 0) return 0;
            int e = errno(s);
            if (e == ECONNREFUSED || e == ENOENT || e == EAGAIN) return -e;
            throw failure("connect " + path, e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** @return a new non-blocking, close-on-exec connection, or -1 if none is pending */
    static int accept(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int c = (int) Accept4.HANDLE.invokeExact(captureState(s), fd, MemorySegment.NULL, MemorySegment.NULL,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c >= 0) return c;
            int e = errno(s);
            if (e == EAGAIN || e == ECONNRESET || e == 103 /* ECONNABORTED */) return -1;
            throw failure("accept4", e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * <pre>{@code
     * struct iovec  { void *iov_base; size_t iov_len; };
     * struct msghdr { void *msg_name; socklen_t msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
     *                 void *msg_control; size_t msg_controllen; int msg_flags; };
     * struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; unsigned char data[]; };
     * }</pre>
     */
    private static final StructLayout MSGHDR = MemoryLayout.structLayout(
            ADDRESS.withName("name"), JAVA_INT.withName("namelen"), MemoryLayout.paddingLayout(4),
            ADDRESS.withName("iov"), JAVA_LONG.withName("iovlen"),
            ADDRESS.withName("control"), JAVA_LONG.withName("controllen"),
            JAVA_INT.withName("flags"), MemoryLayout.paddingLayout(4));
    private static final long CMSG_HEADER = 16;

    private static long cmsgSpace(int fds) {
        return CMSG_HEADER + ((fds * 4L + 7) & ~7L);
    }

    /**
     * Sends {@code data} and, as {@code SCM_RIGHTS}, {@code fds} in one {@code sendmsg}.
     *
     * @return bytes sent, or {@code -errno} for EAGAIN, EPIPE and ECONNRESET
     */
    static long sendWithFds(int fd, byte[] data, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, data.length);
            MemorySegment msg = arena.allocate(MSGHDR);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1L);
            if (fds.length > 0) {
                MemorySegment control = arena.allocate(cmsgSpace(fds.length), 8);
                control.set(JAVA_LONG, 0, CMSG_HEADER + fds.length * 4L);
                control.set(JAVA_INT, 8, SOL_SOCKET);
                control.set(JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) control.set(JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
                msg.set(ADDRESS, 32, control);
                msg.set(JAVA_LONG, 40, control.byteSize());
            }
            long n = (long) Sendmsg.HANDLE.invokeExact(captureState(s), fd, msg, MSG_NOSIGNAL);
            if (n >= 0) return n;
            int e = errno(s);
            if (e == EAGAIN || e == EPIPE || e == ECONNRESET) return -e;
            throw failure("sendmsg", e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** What one {@code recvmsg} brought: bytes (empty at end of stream) and received descriptors. */
    record Received(byte[] data, int[] fds, boolean truncated) {}

    /**
     * One {@code recvmsg} of up to {@code max} bytes and {@code maxFds} descriptors, received
     * close-on-exec ({@code MSG_CMSG_CLOEXEC}).
     *
     * @return what came, or {@code null} if nothing is available yet ({@code EAGAIN})
     */
    static Received receiveWithFds(int fd, int max, int maxFds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment buf = arena.allocate(max);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ADDRESS, 0, buf);
            iov.set(JAVA_LONG, 8, max);
            MemorySegment msg = arena.allocate(MSGHDR);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1L);
            MemorySegment control = arena.allocate(cmsgSpace(Math.max(1, maxFds)), 8);
            msg.set(ADDRESS, 32, control);
            msg.set(JAVA_LONG, 40, control.byteSize());
            long n = (long) Recvmsg.HANDLE.invokeExact(captureState(s), fd, msg, MSG_CMSG_CLOEXEC);
            if (n < 0) {
                int e = errno(s);
                if (e == EAGAIN) return null;
                if (e == ECONNRESET) return new Received(new byte[0], new int[0], false);
                throw failure("recvmsg", e);
            }
            int flags = msg.get(JAVA_INT, 48);
            int[] fds = new int[0];
            long controlLen = msg.get(JAVA_LONG, 40);
            if (controlLen >= CMSG_HEADER && control.get(JAVA_INT, 8) == SOL_SOCKET
                    && control.get(JAVA_INT, 12) == SCM_RIGHTS) {
                int count = (int) ((control.get(JAVA_LONG, 0) - CMSG_HEADER) / 4);
                fds = new int[count];
                for (int i = 0; i < count; i++) fds[i] = control.get(JAVA_INT, CMSG_HEADER + 4L * i);
            }
            return new Received(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), fds, (flags & MSG_CTRUNC) != 0);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code SO_PEERCRED} and {@code SO_PEERGROUPS}: the process at the other end as of its connect (or,
     * seen from a client, the listener as of its listen). The pid is in this process's PID namespace
     * (0 when the peer is outside it) and may name another process once the peer has exited: it is for
     * messages, never for a decision. {@code groups} are the peer's supplementary groups, captured by
     * the kernel with the credentials.
     */
    record PeerCredentials(int pid, int uid, int gid, int[] groups) {
        PeerCredentials(int pid, int uid, int gid) {
            this(pid, uid, gid, new int[0]);
        }

        @Override
        public String toString() {
            return "PeerCredentials[pid=" + pid + ", uid=" + uid + ", gid=" + gid + ", groups="
                    + java.util.Arrays.toString(groups) + "]";
        }
    }

    static PeerCredentials peerCredentials(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment cred = arena.allocate(12, 4);   // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 12);
            if ((int) Getsockopt.HANDLE.invokeExact(captureState(s), fd, SOL_SOCKET, SO_PEERCRED, cred, len) < 0) {
                throw failure("getsockopt(SO_PEERCRED)", errno(s));
            }
            int[] groups = new int[0];
            for (int room = 64; ; room *= 4) {             // ERANGE: len now says how many bytes they need
                MemorySegment list = arena.allocate(4L * room, 4);
                len.set(JAVA_INT, 0, 4 * room);
                if ((int) Getsockopt.HANDLE.invokeExact(captureState(s), fd, SOL_SOCKET, SO_PEERGROUPS, list, len) == 0) {
                    groups = list.asSlice(0, len.get(JAVA_INT, 0)).toArray(JAVA_INT);
                    break;
                }
                int e = errno(s);
                if (e != ERANGE || room > 65536) throw failure("getsockopt(SO_PEERGROUPS)", e);
            }
            return new PeerCredentials(cred.get(JAVA_INT, 0), cred.get(JAVA_INT, 4), cred.get(JAVA_INT, 8), groups);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code openat(dirfd, name, flags, mode)}, close-on-exec.
     *
     * @return the descriptor, or {@code -errno} when that errno is one of {@code tolerated}
     */
    static int openAt(int dirfd, String name, int flags, int mode, int... tolerated) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) Openat.HANDLE.invokeExact(captureState(s), dirfd, arena.allocateFrom(name), flags | O_CLOEXEC, mode);
            if (fd >= 0) return fd;
            int e = errno(s);
            for (int t : tolerated) if (e == t) return -e;
            throw failure("openat " + name, e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** What {@code statx} says about a file: type and permission bits, owner, links and identity. */
    record FileStatus(int mode, int uid, int gid, int links, long dev, long ino) {
        int type() {
            return mode & S_IFMT;
        }

        int permissions() {
            return mode & 07777;
        }

        /** Whether {@code other} is the same file (device and inode). */
        boolean sameFile(FileStatus other) {
            return other != null && dev == other.dev && ino == other.ino;
        }
    }

    /*
     * struct statx (the same layout on every architecture): u32 mask @0, u32 blksize @4, u64 attributes
     * @8, u32 nlink @16, u32 uid @20, u32 gid @24, u16 mode @28, u64 ino @32, ..., u32 dev_major @136,
     * u32 dev_minor @140; 256 bytes in all.
     */
    private static final long STATX_BYTES = 256;
    private static final int STATX_BASIC_STATS = 0x7ff;

    /** {@code fstat(fd)}, through {@code statx(fd, "", AT_EMPTY_PATH)} (works on O_PATH descriptors too). */
    static FileStatus fstat(int fd) {
        FileStatus st = statx(fd, "", AT_EMPTY_PATH, "fstat");
        if (st == null) throw failure("fstat", ENOENT);
        return st;
    }

    /** {@code fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW)}: a link is described, not followed. @return null if there is no such entry */
    static FileStatus lstatAt(int dirfd, String name) {
        return statx(dirfd, name, AT_SYMLINK_NOFOLLOW, "fstatat " + name);
    }

    private static FileStatus statx(int dirfd, String name, int flags, String call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment buf = arena.allocate(STATX_BYTES, 8);
            if ((int) Statx.HANDLE.invokeExact(captureState(s), dirfd, arena.allocateFrom(name), flags, STATX_BASIC_STATS, buf) < 0) {
                int e = errno(s);
                if (e == ENOENT && !name.isEmpty()) return null;
                throw failure(call, e);
            }
            long dev = ((long) buf.get(JAVA_INT, 136) << 32) | (buf.get(JAVA_INT, 140) & 0xffffffffL);
            return new FileStatus(buf.get(ValueLayout.JAVA_SHORT, 28) & 0xffff, buf.get(JAVA_INT, 20),
                    buf.get(JAVA_INT, 24), buf.get(JAVA_INT, 16), dev, buf.get(JAVA_LONG, 32));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code fchmod(fd, mode)}. */
    static void fchmod(int fd, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Fchmod.HANDLE.invokeExact(captureState(s), fd, mode) < 0) throw failure("fchmod", errno(s));
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Changes the mode of the file an {@code O_PATH} descriptor refers to, through its
     * {@code /proc/self/fd} link ({@code fchmod} does not take O_PATH descriptors; the link resolves to
     * the descriptor's own file, never to a path looked up again).
     */
    static void fchmodPath(int opathFd, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Chmod.HANDLE.invokeExact(captureState(s), arena.allocateFrom("/proc/self/fd/" + opathFd), mode) < 0) {
                throw failure("chmod /proc/self/fd/" + opathFd, errno(s));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code fchownat(fd, "", -1, gid, AT_EMPTY_PATH)}: changes the group of the descriptor's file (O_PATH too). */
    static void fchgrp(int fd, int gid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Fchownat.HANDLE.invokeExact(captureState(s), fd, arena.allocateFrom(""), -1, gid, AT_EMPTY_PATH) < 0) {
                throw failure("fchown", errno(s));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code unlinkat(dirfd, name, 0)}. @return 0, or {@code -errno} for ENOENT, EPERM and EACCES */
    static int unlinkAt(int dirfd, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Unlinkat.HANDLE.invokeExact(captureState(s), dirfd, arena.allocateFrom(name), 0) == 0) return 0;
            int e = errno(s);
            if (e == ENOENT || e == EPERM || e == EACCES) return -e;
            throw failure("unlinkat " + name, e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code linkat(dirfd, from, dirfd, to, 0)}: never replaces an entry. @return 0, or {@code -EEXIST} */
    static int linkAt(int dirfd, String from, String to) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Linkat.HANDLE.invokeExact(captureState(s), dirfd, arena.allocateFrom(from), dirfd,
                    arena.allocateFrom(to), 0) == 0) {
                return 0;
            }
            int e = errno(s);
            if (e == EEXIST) return -e;
            throw failure("linkat " + to, e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code geteuid()}. */
    static int geteuid() {
        try {
            return (int) Geteuid.HANDLE.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code getegid()} followed by {@code getgroups()}: every group this process acts with. */
    static int[] groups() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int egid = (int) Getegid.HANDLE.invokeExact();
            int n = (int) Getgroups.HANDLE.invokeExact(captureState(s), 0, MemorySegment.NULL);
            if (n < 0) throw failure("getgroups", errno(s));
            MemorySegment list = arena.allocate(4L * (n + 2), 4);  // egid first, room for one group more
            n = (int) Getgroups.HANDLE.invokeExact(captureState(s), n + 1, list.asSlice(4));
            if (n < 0) throw failure("getgroups", errno(s));
            list.set(JAVA_INT, 0, egid);
            return list.asSlice(0, 4L * (n + 1)).toArray(JAVA_INT);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * {@code flock(fd, LOCK_EX | LOCK_NB)}: never waits. Polled by lock waiters, so it takes its
     * scratch memory from the pool, as the counter calls do.
     *
     * @return whether the lock was taken
     */
    static boolean tryLockExclusive(int fd) {
        int slot = claimSlot();
        if (slot < 0) {
            try (Arena arena = Arena.ofConfined()) {
                return tryLockExclusive(fd, scratch(arena));
            }
        }
        try {
            return tryLockExclusive(fd, POOL[slot]);
        } finally {
            freeSlot(slot);
        }
    }

    private static boolean tryLockExclusive(int fd, MemorySegment s) {
        try {
            if ((int) Flock.HANDLE.invokeExact(captureState(s), fd, LOCK_EX | LOCK_NB) == 0) return true;
            int e = errno(s);
            if (e == EAGAIN || e == EINTR) return false;
            throw failure("flock", e);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Removes a file; a file already gone is not an error. */
    static void unlink(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Unlink.HANDLE.invokeExact(captureState(s), arena.allocateFrom(path)) < 0 && errno(s) != ENOENT) {
                throw failure("unlink " + path, errno(s));
            }
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ------------------------------------------------------------------ shared memory

    /**
     * {@code memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)} of {@code bytes} bytes (zeroed),
     * sealed against shrinking, growing and further seals: a process that maps it can never be made
     * to touch a page that is gone (SIGBUS).
     */
    static int memfdCreate(String name, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) MemfdCreate.HANDLE.invokeExact(captureState(s), arena.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (fd < 0) throw failure("memfd_create", errno(s));
            String call = null;
            if ((int) Ftruncate.HANDLE.invokeExact(captureState(s), fd, bytes) < 0) call = "ftruncate";
            else if ((int) FcntlInt.HANDLE.invokeExact(captureState(s), fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
                call = "fcntl F_ADD_SEALS";
            }
            if (call != null) {
                int e = errno(s);
                close(fd);
                throw failure(call, e);
            }
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code fcntl(fd, F_GET_SEALS)}: the memfd's seals, or -1 if the file is not a memfd (EINVAL). */
    static int seals(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            return (int) FcntlInt.HANDLE.invokeExact(captureState(s), fd, F_GET_SEALS, 0);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The size in bytes of the file {@code fd} refers to ({@code statx} {@code stx_size}). */
    static long fileSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment buf = arena.allocate(STATX_BYTES, 8);
            if ((int) Statx.HANDLE.invokeExact(captureState(s), fd, arena.allocateFrom(""), AT_EMPTY_PATH, STATX_BASIC_STATS, buf) < 0) {
                throw failure("fstat", errno(s));
            }
            return buf.get(JAVA_LONG, 40);
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * Opens the file {@code fd} refers to again, read-write and close-on-exec, through its
     * {@code /proc/self/fd} link: a new open file description of the same file, so that its OFD locks
     * are this process's own (a descriptor received over {@code SCM_RIGHTS} shares the sender's).
     */
    static int reopen(int fd) {
        String path = "/proc/self/fd/" + fd;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int r = (int) Open.HANDLE.invokeExact(captureState(s), arena.allocateFrom(path), O_RDWR | O_CLOEXEC | O_NOCTTY, 0);
            if (r < 0) throw failure("open " + path, errno(s));
            return r;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)}. @return the address */
    static long mapShared(int fd, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            long addr = (long) Mmap.HANDLE.invokeExact(captureState(s), MemorySegment.NULL, bytes, PROT_READ | PROT_WRITE,
                    MAP_SHARED, fd, 0L);
            if (addr == -1L) throw failure("mmap", errno(s));
            return addr;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** {@code munmap(addr, bytes)}; a failure (only for a bad argument) is a bug, reported as an error. */
    static void unmap(long addr, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            if ((int) Munmap.HANDLE.invokeExact(captureState(s), addr, bytes) < 0) throw new AssertionError(failure("munmap", errno(s)));
        } catch (AssertionError e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** pidfd_open's number: 434 on every architecture (it came after the tables were unified). */
    private static final long SYS_PIDFD_OPEN = 434;

    /**
     * {@code pidfd_open(pid, 0)}: a descriptor for the process {@code pid} of this process's PID
     * namespace, readable ({@code EPOLLIN}) once it has exited. Passed to another process, it keeps
     * naming the same process whatever that process's namespace numbers it.
     */
    static int pidfdOpen(long pid) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            int fd = (int) (long) Syscall2.HANDLE.invokeExact(captureState(s), SYS_PIDFD_OPEN, pid, 0L);
            if (fd < 0) throw failure("pidfd_open", errno(s));
            return fd;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /*
     * struct flock (x86_64 and aarch64): short l_type @0, short l_whence @2, off_t l_start @8,
     * off_t l_len @16, pid_t l_pid @24 (0 for OFD locks); 32 bytes in all.
     */
    private static final long FLOCK_BYTES = 32;

    /**
     * An open file description lock on byte {@code index} of {@code fd}'s file: taken
     * ({@code F_OFD_SETLK}, a write lock, or with op 3 a read lock, which needs only read access),
     * dropped, or tested ({@code F_OFD_GETLK}: whether a lock of another open file description, read
     * or write, holds it). Never waits.
     *
     * @param op 0 take, 1 drop, 2 test, 3 take shared
     * @return take: whether it was taken; drop: true; test: whether another description holds it
     */
    static boolean byteLock(int fd, long index, int op) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = scratch(arena);
            MemorySegment fl = arena.allocate(FLOCK_BYTES, 8);
            fl.set(ValueLayout.JAVA_SHORT, 0, op == 1 ? F_UNLCK : op == 3 ? F_RDLCK : F_WRLCK);
            fl.set(JAVA_LONG, 8, index);
            fl.set(JAVA_LONG, 16, 1L);
            int cmd = op == 2 ? F_OFD_GETLK : F_OFD_SETLK;
            if ((int) FcntlLock.HANDLE.invokeExact(captureState(s), fd, cmd, fl) < 0) {
                int e = errno(s);
                if ((op == 0 || op == 3) && (e == EAGAIN || e == EACCES)) return false;
                throw failure(op == 2 ? "fcntl F_OFD_GETLK" : "fcntl F_OFD_SETLK", e);
            }
            return op != 2 || fl.get(ValueLayout.JAVA_SHORT, 0) != F_UNLCK;
        } catch (NativeCallException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ------------------------------------------------------------------ errors

    /** The C library's description of an errno, e.g. "Too many open files". */
    static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) Strerror.HANDLE.invokeExact(errno);
            return p.getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
