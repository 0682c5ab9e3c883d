package dev.eventfd.sync.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * A whole job: the command and every process it starts. The command is spawned ({@code posix_spawnp})
 * in a process group of its own, so a signal reaches all of it; this process is a child subreaper
 * ({@code PR_SET_CHILD_SUBREAPER}), so a process the command leaves behind becomes its child and
 * {@link #awaitAll} waits for it too; and the job inherits the semaphore's lifetime descriptors as
 * descriptors 3 and 4 (every other descriptor above 2 is closed), so that if this process dies, its
 * permit is held until the last process of the job has exited, as {@code flock(1)}'s lock is held by
 * its command. If standard input is this process's controlling terminal and this process is in its
 * foreground, the job's group becomes the foreground group while it runs.
 *
 * <p>The calls block in native code ({@code waitpid}) on the platform thread that runs the command,
 * never on a carrier of virtual threads.
 */
final class Job {

    /** The command could not be started; {@code errno} says why (ENOENT: not found). */
    static final class StartFailure extends Exception {
        final int errno;

        StartFailure(String program, int errno) {
            super(program + ": " + (errno == ENOENT ? "command not found" : "cannot execute") + " (errno " + errno + ")");
            this.errno = errno;
        }

        /** The status a shell gives: 127 not found, 126 found but not executable. */
        int exitStatus() {
            return errno == ENOENT ? 127 : 126;
        }
    }

    static final int ENOENT = 2, EINTR = 4, ECHILD = 10;
    static final int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGPIPE = 13,
            SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGXFSZ = 25;
    private static final int PR_SET_CHILD_SUBREAPER = 36, F_DUPFD_CLOEXEC = 1030, SIG_BLOCK = 0, SIG_SETMASK = 2;
    private static final short POSIX_SPAWN_SETPGROUP = 0x02, POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08;
    /** Generous sizes for glibc's opaque structures (posix_spawnattr_t is 336 bytes, the file actions 80, sigset_t 128). */
    private static final long OPAQUE = 1024, SIGSET = 128;
    /** The descriptor the job finds the first lifetime descriptor at; the others follow it. */
    static final int LIFETIME_FD = 3;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MemoryLayout ERRNO_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = ERRNO_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle PRCTL = call("prctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.firstVariadicArg(1));
    private static final MethodHandle FCNTL = call("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    private static final MethodHandle ATTR_INIT = call("posix_spawnattr_init", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ATTR_DESTROY = call("posix_spawnattr_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle ATTR_FLAGS = call("posix_spawnattr_setflags", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_SHORT));
    private static final MethodHandle ATTR_PGROUP = call("posix_spawnattr_setpgroup", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle ATTR_SIGDEF = call("posix_spawnattr_setsigdefault", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle ATTR_SIGMASK = call("posix_spawnattr_setsigmask", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle FA_INIT = call("posix_spawn_file_actions_init", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FA_DESTROY = call("posix_spawn_file_actions_destroy", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle FA_DUP2 = call("posix_spawn_file_actions_adddup2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** glibc 2.34 or newer; without it, descriptors above 2 stay as the JVM opened them (the JVM's are close-on-exec). */
    private static final MethodHandle FA_CLOSEFROM = LIBC.find("posix_spawn_file_actions_addclosefrom_np")
            .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT))).orElse(null);
    private static final MethodHandle SPAWNP = call("posix_spawnp",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle SIGEMPTYSET = call("sigemptyset", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle SIGADDSET = call("sigaddset", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle PTHREAD_SIGMASK = call("pthread_sigmask", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    private static final MethodHandle WAITPID = call("waitpid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final MethodHandle WAITID = call("waitid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    private static final int P_ALL = 0, WEXITED = 4, WNOWAIT = 0x01000000;
    /** siginfo_t: 128 bytes; for SIGCHLD, si_pid at offset 16 (x86_64 and aarch64). */
    private static final long SIGINFO = 128, SI_PID = 16;
    private static final MethodHandle KILL = call("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ISATTY = call("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle TCGETPGRP = call("tcgetpgrp", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle TCSETPGRP = call("tcsetpgrp", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle GETPGRP = call("getpgrp", FunctionDescriptor.of(JAVA_INT));
    private static final MemorySegment ENVIRON = LIBC.find("environ").orElseThrow().reinterpret(ADDRESS.byteSize());

    private static MethodHandle call(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment at = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(at, fd, options);
    }

    /** The process group of the job: the command's pid. */
    final int group;
    /**
     * Set, under this object's lock, once the command has exited and before it is reaped: until then
     * its zombie keeps the group's id from being reused, so a signal sent while this is false can
     * only reach the job. Guarded by {@code this}.
     */
    private boolean leaderExited;
    /** The terminal's foreground group to give back, or 0 if the job did not take the terminal. */
    private final int foregroundBefore;

    private Job(int group, int foregroundBefore) {
        this.group = group;
        this.foregroundBefore = foregroundBefore;
    }

    /** Makes this process a child subreaper: orphans of the job are reparented to it. */
    static void becomeSubreaper() {
        try {
            if ((int) PRCTL.invokeExact(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) != 0) {
                throw new IllegalStateException("prctl(PR_SET_CHILD_SUBREAPER) failed");
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Spawns {@code command} in a process group of its own with {@code lifetimeFds} as its descriptors
     * 3, 4, ..., the signals it could inherit as ignored or handled set to their defaults, and none
     * blocked.
     */
    static Job start(List<String> command, int[] lifetimeFds) throws StartFailure {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(OPAQUE, 16), actions = arena.allocate(OPAQUE, 16);
            MemorySegment defaults = arena.allocate(SIGSET, 8), none = arena.allocate(SIGSET, 8);
            MemorySegment pid = arena.allocate(JAVA_INT);
            MemorySegment argv = arena.allocate(ADDRESS, command.size() + 1);
            for (int i = 0; i < command.size(); i++) argv.setAtIndex(ADDRESS, i, arena.allocateFrom(command.get(i)));
            argv.setAtIndex(ADDRESS, command.size(), MemorySegment.NULL);
            // copies above every target, so that no dup2 below overwrites a copy another one reads
            int end = LIFETIME_FD + lifetimeFds.length;
            int[] inherited = new int[lifetimeFds.length];
            java.util.Arrays.fill(inherited, -1);
            boolean foreground = ownsTerminal();
            int before = foreground ? (int) TCGETPGRP.invokeExact(0) : 0;
            check((int) ATTR_INIT.invokeExact(attr), "posix_spawnattr_init");
            check((int) FA_INIT.invokeExact(actions), "posix_spawn_file_actions_init");
            int rc;
            try {
                for (int i = 0; i < lifetimeFds.length; i++) {
                    // close-on-exec: only the dup2 below (which clears it on 3, 4, ...) reaches the job
                    inherited[i] = (int) FCNTL.invokeExact(lifetimeFds[i], F_DUPFD_CLOEXEC, end);
                    if (inherited[i] < 0) throw new IllegalStateException("fcntl(F_DUPFD_CLOEXEC) of a lifetime descriptor failed");
                }
                check((int) SIGEMPTYSET.invokeExact(defaults), "sigemptyset");
                for (int sig : new int[] {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD,
                        SIGTSTP, SIGTTIN, SIGTTOU, SIGXFSZ}) {
                    check((int) SIGADDSET.invokeExact(defaults, sig), "sigaddset");
                }
                check((int) SIGEMPTYSET.invokeExact(none), "sigemptyset");
                check((int) ATTR_FLAGS.invokeExact(attr, (short) (POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)),
                        "posix_spawnattr_setflags");
                check((int) ATTR_PGROUP.invokeExact(attr, 0), "posix_spawnattr_setpgroup");   // 0: a new group, its id the pid
                check((int) ATTR_SIGDEF.invokeExact(attr, defaults), "posix_spawnattr_setsigdefault");
                check((int) ATTR_SIGMASK.invokeExact(attr, none), "posix_spawnattr_setsigmask");
                for (int i = 0; i < inherited.length; i++) {
                    check((int) FA_DUP2.invokeExact(actions, inherited[i], LIFETIME_FD + i), "adddup2");
                }
                if (FA_CLOSEFROM != null) check((int) FA_CLOSEFROM.invokeExact(actions, end), "addclosefrom_np");
                MemorySegment env = ENVIRON.get(ADDRESS, 0);
                rc = (int) SPAWNP.invokeExact(pid, argv.getAtIndex(ADDRESS, 0), actions, attr, argv, env);
            } finally {
                int ignored = (int) FA_DESTROY.invokeExact(actions);
                ignored = (int) ATTR_DESTROY.invokeExact(attr);
                for (int fd : inherited) if (fd >= 0) closeFd(fd);   // the job has its own copies now (or never will)
            }
            if (rc != 0) throw new StartFailure(command.getFirst(), rc);
            int group = pid.get(JAVA_INT, 0);
            if (foreground && (int) TCSETPGRP.invokeExact(0, group) == 0) {
                int ignored = (int) KILL.invokeExact(-group, SIGCONT);   // in case it read the terminal before it was its
                return new Job(group, before);
            }
            return new Job(group, 0);
        } catch (StartFailure | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static final MethodHandle CLOSE = call("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private static void closeFd(int fd) throws Throwable {
        int ignored = (int) CLOSE.invokeExact(fd);
    }

    /** Whether standard input is a terminal whose foreground group is this process's. */
    private static boolean ownsTerminal() throws Throwable {
        return (int) ISATTY.invokeExact(0) == 1 && (int) TCGETPGRP.invokeExact(0) == (int) GETPGRP.invokeExact();
    }

    /**
     * Sends {@code signal} to every process of the job's group; once the command has exited (the
     * group's id may then be free, and another group could get it), to this process's children.
     */
    synchronized void signal(int signal) {
        try {
            if (!leaderExited) {
                int ignored = (int) KILL.invokeExact(-group, signal);
                return;
            }
            // the group's id may be reused now; the job's processes left are this process's children
            // (orphans come to the subreaper), whose pids stay theirs until this process reaps them
            for (ProcessHandle h : ProcessHandle.current().children().toList()) {
                int ignored = (int) KILL.invokeExact((int) h.pid(), signal);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Kills the job: its group, and every descendant of this process (those that left the group too). */
    void killAll() {
        signal(SIGKILL);
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);   // children: their pids are ours to reap
    }

    /**
     * Waits until the command and every process it left behind have exited, then gives the terminal
     * back. @return the command's exit status (128 + the signal if a signal ended it)
     */
    int awaitAll() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment status = arena.allocate(JAVA_INT), errno = arena.allocate(ERRNO_STATE);
            MemorySegment info = arena.allocate(SIGINFO, 8);
            int result = -1;
            for (;;) {
                // see who exited without reaping it, so that signal() learns of the command's exit first
                info.fill((byte) 0);
                if ((int) WAITID.invokeExact(errno, P_ALL, 0, info, WEXITED | WNOWAIT) != 0) {
                    int e = (int) ERRNO.get(errno, 0L);
                    if (e == EINTR) continue;
                    if (e == ECHILD) break;                  // nothing of the job is left
                    throw new IllegalStateException("waitid failed: errno " + e);
                }
                int exited = info.get(JAVA_INT, SI_PID);
                if (exited == group) {
                    synchronized (this) {
                        leaderExited = true;
                    }
                }
                int pid = (int) WAITPID.invokeExact(errno, exited, status, 0);
                if (pid == group) {
                    int s = status.get(JAVA_INT, 0);
                    result = (s & 0x7f) == 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
                } else if (pid < 0) {
                    int e = (int) ERRNO.get(errno, 0L);
                    if (e == EINTR) continue;
                    if (e == ECHILD) break;                  // nothing of the job is left
                    throw new IllegalStateException("waitpid failed: errno " + e);
                }
            }
            if (foregroundBefore != 0) giveTerminalBack(arena);
            return result;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** tcsetpgrp from what is now a background group: SIGTTOU blocked in this thread meanwhile, so it is not stopped. */
    private void giveTerminalBack(Arena arena) throws Throwable {
        MemorySegment ttou = arena.allocate(SIGSET, 8), old = arena.allocate(SIGSET, 8);
        check((int) SIGEMPTYSET.invokeExact(ttou), "sigemptyset");
        check((int) SIGADDSET.invokeExact(ttou, SIGTTOU), "sigaddset");
        check((int) PTHREAD_SIGMASK.invokeExact(SIG_BLOCK, ttou, old), "pthread_sigmask");
        try {
            int ignored = (int) TCSETPGRP.invokeExact(0, foregroundBefore);
        } finally {
            int ignored = (int) PTHREAD_SIGMASK.invokeExact(SIG_SETMASK, old, MemorySegment.NULL);
        }
    }

    private static void check(int rc, String what) {
        if (rc != 0) throw new IllegalStateException(what + " failed: " + rc);
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }
}
