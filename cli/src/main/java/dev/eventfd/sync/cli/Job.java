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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
 * foreground, the job's group becomes the foreground group while it runs, and a stop of the command
 * stops this process too ({@link #followStop}).
 *
 * <p>No signal reaches a process outside the job although pids are reused: the command's zombie is
 * reaped last, so the group's id stays the job's, and every other process is signalled by pid only
 * while it is this process's child and this object's lock keeps it from being reaped.
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

    static final int ENOENT = 2, EINTR = 4, ENOEXEC = 8, ECHILD = 10;
    static final int SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGKILL = 9, SIGUSR1 = 10, SIGUSR2 = 12, SIGPIPE = 13,
            SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19, SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGXFSZ = 25;
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
    /**
     * glibc 2.35 or newer: the child makes its group the terminal's foreground before it runs the
     * command, so the command never finds itself in the background. Without it, this process hands
     * the terminal over after the spawn, and awaitAll continues a command that read the terminal first.
     */
    private static final class TcSetPgrp {       // linked on first use: only a job at the terminal needs it
        static final MethodHandle HANDLE = LIBC.find("posix_spawn_file_actions_addtcsetpgrp_np")
                .map(a -> LINKER.downcallHandle(a, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT))).orElse(null);
    }
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
    private static final int P_ALL = 0, P_PID = 1, WNOHANG = 1, WSTOPPED = 2, WEXITED = 4, WNOWAIT = 0x01000000;
    /** siginfo_t's si_code for SIGCHLD. */
    private static final int CLD_EXITED = 1, CLD_TRAPPED = 4, CLD_STOPPED = 5;
    /** siginfo_t: 128 bytes; si_code at offset 8 and, for SIGCHLD, si_pid at 16 and si_status at 24 (x86_64 and aarch64). */
    private static final long SIGINFO = 128, SI_CODE = 8, SI_PID = 16, SI_STATUS = 24;
    private static final MethodHandle KILL = call("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle ISATTY = call("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle TCGETPGRP = call("tcgetpgrp", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle TCSETPGRP = call("tcsetpgrp", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle GETPGRP = call("getpgrp", FunctionDescriptor.of(JAVA_INT));
    /** Linked on first use: only a job stopped at the terminal needs it. */
    private static final class Getpgid {
        static final MethodHandle HANDLE = call("getpgid", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }
    private static final MemorySegment ENVIRON = LIBC.find("environ").orElseThrow().reinterpret(ADDRESS.byteSize());

    private static MethodHandle call(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment at = LIBC.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(at, fd, options);
    }

    /** The process group of the job: the command's pid. */
    final int group;
    /**
     * Set once the command's zombie is reaped, last of the job's processes: until then it keeps the
     * group's id from being reused (the kernel hands out no pid that is still a process's group id),
     * so a signal sent to the group can only reach the job. Guarded by {@code this}.
     */
    private boolean reaped;
    /** Set by {@link #killAll}: each process that comes to this subreaper is killed too. Guarded by {@code this}. */
    private boolean killing;
    /**
     * Whether standard input is a terminal: the job may have its foreground, and a stop of the
     * command is passed on to this process, so that the shell sees the job stop ({@link #followStop}).
     */
    private final boolean terminal;

    private Job(int group, boolean terminal) {
        this.group = group;
        this.terminal = terminal;
    }

    /**
     * How the command ended: its exit status, or the signal that killed it; and whether the job had
     * the terminal then, in place of this process's group ({@link #awaitAll}).
     */
    record End(int status, int signal, boolean hadTerminal) {}

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
     * blocked. A file that is executable but no program the kernel can run (a script without a
     * {@code #!} line: ENOEXEC) is run by {@code /bin/sh}, as {@code execvp(3)} and a shell do.
     */
    static Job start(List<String> command, int[] lifetimeFds) throws StartFailure {
        try {
            return spawn(command, lifetimeFds);
        } catch (StartFailure e) {
            if (e.errno != ENOEXEC) throw e;
            List<String> sh = new ArrayList<>(List.of(SHELL, resolve(command.getFirst())));
            sh.addAll(command.subList(1, command.size()));
            return spawn(sh, lifetimeFds);
        }
    }

    private static final String SHELL = "/bin/sh";

    /**
     * The file {@code posix_spawnp} ran for {@code program}: itself if it has a slash, else the first
     * executable regular file of that name in a directory of PATH (glibc's default if PATH is unset).
     */
    private static String resolve(String program) {
        if (program.contains("/")) return program;
        String path = System.getenv("PATH");
        for (String dir : (path == null ? "/bin:/usr/bin" : path).split(":", -1)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, program);
            if (Files.isRegularFile(p) && Files.isExecutable(p)) return p.toString();
        }
        return program;
    }

    private static Job spawn(List<String> command, int[] lifetimeFds) throws StartFailure {
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
            Arrays.fill(inherited, -1);
            boolean terminal = (int) ISATTY.invokeExact(0) == 1;
            boolean foreground = terminal && ownsTerminal();
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
                if (foreground && TcSetPgrp.HANDLE != null) {
                    check((int) TcSetPgrp.HANDLE.invokeExact(actions, 0), "posix_spawn_file_actions_addtcsetpgrp_np");
                }
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
            Job job = new Job(pid.get(JAVA_INT, 0), terminal);
            // glibc before 2.35 has no addtcsetpgrp_np: the job may have run meanwhile and stopped at
            // the terminal, and awaitAll continues it
            if (foreground && TcSetPgrp.HANDLE == null) job.handTerminalTo(job.group);
            return job;
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
     * Sends {@code signal} to every process of the job: to its group, whose id is the command's and
     * is kept from reuse by the command's zombie until the end ({@link #awaitAll}), and to each child
     * of this process, which includes the job's processes that left the group and came to this
     * subreaper. A child's pid is this process's to reap, and reaping takes this lock, so none is
     * reused meanwhile: no signal reaches a process outside the job.
     */
    synchronized void signal(int signal) {
        if (reaped) return;
        try {
            int ignored = (int) KILL.invokeExact(-group, signal);
            for (ProcessHandle h : ProcessHandle.current().children().toList()) {
                ignored = (int) KILL.invokeExact((int) h.pid(), signal);
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Kills the job: its group and this process's children now, and each process that comes to this
     * subreaper later (the children of one that was killed) as {@link #awaitAll} reaps its parent.
     */
    synchronized void killAll() {
        killing = true;
        signal(SIGKILL);
    }

    /**
     * Waits until the command and every process it left behind have exited, then gives the terminal
     * back. A stop of the command (Ctrl-Z at the terminal) stops this process too, until it is
     * continued ({@link #followStop}).
     *
     * @return how the command ended
     */
    End awaitAll() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment errno = arena.allocate(ERRNO_STATE);
            MemorySegment info = arena.allocate(SIGINFO, 8);
            End end;
            // until the command exits: every process of the job, and the command's stops
            for (;;) {
                // see who changed without reaping it: the command's zombie is kept
                if (!waitFor(errno, info, P_ALL, 0, WEXITED | WNOWAIT | (terminal ? WSTOPPED : 0))) {
                    throw new IllegalStateException("the command is no child of this process");
                }
                int pid = info.get(JAVA_INT, SI_PID), code = info.get(JAVA_INT, SI_CODE), status = info.get(JAVA_INT, SI_STATUS);
                if (code == CLD_STOPPED || code == CLD_TRAPPED) {
                    waitFor(errno, info, P_PID, pid, WSTOPPED | WNOHANG);   // takes the report: it is not seen again
                    if ((status == SIGTTIN || status == SIGTTOU) && jobHasTerminal() && (int) Getpgid.HANDLE.invokeExact(pid) == group) {
                        // it used the terminal before start() had handed it over: it may now
                        int ignored = (int) KILL.invokeExact(pid, SIGCONT);   // an unreaped child: the pid is its
                    } else if (pid == group) {
                        followStop();
                    }
                } else if (pid == group) {
                    boolean hadTerminal = terminal && jobHasTerminal();
                    end = code == CLD_EXITED ? new End(status, 0, hadTerminal) : new End(0, status, hadTerminal);
                    break;
                } else {
                    reap(errno, pid);
                }
            }
            synchronized (this) {
                if (killing) signal(SIGKILL);        // the processes the command's exit handed to this subreaper
            }
            // then what it left behind, one child at a time, while the command's zombie keeps the group's id
            for (int other; (other = otherChild()) != 0; ) {
                if (!waitFor(errno, info, P_PID, other, WEXITED | WNOWAIT | (terminal ? WSTOPPED : 0))) continue;
                int code = info.get(JAVA_INT, SI_CODE);
                if (code != CLD_STOPPED && code != CLD_TRAPPED) {
                    reap(errno, other);
                } else {
                    waitFor(errno, info, P_PID, other, WSTOPPED | WNOHANG);   // takes the report
                    if ((int) Getpgid.HANDLE.invokeExact(other) == group) followStop();   // it has the terminal now
                }
            }
            if (terminal && jobHasTerminal()) handTerminalTo((int) GETPGRP.invokeExact());
            reap(errno, group);
            return end;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A child of this process other than the command, or 0 if there is none. */
    private int otherChild() {
        return (int) ProcessHandle.current().children().mapToLong(ProcessHandle::pid)
                .filter(pid -> pid != group).findFirst().orElse(0);
    }

    /**
     * waitid, again after EINTR.
     *
     * @return false if there is no such child (ECHILD) or, with WNOHANG, nothing to report
     */
    private static boolean waitFor(MemorySegment errno, MemorySegment info, int idType, int id, int options) throws Throwable {
        for (;;) {
            info.fill((byte) 0);
            if ((int) WAITID.invokeExact(errno, idType, id, info, options) == 0) return info.get(JAVA_INT, SI_PID) != 0;
            int e = (int) ERRNO.get(errno, 0L);
            if (e == ECHILD) return false;
            if (e != EINTR) throw new IllegalStateException("waitid failed: errno " + e);
        }
    }

    /**
     * Reaps {@code pid}, which has exited. Under this lock, so that {@link #signal} never sends to a
     * pid just reaped; while the job is being killed, the processes the exit handed to this subreaper
     * are killed in turn.
     */
    private synchronized void reap(MemorySegment errno, int pid) throws Throwable {
        while ((int) WAITPID.invokeExact(errno, pid, MemorySegment.NULL, 0) < 0 && (int) ERRNO.get(errno, 0L) == EINTR) {
            // again
        }
        if (pid == group) reaped = true;
        else if (killing) signal(SIGKILL);
    }

    /**
     * The command stopped (Ctrl-Z at the terminal, SIGTTIN, SIGSTOP): this process takes the terminal
     * back if the job has it and stops too, so that the shell that started it sees the job stopped
     * and gets its terminal. Once continued ({@code fg}, {@code bg}), it hands the terminal to the
     * job again if it is in the foreground itself, and continues the job.
     */
    private void followStop() throws Throwable {
        if (jobHasTerminal()) handTerminalTo((int) GETPGRP.invokeExact());
        // The terminal would have stopped this process's whole group (a shell script waiting for this
        // process, say): stop the others (SIGTSTP ignored here meanwhile), then this process from this
        // thread (raise: the stop takes this thread before raise returns, which a signal to the
        // process, taken by another thread, does not; it would continue the job too early).
        MemorySegment previous = (MemorySegment) Tstp.SIGNAL.invokeExact(SIGTSTP, SIG_IGN);
        try {
            int ignored = (int) KILL.invokeExact(0, SIGTSTP);
            MemorySegment dfl = (MemorySegment) Tstp.SIGNAL.invokeExact(SIGTSTP, MemorySegment.NULL);   // SIG_DFL
            ignored = (int) Tstp.RAISE.invokeExact(SIGTSTP);   // returns once this process is continued
        } finally {
            MemorySegment ignored = (MemorySegment) Tstp.SIGNAL.invokeExact(SIGTSTP, previous);
        }
        if (ownsTerminal()) handTerminalTo(group);
        signal(SIGCONT);
    }

    private static final class Tstp {            // linked on first use: only a stop at the terminal needs it
        static final MethodHandle SIGNAL = call("signal", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS));
        static final MethodHandle RAISE = call("raise", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final MemorySegment SIG_IGN = MemorySegment.ofAddress(1);

    /** Whether the job's group is the terminal's foreground group. */
    private boolean jobHasTerminal() throws Throwable {
        return (int) TCGETPGRP.invokeExact(0) == group;
    }

    /**
     * Makes {@code pgrp} the terminal's foreground group. Handing it back to this process's group is
     * done from the background, with SIGTTOU blocked in this thread meanwhile (a background group that
     * calls tcsetpgrp is stopped otherwise). Handing it to the job is done from the foreground: if the
     * shell has put this process in the background meanwhile ({@code bg}), SIGTTOU stops it, rather
     * than the terminal being taken from the shell.
     */
    private void handTerminalTo(int pgrp) throws Throwable {
        if (pgrp == group) {
            int ignored = (int) TCSETPGRP.invokeExact(0, pgrp);   // a stop for SIGTTOU restarts it once continued
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ttou = arena.allocate(SIGSET, 8), old = arena.allocate(SIGSET, 8);
            check((int) SIGEMPTYSET.invokeExact(ttou), "sigemptyset");
            check((int) SIGADDSET.invokeExact(ttou, SIGTTOU), "sigaddset");
            check((int) PTHREAD_SIGMASK.invokeExact(SIG_BLOCK, ttou, old), "pthread_sigmask");
            try {
                int ignored = (int) TCSETPGRP.invokeExact(0, pgrp);
            } finally {
                int ignored = (int) PTHREAD_SIGMASK.invokeExact(SIG_SETMASK, old, MemorySegment.NULL);
            }
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
