package dev.eventfd.sync.internal;

/**
 * A pidfd: a descriptor naming one process, readable once that process has exited, so the
 * {@link Poller} reports a death as an event. Named by descriptor, not by number, it means the same
 * process in every PID namespace it is passed to.
 */
public final class PidFd extends NativeFd {

    private static volatile PidFd self;

    private PidFd(int fd, String owner) {
        super(fd, owner);
    }

    /** This process's own pidfd, opened once and kept: what a participant hands to those that watch it. */
    public static PidFd self() {
        PidFd p = self;
        if (p == null) {
            synchronized (PidFd.class) {
                if ((p = self) == null) self = p = new PidFd(Native.pidfdOpen(ProcessHandle.current().pid()), "this process");
            }
        }
        return p;
    }

    /**
     * Takes a descriptor received from another process after checking that it is a pidfd; closes it
     * if it is not.
     *
     * @throws IllegalArgumentException if it is not
     */
    public static PidFd adopt(int fd, String owner) {
        PidFd p = new PidFd(fd, owner);
        try {
            String info = p.fdinfo();
            if (!info.contains("\nPid:") && !info.startsWith("Pid:")) {
                throw new IllegalArgumentException("descriptor " + fd + " is not a pidfd");
            }
            return p;
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
    }

    /**
     * The process's pids, from its fdinfo: first as this process numbers it ({@code Pid}; 0 if it is
     * not visible here, -1 once it has exited), then its {@code NSpid} list, outermost visible
     * namespace first and its own last.
     */
    public long[] pids() {
        long pid = 0;
        long[] ns = new long[0];
        for (String line : fdinfo().split("\n")) {
            if (line.startsWith("Pid:")) {
                pid = Long.parseLong(line.substring(4).strip());
            } else if (line.startsWith("NSpid:")) {
                ns = java.util.Arrays.stream(line.substring(6).strip().split("\\s+")).mapToLong(Long::parseLong).toArray();
            }
        }
        long[] all = new long[1 + ns.length];
        all[0] = pid;
        System.arraycopy(ns, 0, all, 1, ns.length);
        return all;
    }

    /** Whether the process has exited (its pidfd is readable). */
    public boolean hasExited() {
        int fd = begin();
        try {
            return Native.isReadable(fd);
        } finally {
            end();
        }
    }
}
