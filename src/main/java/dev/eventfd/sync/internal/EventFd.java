package dev.eventfd.sync.internal;

import dev.eventfd.sync.ClosedException;

/**
 * One non-blocking, close-on-exec eventfd descriptor, owned by this object.
 *
 * <p>Every operation is a single non-blocking call: {@link #tryRead()} reports an empty counter as
 * {@code 0}, {@link #tryWrite(long)} reports a full counter as {@code false}, and every other failure is
 * a {@link dev.eventfd.sync.NativeCallException}. {@link #count()} reads the counter without consuming
 * it, from {@code /proc/self/fdinfo}. Closing and descriptor reuse are handled by {@link NativeFd}.
 */
public final class EventFd extends NativeFd {

    private EventFd(int fd, String owner) {
        super(fd, owner);
    }

    /**
     * Creates an eventfd with {@code EFD_NONBLOCK | EFD_CLOEXEC}, plus {@code EFD_SEMAPHORE} if asked.
     *
     * @param initial   the initial counter, {@code 0 <= initial <= 0xfffffffe}
     * @param semaphore whether each read takes 1 ({@code EFD_SEMAPHORE}) rather than the whole count
     * @param owner     what the descriptor belongs to, for messages (e.g. {@code "EventFdSemaphore"})
     */
    public static EventFd create(long initial, boolean semaphore, String owner) {
        if (initial < 0 || initial > 0xFFFF_FFFEL) {
            throw new IllegalArgumentException("eventfd initial value out of range: " + initial);
        }
        Availability.ensureAvailable();          // a clear message, before Native is initialized
        int flags = Native.EFD_NONBLOCK | Native.EFD_CLOEXEC | (semaphore ? Native.EFD_SEMAPHORE : 0);
        return new EventFd(Native.eventfd((int) initial, flags), owner);
    }

    /**
     * Takes ownership of a descriptor received from another process, after checking that it is an
     * eventfd of the expected kind: non-blocking, and in semaphore mode or not as asked. The
     * descriptor is closed if it is not.
     *
     * @throws IllegalArgumentException naming what is wrong with it
     */
    public static EventFd adopt(int fd, boolean semaphore, String owner) {
        EventFd handle = new EventFd(fd, owner);
        try {
            String info = handle.fdinfo();
            if (!info.contains("eventfd-count:")) {
                throw new IllegalArgumentException("descriptor " + fd + " is not an eventfd");
            }
            long flags = Long.parseLong(field(info, "flags:"), 8);
            if ((flags & Native.O_NONBLOCK) == 0) {
                throw new IllegalArgumentException("eventfd " + fd + " is not non-blocking");
            }
            String mode = info.contains("eventfd-semaphore:") ? field(info, "eventfd-semaphore:") : null;
            if (mode != null && mode.equals("1") != semaphore) {
                throw new IllegalArgumentException("eventfd " + fd + (semaphore
                        ? " is not in semaphore mode (EFD_SEMAPHORE)" : " is in semaphore mode (EFD_SEMAPHORE)"));
            }
            return handle;
        } catch (RuntimeException e) {
            handle.close();
            throw e;
        }
    }

    private static String field(String fdinfo, String name) {
        int i = fdinfo.indexOf(name);
        if (i < 0) throw new IllegalArgumentException("fdinfo has no " + name + " line");
        int start = i + name.length();
        int end = fdinfo.indexOf('\n', start);
        return fdinfo.substring(start, end < 0 ? fdinfo.length() : end).strip();
    }

    /**
     * Reads the counter without blocking.
     *
     * @return 1 for an {@code EFD_SEMAPHORE} descriptor, the whole count otherwise; {@code 0} when empty
     * @throws ClosedException if this handle is closed
     */
    public long tryRead() {
        int fd = begin();
        try {
            return Native.readCounter(fd);
        } finally {
            end();
        }
    }

    /**
     * Adds {@code value} to the counter without blocking.
     *
     * @return {@code false} if the counter is full (the sum would pass {@code 0xfffffffffffffffe}); the
     *         counter is then unchanged
     * @throws ClosedException if this handle is closed
     */
    public boolean tryWrite(long value) {
        int fd = begin();
        try {
            return Native.writeCounter(fd, value);
        } finally {
            end();
        }
    }

    /** Whether the counter is non-zero now (a zero-timeout {@code poll}). */
    public boolean isReadable() {
        int fd = begin();
        try {
            return Native.isReadable(fd);
        } finally {
            end();
        }
    }

    /**
     * The counter, read without consuming it (the {@code eventfd-count} line of
     * {@code /proc/self/fdinfo/<fd>}, which the kernel prints in hex).
     *
     * @return the counter as an unsigned value ({@code Long.compareUnsigned} order)
     */
    public long count() {
        return Long.parseUnsignedLong(field(fdinfo(), "eventfd-count:"), 16);
    }
}
