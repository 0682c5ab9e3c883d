package dev.eventfd.sync.internal.store;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.NativeFd;
import dev.eventfd.sync.internal.Poller;

import java.lang.invoke.MethodHandles;
import java.lang.ref.Cleaner;
import java.lang.invoke.VarHandle;
import java.util.function.Consumer;

/**
 * The permits as the counter of an {@code EFD_SEMAPHORE} eventfd, with a second eventfd as the gather
 * right (the <em>turnstile</em>, counter 1 when free). This is the raw-descriptor protocol any process
 * can follow: an 8-byte {@code read(2)} of the permits descriptor takes one permit, a {@code write(2)}
 * of {@code n} gives back {@code n}, {@code EPOLLIN} means a permit is free; a process that takes
 * several permits reads the turnstile first and writes 1 back when done.
 *
 * <h2>Implementation overview</h2>
 * Taking {@code n} permits is {@code n} reads: the kernel takes one per read and offers no way to take
 * several atomically. A multi-permit take therefore happens under the turnstile and checks the counter
 * first ({@code /proc/self/fdinfo}, one {@code pread}), so a take that cannot succeed costs no reads;
 * one that can costs {@code n}. A take that still comes up short (another process read meanwhile)
 * gives back what it took.
 *
 * <p>The kernel call is not a happens-before edge in the Java memory model. {@link #give} makes a
 * volatile read-modify-write of {@code edge} before its write(2), and every successful read(2) is
 * followed by a volatile read of {@code edge} (Dekker-free: a release/acquire pair, the "kernel
 * edge"). The writes are chained by {@code getAndAdd}, so an acquirer synchronizes with every earlier
 * giver, not only with the last one in the synchronization order.
 *
 * <p>What this store cannot do, and why the named objects use another: the counter does not know who
 * holds its permits, so a process that dies holding some takes them with it, and one that dies while
 * holding the turnstile leaves it taken.
 */
public final class KernelCounterStore implements PermitStore {

    private static final VarHandle EDGE;
    private static final VarHandle ESTIMATE;
    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            EDGE = l.findVarHandle(KernelCounterStore.class, "edge", long.class);
            ESTIMATE = l.findVarHandle(KernelCounterStore.class, "estimate", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final EventFd permits;
    private final EventFd turnstile;
    /** The kernel edge: getAndAdd before every write(2), read (volatile) after every successful read(2). */
    private volatile long edge;
    /** The counter as this JVM knows it: set by count(), adjusted by every take and give (getAndAdd). */
    private volatile long estimate;
    /** The owner's cleaning action, once closeWhenUnreachable has registered it (volatile). */
    private volatile Cleaner.Cleanable unreachable;

    /** Takes ownership of both descriptors, whose counter may hold any count (it is read now). */
    public KernelCounterStore(EventFd permits, EventFd turnstile) {
        this(permits, turnstile, -1);
        count();
    }

    /** Takes ownership of both descriptors, the counter holding {@code count} permits (-1: not known yet). */
    private KernelCounterStore(EventFd permits, EventFd turnstile, long count) {
        this.permits = permits;
        this.turnstile = turnstile;
        this.estimate = count;
    }

    /** Creates the two descriptors, the counter holding {@code initial} permits. */
    public static KernelCounterStore create(long initial, String owner) {
        EventFd p = EventFd.create(initial, true, owner);
        try {
            return new KernelCounterStore(p, EventFd.create(1, true, owner), initial);
        } catch (RuntimeException | Error e) {
            p.close();
            throw e;
        }
    }

    /** The permits descriptor. */
    public EventFd permitsFd() {
        return permits;
    }

    /** The turnstile descriptor. */
    public EventFd turnstileFd() {
        return turnstile;
    }

    @Override
    public boolean tryTakeOne() {
        if (permits.tryRead() == 0) return false;
        long e = edge;                       // kernel edge, acquire side: the giver's actions are visible
        ESTIMATE.getAndAdd(this, -1L);
        return true;
    }

    @Override
    public boolean tryTake(long n, boolean holdingGatherRight) {
        if (n == 1) return tryTakeOne();
        if (!holdingGatherRight && turnstile.tryRead() == 0) return false;  // another process gathers
        try {
            if (Long.compareUnsigned(count(), n) < 0) return false;
            long taken = 0;
            while (taken < n && tryTakeOne()) taken++;
            if (taken == n) return true;
            if (taken > 0) give(taken);      // a reader elsewhere came first: all or none
            return false;
        } finally {
            if (!holdingGatherRight) turnstile.tryWrite(1);
        }
    }

    @Override
    public void give(long n) {
        EDGE.getAndAdd(this, 1L);            // kernel edge, release side: prior actions happen-before the taker's
        if (!permits.tryWrite(n)) throw new Error("Maximum permit count exceeded (kernel counter full)");
        ESTIMATE.getAndAdd(this, n);
    }

    @Override
    public long count() {
        long k = permits.count();
        long c = k < 0 ? Long.MAX_VALUE : k;  // unsigned: a peer may push it past 2^63
        ESTIMATE.setVolatile(this, c);
        return c;
    }

    @Override
    public long estimate() {
        return estimate;
    }

    @Override
    public boolean tryClaimGatherRight() {
        return turnstile.tryRead() > 0;
    }

    @Override
    public void releaseGatherRight() {
        turnstile.tryWrite(1);
    }

    @Override
    public Poller.Waiter watch(boolean gatherRight, Consumer<Poller.Outcome> callback) {
        return Poller.shared().register(gatherRight ? turnstile : permits, callback);
    }

    @Override
    public void closeWhenUnreachable(Object owner) {
        EventFd p = permits, t = turnstile;  // the action must not capture this store's owner
        unreachable = NativeFd.cleaner().register(owner, () -> {
            p.close();
            t.close();
        });
    }

    /** Closes both descriptors; through the cleanable if there is one, which also unregisters it. */
    @Override
    public void close() {
        Cleaner.Cleanable c = unreachable;
        if (c != null) {
            c.clean();                        // runs the action once, and the GC has nothing left to track
        } else {
            permits.close();
            turnstile.close();
        }
    }
}
