package dev.eventfd.sync.internal;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.NativeCallException;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A non-blocking, close-on-exec descriptor owned by this object: the part common to every descriptor
 * the library holds (eventfds, UNIX sockets), and what the {@link Poller} waits on.
 *
 * <p><b>Descriptor reuse.</b> A descriptor number is reused by the kernel as soon as it is closed, so a
 * call racing with {@link #close()} could otherwise act on an unrelated file opened meanwhile. Each call
 * therefore holds a use count ({@link #begin()}/{@link #end()}); {@code close()} marks the handle
 * closed at once (later calls throw {@link ClosedException}) and the descriptor is released by whichever
 * of {@code close()} and the last in-flight call finishes last. A handle that is never closed is closed
 * by a {@link Cleaner}.
 */
public abstract sealed class NativeFd implements AutoCloseable permits EventFd, UnixSocket, MemFd, PidFd {

    /** The library's one cleaner thread. */
    static final Cleaner CLEANER = Cleaner.create();
    /**
     * One descriptor ({@code /dev/null}) kept open so that a {@code /proc} file can still be read when
     * the process is at {@code RLIMIT_NOFILE}: opened with the first descriptor the library makes
     * (which proves native access works), -1 while it is not held, UNSET before. Written under
     * SPARE_LOCK (volatile). It lives in this class, not a nested one, since loading a class at the
     * limit may itself need a descriptor.
     */
    private static volatile int spare = -2;
    private static final int UNSET = -2;
    private static final Object SPARE_LOCK = new Object();
    private static final AtomicLong TOKENS = new AtomicLong();

    private final Descriptor descriptor;
    private final Cleaner.Cleanable cleanable;
    private final String owner;
    /** Unique for the life of the JVM: tells the poller this handle from a later one with the same fd number. */
    private final long token = TOKENS.incrementAndGet();
    /** The poller this descriptor has been registered with, if any; written under that poller's lock. */
    private volatile Poller poller;

    /** Takes ownership of {@code fd}. */
    NativeFd(int fd, String owner) {
        this.descriptor = new Descriptor(fd);
        this.owner = owner;
        this.cleanable = CLEANER.register(this, descriptor);
        if (spare == UNSET) {
            synchronized (SPARE_LOCK) {
                if (spare == UNSET) spare = openSpare();
            }
        }
    }

    /** The descriptor number; meaningful only while this handle is open. */
    public final int fd() {
        return descriptor.fd;
    }

    /** The library's one cleaner, for owners whose resources outlive a reference from the poller. */
    public static Cleaner cleaner() {
        return CLEANER;
    }

    final long token() {
        return token;
    }

    /** What this descriptor belongs to, for messages. */
    final String owner() {
        return owner;
    }

    /** Whether {@link #close()} has been called. */
    public final boolean isClosed() {
        return descriptor.isClosed();
    }

    /**
     * Closes the descriptor. Idempotent. Calls in flight finish first (they are non-blocking); calls
     * made afterwards throw {@link ClosedException}. Waiters in the poller wake with CLOSED.
     */
    @Override
    public final void close() {
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
    final void attach(Poller p) {
        Poller current = poller;
        if (current == null) poller = p;         // volatile write, then the volatile read of the state:
        else if (current != p) throw new IllegalStateException(this + " is already registered with another poller");
        // close() writes the state, then reads poller. One of the two sees the other: either close()
        // finds this poller and waits in closing() for the lock our caller holds, or we see it closed.
        if (descriptor.isClosed()) throw new ClosedException(owner);
    }

    /** Starts a call on the descriptor; the descriptor stays open until {@link #end()}. @return the descriptor number @throws ClosedException if closed */
    final int begin() {
        if (!descriptor.tryBegin()) throw new ClosedException(owner);
        return descriptor.fd;
    }

    /** Ends a call started by {@link #begin()}. */
    final void end() {
        descriptor.end();
    }

    private static int openSpare() {
        try {
            return Native.openReadOnly("/dev/null");
        } catch (NativeCallException e) {
            return -1;                           // none to spare now: taken again after the next read
        }
    }

    /**
     * Reads a {@code /proc} file with no descriptor to spare: the spare is closed to free a slot, the
     * file is opened, read and closed, and the spare is opened again. A thread of the process that
     * opens a descriptor between those steps takes the slot: the read then fails with EMFILE, and the
     * spare is taken again once a slot is free.
     */
    static String readThroughSpare(String path, int max) {
        synchronized (SPARE_LOCK) {
            if (spare < 0 && (spare = openSpare()) < 0) throw Native.failure("open " + path, Native.EMFILE);  // UNSET too
            Native.close(spare);
            spare = -1;
            try {
                int f = Native.openReadOnly(path);
                try {
                    return Native.preadText(f, max);
                } finally {
                    Native.close(f);
                }
            } finally {
                spare = openSpare();
            }
        }
    }

    /** The text of {@code /proc/self/fdinfo/<fd>} (the kernel's description of the open file). */
    final String fdinfo() {
        begin();
        try {
            return descriptor.fdinfo();
        } finally {
            end();
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[fd=" + descriptor.fd + (isClosed() ? ", closed" : "") + "]";
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
        /** {@code /proc/self/fdinfo/<fd>}, opened on first use and kept, -1 before; guarded by this. */
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

        /**
         * Opened on first use and kept, since opening a /proc file costs tens of microseconds of
         * kernel time (it builds a dentry and an inode that RCU frees later), where a pread costs
         * about one. With no descriptor to spare, it is read once through the spare ({@link #readThroughSpare}).
         */
        synchronized String fdinfo() {
            if (fdinfo < 0) {
                String path = "/proc/self/fdinfo/" + fd;
                try {
                    fdinfo = Native.openReadOnly(path);
                } catch (NativeCallException e) {
                    if (e.errno() != Native.EMFILE && e.errno() != Native.ENFILE) throw e;
                    return readThroughSpare(path, 512);
                }
            }
            return Native.preadText(fdinfo, 512);
        }
    }

}
