package dev.eventfd.sync.internal;

import dev.eventfd.sync.ClosedException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One non-blocking, close-on-exec eventfd descriptor, owned by this object.
 *
 * <p>Every operation is a single non-blocking call: {@link #tryRead()} reports an empty counter as
 * {@code 0}, {@link #tryWrite(long)} reports a full counter as {@code false}, and every other failure is
 * a {@link dev.eventfd.sync.NativeCallException}. {@link #count()} reads the counter without consuming
 * it, from {@code /proc/self/fdinfo}.
 *
 * <p><b>Descriptor reuse.</b> A descriptor number is reused by the kernel as soon as it is closed, so a
 * call racing with {@link #close()} could otherwise act on an unrelated file opened meanwhile. Each call
 * therefore holds a use count; {@code close()} marks the handle closed at once (later calls throw
 * {@link ClosedException}) and the descriptor is released by whichever of {@code close()} and the last
 * in-flight call finishes last. A handle that is never closed is closed by a {@link Cleaner}.
 */
public final class EventFd implements AutoCloseable {

    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicLong TOKENS = new AtomicLong();

    private final Descriptor descriptor;
    private final Cleaner.Cleanable cleanable;
    private final String owner;
    /** Unique for the life of the JVM: tells the poller this handle from a later one with the same fd number. */
    private final long token = TOKENS.incrementAndGet();
    /** The poller this descriptor has been registered with, if any; written under that poller's lock. */
    private volatile Poller poller;

    private EventFd(int fd, String owner) {
        this.descriptor = new Descriptor(fd);
        this.owner = owner;
        this.cleanable = CLEANER.register(this, descriptor);
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

    /** The descriptor number; meaningful only while this handle is open. */
    public int fd() {
        return descriptor.fd;
    }

    long token() {
        return token;
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
        begin();
        try {
            return descriptor.count();
        } finally {
            end();
        }
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return descriptor.isClosed();
    }

    /**
     * Closes the descriptor. Idempotent. Calls in flight finish first (they are non-blocking); calls
     * made afterwards throw {@link ClosedException}.
     */
    @Override
    public void close() {
        if (!descriptor.markClosed()) return;
        Poller p = poller;               // volatile read: sees any poller attached before markClosed
        if (p != null) p.closing(this);  // wake waiters, leave the epoll set while the fd is still open
        cleanable.clean();               // release now, or when the last call in flight ends
    }

    /**
     * Records that {@code p} may register this descriptor. Called under {@code p}'s lock.
     *
     * @throws ClosedException if this handle is closed
     */
    void attach(Poller p) {
        Poller current = poller;
        if (current == null) poller = p;         // volatile write, then the volatile read of the state:
        else if (current != p) throw new IllegalStateException(this + " is already registered with another poller");
        // close() writes the state, then reads poller. One of the two sees the other: either close()
        // finds this poller and waits in closing() for the lock our caller holds, or we see it closed.
        if (descriptor.isClosed()) throw new ClosedException(owner);
    }

    private int begin() {
        if (!descriptor.tryBegin()) throw new ClosedException(owner);
        return descriptor.fd;
    }

    private void end() {
        descriptor.end();
    }

    @Override
    public String toString() {
        return "EventFd[fd=" + descriptor.fd + (isClosed() ? ", closed" : "") + "]";
    }

    /**
     * The descriptor and its use count. Holds no reference to the {@link EventFd}, so the cleaner can
     * run it once the handle is unreachable.
     */
    private static final class Descriptor implements Runnable {
        /** No new calls may start. */
        private static final int CLOSED = Integer.MIN_VALUE;
        /** The descriptor is released when no call is in flight. */
        private static final int RELEASE = 1 << 30;
        private static final VarHandle STATE;
        static {
            try {
                STATE = MethodHandles.lookup().findVarHandle(Descriptor.class, "state", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final int fd;
        /** CLOSED | RELEASE | number of calls in flight; updated atomically (volatile). */
        private volatile int state;
        /** {@code /proc/self/fdinfo/<fd>} opened on first {@link #count()}, -1 before; guarded by this. */
        private int fdinfo = -1;

        Descriptor(int fd) {
            this.fd = fd;
        }

        boolean isClosed() {
            return (state & CLOSED) != 0;
        }

        boolean tryBegin() {
            for (int s = state; ; s = state) {
                if ((s & CLOSED) != 0) return false;
                if (STATE.compareAndSet(this, s, s + 1)) return true;
            }
        }

        void end() {
            int s = (int) STATE.getAndAdd(this, -1) - 1;
            if (s == (CLOSED | RELEASE)) release();  // released while this call was in flight: it was the last
        }

        /** @return whether this call closed it (false if it was already closed) */
        boolean markClosed() {
            return ((int) STATE.getAndBitwiseOr(this, CLOSED) & CLOSED) == 0;
        }

        /** The cleaning action: closes, and releases the descriptor now unless a call is in flight. */
        @Override
        public void run() {
            int s = (int) STATE.getAndBitwiseOr(this, CLOSED | RELEASE);
            if ((s & ~CLOSED) == 0) release();
        }

        private synchronized void release() {
            if (fdinfo >= 0) Native.close(fdinfo);
            Native.close(fd);
        }

        synchronized long count() {
            if (fdinfo < 0) fdinfo = Native.openReadOnly("/proc/self/fdinfo/" + fd);
            String text = Native.preadText(fdinfo, 512);
            int i = text.indexOf("eventfd-count:");
            if (i < 0) throw new IllegalStateException("descriptor " + fd + " is not an eventfd:\n" + text);
            int start = i + "eventfd-count:".length();
            int end = text.indexOf('\n', start);
            return Long.parseUnsignedLong(text.substring(start, end < 0 ? text.length() : end).strip(), 16);
        }
    }
}
