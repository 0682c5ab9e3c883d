package dev.eventfd.sync.testutil;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * A non-JVM child process that shares descriptors of this JVM: descriptor {@code fds[i]} of this JVM is
 * descriptor {@code 3 + i} in the child. Test code only.
 *
 * <p>{@link ProcessBuilder} closes every descriptor above 2 in its children, so this starts the child
 * with {@code posix_spawnp(3)} through the FFM API: the file actions {@code dup2} each shared descriptor
 * onto its place (dup2 clears {@code FD_CLOEXEC} on the target, and the library's descriptors are
 * close-on-exec), going through high temporary numbers first so that a source that happens to be
 * numbered like another target is never overwritten, and then close every other inherited descriptor
 * ({@code posix_spawn_file_actions_addclosefrom_np}, glibc 2.34+, when available). The child's stdin is
 * {@code /dev/null}; its stdout and stderr go to a temporary file, read by {@link #output()}. It gets
 * this JVM's environment.
 *
 * <p>The child is reaped with {@code waitpid(pid, WNOHANG)} in a loop with short parks, so waiting
 * never blocks in native code. {@link #close()} kills a child that is still running (SIGKILL), reaps it
 * and deletes the output file. Every native failure names the call.
 */
@SuppressWarnings("restricted")
public final class PeerProcess implements AutoCloseable {

    /** How a child ended: {@code exitCode} if it exited, else {@code signal} (and exitCode -1). */
    public record Result(int exitCode, int signal, String output) {
        public boolean exitedNormally() {
            return signal == 0;
        }

        @Override
        public String toString() {
            return (signal == 0 ? "exit code " + exitCode : "killed by signal " + signal) + ", output:\n" + output;
        }
    }

    private static final int O_RDONLY = 0;
    private static final int O_WRONLY = 1;
    private static final int O_CREAT = 0x40;
    private static final int O_TRUNC = 0x200;
    private static final int WNOHANG = 1;
    private static final int SIGKILL = 9;
    private static final int ECHILD = 10;
    private static final int EINTR = 4;
    private static final int ESRCH = 3;
    /** {@code sizeof(posix_spawn_file_actions_t)} is 80 on glibc x86_64 and aarch64; allocate more. */
    private static final long FILE_ACTIONS_SIZE = 256;

    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle FA_INIT;      // int posix_spawn_file_actions_init(fa *)
    private static final MethodHandle FA_DESTROY;   // int posix_spawn_file_actions_destroy(fa *)
    private static final MethodHandle FA_ADDDUP2;   // int ..._adddup2(fa *, int fd, int newfd)
    private static final MethodHandle FA_ADDCLOSE;  // int ..._addclose(fa *, int fd)
    private static final MethodHandle FA_ADDOPEN;   // int ..._addopen(fa *, int fd, const char *path, int oflag, mode_t mode)
    private static final MethodHandle FA_CLOSEFROM; // int ..._addclosefrom_np(fa *, int from); null if absent
    private static final MethodHandle SPAWNP;       // int posix_spawnp(pid_t *, const char *, fa *, attr *, char *const argv[], char *const envp[])
    private static final MethodHandle WAITPID;      // pid_t waitpid(pid_t, int *status, int options)
    private static final MethodHandle KILL;         // int kill(pid_t, int sig)
    private static final MethodHandle STRERROR;     // char *strerror(int)

    static {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        Linker.Option errno = Linker.Option.captureCallState("errno");
        FA_INIT = bind(linker, libc, "posix_spawn_file_actions_init", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        FA_DESTROY = bind(linker, libc, "posix_spawn_file_actions_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
        FA_ADDDUP2 = bind(linker, libc, "posix_spawn_file_actions_adddup2",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        FA_ADDCLOSE = bind(linker, libc, "posix_spawn_file_actions_addclose",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        FA_ADDOPEN = bind(linker, libc, "posix_spawn_file_actions_addopen",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
        FA_CLOSEFROM = libc.find("posix_spawn_file_actions_addclosefrom_np")
                .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)))
                .orElse(null);
        SPAWNP = bind(linker, libc, "posix_spawnp",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
        WAITPID = bind(linker, libc, "waitpid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), errno);
        KILL = bind(linker, libc, "kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
        STRERROR = bind(linker, libc, "strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static MethodHandle bind(Linker linker, SymbolLookup libc, String name, FunctionDescriptor fd,
                                     Linker.Option... options) {
        return linker.downcallHandle(
                libc.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name)), fd, options);
    }

    private final int pid;
    private final List<String> argv;
    private final Path outputFile;
    /** The raw wait status once reaped; guarded by this. */
    private Integer status;

    private PeerProcess(int pid, List<String> argv, Path outputFile) {
        this.pid = pid;
        this.argv = argv;
        this.outputFile = outputFile;
    }

    /** The Python peer script (src/test/resources/peers/eventfd_peer.py) as a file. */
    public static Path peerScript() {
        for (Path p : List.of(ForkedJvm.testClasses().resolve("peers/eventfd_peer.py"),
                ForkedJvm.baseDir().resolve("src/test/resources/peers/eventfd_peer.py"))) {
            if (Files.isRegularFile(p)) return p;
        }
        throw new IllegalStateException("peers/eventfd_peer.py not found under " + ForkedJvm.baseDir());
    }

    /**
     * Starts {@code python3 -u eventfd_peer.py <steps>} with {@code fds[i]} as descriptor {@code 3 + i}.
     * See the script for the steps.
     */
    public static PeerProcess python(int[] fds, String... steps) {
        List<String> argv = new ArrayList<>(List.of("python3", "-u", peerScript().toString()));
        argv.addAll(List.of(steps));
        return start(argv, fds);
    }

    /**
     * Starts {@code argv} (the program is looked up in PATH) with {@code fds[i]} of this JVM as
     * descriptor {@code 3 + i} of the child, and no other descriptor above 2 where glibc allows closing
     * them.
     */
    public static PeerProcess start(List<String> argv, int... fds) {
        if (argv.isEmpty()) throw new IllegalArgumentException("empty argv");
        for (int fd : fds) if (fd < 0) throw new IllegalArgumentException("bad descriptor " + fd);
        Path out;
        try {
            out = Files.createTempFile("peer-process-", ".log");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fa = arena.allocate(FILE_ACTIONS_SIZE, 16);
            check("posix_spawn_file_actions_init", (int) FA_INIT.invokeExact(fa));
            try {
                // First to numbers above every source and every target, then onto 3, 4, ...: a source
                // numbered like another target (or like 0, 1, 2) is then never overwritten before it is
                // copied.
                int base = 3 + fds.length;
                for (int fd : fds) base = Math.max(base, fd + 1);
                for (int i = 0; i < fds.length; i++) {
                    check("posix_spawn_file_actions_adddup2(" + fds[i] + ", " + (base + i) + ")",
                            (int) FA_ADDDUP2.invokeExact(fa, fds[i], base + i));
                }
                // stdio after the sources are safe, so that even 0, 1 or 2 can be shared
                check("posix_spawn_file_actions_addopen(0, /dev/null)", (int) FA_ADDOPEN.invokeExact(fa, 0,
                        arena.allocateFrom("/dev/null"), O_RDONLY, 0));
                check("posix_spawn_file_actions_addopen(1, " + out + ")", (int) FA_ADDOPEN.invokeExact(fa, 1,
                        arena.allocateFrom(out.toString()), O_WRONLY | O_CREAT | O_TRUNC, 0600));
                check("posix_spawn_file_actions_adddup2(1, 2)", (int) FA_ADDDUP2.invokeExact(fa, 1, 2));
                for (int i = 0; i < fds.length; i++) {
                    check("posix_spawn_file_actions_adddup2(" + (base + i) + ", " + (3 + i) + ")",
                            (int) FA_ADDDUP2.invokeExact(fa, base + i, 3 + i));
                    check("posix_spawn_file_actions_addclose(" + (base + i) + ")",
                            (int) FA_ADDCLOSE.invokeExact(fa, base + i));
                }
                if (FA_CLOSEFROM != null) {
                    check("posix_spawn_file_actions_addclosefrom_np(" + (3 + fds.length) + ")",
                            (int) FA_CLOSEFROM.invokeExact(fa, 3 + fds.length));
                }
                MemorySegment argvC = cStrings(arena, argv);
                List<String> env = new ArrayList<>();
                for (Map.Entry<String, String> e : System.getenv().entrySet()) env.add(e.getKey() + "=" + e.getValue());
                MemorySegment envC = cStrings(arena, env);
                MemorySegment pidOut = arena.allocate(JAVA_INT);
                int rc = (int) SPAWNP.invokeExact(pidOut, arena.allocateFrom(argv.getFirst()), fa,
                        MemorySegment.NULL, argvC, envC);
                check("posix_spawnp(" + argv.getFirst() + ")", rc);
                return new PeerProcess(pidOut.get(JAVA_INT, 0), List.copyOf(argv), out);
            } finally {
                int ignored = (int) FA_DESTROY.invokeExact(fa);
            }
        } catch (RuntimeException | Error e) {
            deleteQuietly(out);
            throw e;
        } catch (Throwable t) {
            deleteQuietly(out);
            throw new AssertionError("unexpected failure of a native downcall", t);
        }
    }

    /** A NULL-terminated {@code char *[]} of NUL-terminated UTF-8 strings allocated in {@code arena}. */
    private static MemorySegment cStrings(Arena arena, List<String> strings) {
        MemorySegment array = arena.allocate(ADDRESS, strings.size() + 1L);
        for (int i = 0; i < strings.size(); i++) array.setAtIndex(ADDRESS, i, arena.allocateFrom(strings.get(i)));
        array.setAtIndex(ADDRESS, strings.size(), MemorySegment.NULL);
        return array;
    }

    /** posix_spawn* return an error number (0 on success) rather than setting errno. */
    private static void check(String call, int rc) {
        if (rc != 0) throw new IllegalStateException(call + ": " + describeErrno(rc));
    }

    private static String describeErrno(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return "errno " + errno + " (" + s.reinterpret(1024).getString(0, StandardCharsets.UTF_8) + ")";
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    public int pid() {
        return pid;
    }

    /** What the child has written to stdout and stderr so far. */
    public String output() {
        try {
            return Files.readString(outputFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(output unreadable: " + e + ")";
        }
    }

    /** Whether the child is still running (reaps it if it has ended). */
    public synchronized boolean isAlive() {
        return status == null && !reap();
    }

    /**
     * Waits for the child to end, polling {@code waitpid(WNOHANG)} with short parks (no native call
     * blocks). On timeout the child is killed and an AssertionError carries its output.
     */
    public Result waitFor(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long parkNanos = 100_000;
        while (isAlive()) {
            if (System.nanoTime() - deadline > 0) {
                String before = output();
                close();
                throw new AssertionError("peer " + argv + " (pid " + pid + ") did not finish within " + timeout
                        + "; killed. Output:\n" + before);
            }
            LockSupport.parkNanos(parkNanos);
            parkNanos = Math.min(parkNanos * 2, 5_000_000);
        }
        return result();
    }

    /** Waits for the child and requires exit code 0; returns its output. */
    public String waitForSuccess(Duration timeout) {
        Result r = waitFor(timeout);
        if (r.signal() != 0 || r.exitCode() != 0) {
            throw new AssertionError("peer " + argv + " (pid " + pid + ") failed: " + r);
        }
        return r.output();
    }

    /** The result of a child that has ended. */
    public synchronized Result result() {
        if (status == null) throw new IllegalStateException("peer " + pid + " is still running");
        int s = status;
        int signal = s & 0x7f;
        return signal == 0 ? new Result((s >> 8) & 0xff, 0, output()) : new Result(-1, signal, output());
    }

    /**
     * Waits until {@code condition} holds, polling with short parks, and fails with the peer's output if
     * the deadline passes first or the peer ends while the condition is still false.
     */
    public void awaitCondition(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (!isAlive()) {
                if (condition.getAsBoolean()) return;
                throw new AssertionError("peer ended before " + what + ": " + result());
            }
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out after " + timeout + " waiting until " + what
                        + "; peer output so far:\n" + output());
            }
            LockSupport.parkNanos(1_000_000);
        }
    }

    /**
     * The one-letter state of the child in {@code /proc/<pid>/stat} ({@code S} = sleeping in a system
     * call such as poll), or empty if it is gone.
     */
    public Optional<Character> state() {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            int close = stat.lastIndexOf(')');
            return Optional.of(stat.charAt(close + 2));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /**
     * Whether the child sleeps in {@code poll}/{@code ppoll} now: {@code /proc/<pid>/syscall} names the
     * call (x86_64: 7 or 271, aarch64: 73), else {@code /proc/<pid>/wchan} mentions poll; where neither
     * can be read, whether it sleeps at all (state {@code S}).
     */
    public boolean blockedInPoll() {
        if (state().orElse('?') != 'S') return false;
        try {
            String nr = Files.readString(Path.of("/proc/" + pid + "/syscall")).strip().split(" ")[0];
            String arch = System.getProperty("os.arch");
            if (arch.equals("amd64") || arch.equals("x86_64")) return nr.equals("7") || nr.equals("271");
            if (arch.equals("aarch64")) return nr.equals("73");
        } catch (IOException | RuntimeException ignored) {
            // not readable here: try wchan
        }
        try {
            String wchan = Files.readString(Path.of("/proc/" + pid + "/wchan")).strip();
            if (!wchan.isEmpty() && !wchan.equals("0")) return wchan.contains("poll");
        } catch (IOException | RuntimeException ignored) {
            // not readable either: the state is all we know
        }
        return true;
    }

    /**
     * Kills the child if it is still running (SIGKILL), reaps it and deletes its output file (take the
     * {@link Result} first: it holds the output). Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (status == null && !reap()) {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment capture = arena.allocate(CAPTURE);
                    int rc = (int) KILL.invokeExact(capture, pid, SIGKILL);
                    int errno = (int) ERRNO.get(capture, 0L);
                    if (rc != 0 && errno != ESRCH) throw new IllegalStateException("kill(" + pid + "): " + describeErrno(errno));
                } catch (RuntimeException | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new AssertionError(t);
                }
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!reap()) {
                    if (System.nanoTime() - deadline > 0) throw new IllegalStateException("peer " + pid + " survived SIGKILL");
                    LockSupport.parkNanos(1_000_000);
                }
            }
        }
        deleteQuietly(outputFile);
    }

    /** One {@code waitpid(pid, WNOHANG)}; records the status. @return whether the child has been reaped */
    private boolean reap() {
        assert Thread.holdsLock(this);
        if (status != null) return true;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            MemorySegment st = arena.allocate(JAVA_INT);
            for (;;) {
                int rc = (int) WAITPID.invokeExact(capture, pid, st, WNOHANG);
                if (rc == pid) {
                    status = st.get(JAVA_INT, 0);
                    return true;
                }
                if (rc == 0) return false;
                int errno = (int) ERRNO.get(capture, 0L);
                if (errno == EINTR) continue;
                throw new IllegalStateException("waitpid(" + pid + "): " + describeErrno(errno)
                        + (errno == ECHILD ? " (reaped by someone else?)" : ""));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a temp file; nothing to do
        }
    }

    @Override
    public String toString() {
        return "PeerProcess[pid=" + pid + ", " + argv + "]";
    }

    // ---- helpers shared by the peer tests

    /** How long something that must happen may take before it counts as a hang. */
    public static final java.time.Duration PATIENCE = java.time.Duration.ofSeconds(30);

    /** The descriptors a peer gets as 3, 4, ...: those of the object under test, then control eventfds. */
    public static int[] peerFds(int first, int second, dev.eventfd.sync.internal.EventFd... controls) {
        int[] fds = new int[2 + controls.length];
        fds[0] = first;
        fds[1] = second;
        for (int i = 0; i < controls.length; i++) fds[2 + i] = controls[i].fd();
        return fds;
    }

    /** A plain eventfd that carries "done"/"go" signals between a test and its peer. */
    public static dev.eventfd.sync.internal.EventFd control() {
        return dev.eventfd.sync.internal.EventFd.create(0, false, "test control");
    }

    /** Waits for (and consumes) one signal the peer writes to {@code ctl}. */
    public void awaitSignal(dev.eventfd.sync.internal.EventFd ctl, String what) {
        awaitCondition(what, PATIENCE, () -> ctl.tryRead() > 0);
    }

    public static void waitUntil(String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }

    /** The kernel counter of {@code fd} in this process, from /proc/self/fdinfo (does not consume it). */
    public static long kernelCount(int fd) {
        String info = ProcFs.fdinfo(fd).orElseThrow(() -> new AssertionError("fd " + fd + " is not open"));
        return Long.parseUnsignedLong(ProcFs.field(info, "eventfd-count").orElseThrow(), 16);
    }
}
