package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Poller;
import dev.eventfd.sync.internal.Rendezvous;

import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.Serial;
import java.io.Serializable;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A counting semaphore whose permits live in a Linux eventfd, so that other processes can share it,
 * and whose blocked acquirers park rather than block in native code, so that a waiting virtual thread
 * never holds a carrier.
 *
 * <p>This class is a drop-in {@link Semaphore}: it keeps the whole contract of its superclass, and code
 * written against {@code Semaphore} works unchanged. Its permit count is the counter of an eventfd
 * created with {@code EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC}. A process that holds the descriptor
 * ({@link #permitsDescriptor()}) acquires one permit with an 8-byte {@code read(2)} and releases
 * {@code n} with an 8-byte {@code write(2)} of {@code n}; this object sees those changes, and they see
 * its own. An event loop can watch the descriptor for {@code EPOLLIN}, which means "a permit is free".
 *
 * <pre> {@code
 * try (EventFdSemaphore available = new EventFdSemaphore(4)) {
 *   try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
 *     for (int i = 0; i < 10_000; i++) {
 *       executor.submit(() -> {
 *         available.acquire();          // parks; the carrier runs other threads meanwhile
 *         try {
 *           callRateLimitedService();
 *         } finally {
 *           available.release();
 *         }
 *         return null;
 *       });
 *     }
 *   }
 * }}</pre>
 *
 * <p><b>Waiting.</b> A thread that must wait joins this object's own {@link Semaphore} queue, so
 * {@link #hasQueuedThreads()}, {@link #getQueueLength()} and {@link #getQueuedThreads()} report this
 * JVM's waiters exactly, and parks there. A {@link #release} in this JVM hands permits to those waiters
 * directly; permits released by other processes are noticed by a poller thread watching the descriptor
 * with epoll, which moves them to the waiters here. No method of this class blocks inside a native call.
 *
 * <p><b>Fairness.</b> With {@code fair} set, the {@code acquire} methods of this JVM are served in FIFO
 * order, exactly as in {@link Semaphore}, and the untimed {@link #tryAcquire()} still barges. Between
 * processes there is no order: the kernel wakes every process waiting on the descriptor, and whichever
 * reads first wins.
 *
 * <p><b>Several permits at once.</b> {@link #acquire(int)} and the other {@code n}-permit methods are
 * atomic for the caller: they take all {@code n} permits or none. The kernel can only take permits one
 * at a time, so a multi-permit acquirer gathers them; so that two gatherers can never each hold part of
 * what the other needs, only the holder of a second eventfd, the <em>turnstile</em>
 * ({@link #turnstileDescriptor()}, counter 1 when free), gathers. A JVM holds the turnstile while one of
 * its threads waits for several permits, and permits it has gathered but not yet handed over are
 * invisible to other processes meanwhile. A non-Java process that wants {@code n > 1} permits must
 * follow the same protocol: read the turnstile, read the permits one by one, write the turnstile.
 *
 * <p>A process killed while one of its threads waits for several permits leaves the turnstile taken:
 * multi-permit acquires on those descriptors then wait until every process sharing them has closed
 * them (for a named semaphore, until the name is created afresh). Single-permit operations are not
 * affected.
 *
 * <p><b>Negative permits</b> (a negative initial count, or {@link #reducePermits}) are a deficit kept
 * in this JVM: the kernel counter stays at zero until releases have paid it, so other processes cannot
 * acquire meanwhile. While in deficit this JVM watches the counter, and permits that other processes
 * release pay it as soon as the poller sees them (a process that reads the counter at that very
 * moment can take one first). {@code acquire(0)} and {@code tryAcquire(0, ...)} while the count is
 * negative (or, when fair, while others wait) wait until a permit is free, take it and give it back
 * at once; {@link Semaphore} would return as soon as the count reaches zero.
 *
 * <p><b>Limits.</b> {@link #release} throws {@code Error("Maximum permit count exceeded")}, leaving
 * the count unchanged, if more than {@link Integer#MAX_VALUE} permits would be available, as
 * {@code Semaphore} does. The check is exact for every permit this JVM knows of: its own transfers,
 * and the kernel counter as of its last look (every {@link #availablePermits()}, and every check that
 * comes near the limit, reads it). Permits another process releases unseen, or at the same moment,
 * can let one release pass the limit; {@link #availablePermits()} then reports
 * {@code Integer.MAX_VALUE}, and the kernel keeps the true count (up to 2<sup>64</sup>-2). Taking {@code n} permits costs {@code n} reads, so {@link #drainPermits()}
 * costs one read per permit drained.
 *
 * <p><b>Closing.</b> {@link #close()} releases the descriptors. Threads waiting at that moment wake with
 * a {@link ClosedException}, and so does any later use. Other processes that share the descriptors
 * keep their own references and are not affected; but permits that a waiter here had just been
 * granted when the semaphore was closed are lost to them. A semaphore that is never closed gives its
 * descriptors back when it is garbage collected (and a named one stops serving).
 *
 * <p>Memory consistency effects: Actions in a thread prior to calling a "release" method such as
 * {@code release()} <a href="package-summary.html#MemoryVisibility"><i>happen-before</i></a> actions
 * following a successful "acquire" method such as {@code acquire()} in another thread of the same JVM.
 * Between processes the kernel orders the permit transfer itself, and nothing else.
 */
public class EventFdSemaphore extends Semaphore implements AutoCloseable {
    @Serial
    private static final long serialVersionUID = 1L;

    /*
     * Implementation overview
     *
     * There are three places a permit can be:
     *   K - the kernel counter of permitsFd: the permits every process sees;
     *   L - the state of the superclass's own synchronizer: permits this JVM has taken out of K, or
     *       that a local release handed over, for threads waiting in the superclass's queue;
     *   and a deficit D >= 0 held here, for negative permit counts.
     * availablePermits() = K + L - D.
     *
     * A fast acquire takes from L (a CAS, only non-zero while waiters are being served) or reads K.
     * A thread that must wait adds its request to `demand`, runs rebalance(), and then waits in the
     * superclass (super.acquire and friends), which brings exact j.u.c. semantics for fairness,
     * interrupts, timeouts and the final queue queries. Waiters are fed by two paths:
     *   - release() in this JVM, when demand > 0, releases into L: the superclass wakes its head
     *     directly, with no poller hop;
     *   - rebalance(), which moves permits K -> L while demand exceeds L, and otherwise arms a
     *     one-shot poller callback on permitsFd, whose firing runs rebalance() again. Arming reports a
     *     descriptor that is already readable, so a permit released between the failed read and the
     *     arming is not missed.
     * A waiter on its way out (acquired, timed out, interrupted) runs rebalance() unless others
     * still wait, L holds no more than they need and nothing else is pending; rebalance() returns L
     * beyond demand to K, so permits never stay in Java memory once nobody here waits for them.
     * A release that races with the last waiter's exit re-checks L > demand after releasing (both
     * sides write then read volatile state, so at least one of them sees the other).
     *
     * The kernel watch: while a callback on permitsFd is pending (`watchingKernel`), K was empty
     * when it was armed and any write fires it, so a single-permit waiter skips rebalance() on
     * entry and an acquirer about to wait skips its kernel read. rebalance() re-reads demand after
     * it clears the watch, so a waiter that relied on it is never stranded.
     *
     * Multi-permit waiters: L may hold part of a multi-permit request only while this JVM holds the
     * turnstile (a kernel eventfd shared by all processes). rebalance() takes it when a waiter needs
     * more than one permit and returns it when none does; while another process holds it, this JVM
     * returns L to K and waits on the turnstile instead. Hence no two processes hold part of what the
     * other needs. Within the JVM the superclass queue serves waiters in order, so local
     * multi-permit waiters cannot deadlock either.
     *
     * rebalance() and multi-permit gathering run under gatherLock; the fast paths take no lock.
     */

    /** The permit counter (EFD_SEMAPHORE): K. */
    private final transient EventFd permitsFd;
    /** The turnstile (EFD_SEMAPHORE, 1 when free): its holder may gather several permits. */
    private final transient EventFd turnstileFd;
    private final transient Poller poller;
    /** Serves the descriptors to other processes when the semaphore is named; else null. */
    private final transient Rendezvous participant;
    private final transient ReentrantLock gatherLock = new ReentrantLock();

    /** D: permits owed before any can be acquired. Updated by CAS (volatile). */
    private transient volatile long deficit;
    /** Total permits requested by threads waiting here. Updated by getAndAdd (volatile). */
    private transient volatile long demand;
    /** Waiters here asking for more than one permit. Updated by getAndAdd (volatile). */
    private transient volatile int multiWaiters;
    /** Whether this JVM holds the turnstile. Written under gatherLock, read anywhere (volatile). */
    private transient volatile boolean ownsTurnstile;
    /**
     * Whether a callback on the permits descriptor is pending: the counter was empty when it was armed,
     * and any write since will fire it. Set (volatile) before arming, cleared by disarm() and by the
     * callback before it runs rebalance(); a waiter that sees it set needs no rebalance() on entry.
     */
    private transient volatile boolean watchingKernel;
    /** The pending poller callback, if armed; guarded by gatherLock. */
    private transient Poller.Waiter armed;
    private transient EventFd armedOn;
    /** Set once by close() (volatile). */
    private transient volatile boolean closed;
    /**
     * Written (volatile) before every write of permits to the kernel and read (volatile) after every
     * permit taken from it: a kernel call is not a happens-before edge by itself, this pair makes one.
     */
    private transient volatile int kernelEdge;
    /**
     * The kernel counter as this JVM last knew it, adjusted by every read and write made here
     * (getAndAdd). Other processes make it stale; release() re-reads the real counter whenever the
     * estimate comes near the overflow limit, so the exact check costs nothing in the common case.
     */
    private transient volatile long kernelEstimate;

    private static final VarHandle DEFICIT;
    private static final VarHandle DEMAND;
    private static final VarHandle MULTI_WAITERS;
    private static final VarHandle KERNEL_EDGE;
    private static final VarHandle KERNEL_ESTIMATE;
    /** release() checks the real kernel counter once the estimate is within this of the limit. */
    private static final long ESTIMATE_MARGIN = 1L << 24;
    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            DEFICIT = l.findVarHandle(EventFdSemaphore.class, "deficit", long.class);
            DEMAND = l.findVarHandle(EventFdSemaphore.class, "demand", long.class);
            MULTI_WAITERS = l.findVarHandle(EventFdSemaphore.class, "multiWaiters", int.class);
            KERNEL_EDGE = l.findVarHandle(EventFdSemaphore.class, "kernelEdge", int.class);
            KERNEL_ESTIMATE = l.findVarHandle(EventFdSemaphore.class, "kernelEstimate", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Creates a non-fair {@code EventFdSemaphore} with the given number of permits.
     *
     * @param permits the initial number of permits available; may be negative, in which case
     *                releases must occur before any acquires will be granted
     * @throws UnsupportedOperationException if eventfd-sync cannot work in this JVM (see
     *                                       {@link EventFdSupport#unavailabilityCause()})
     * @throws NativeCallException           if the descriptors cannot be created (e.g. {@code EMFILE})
     */
    public EventFdSemaphore(int permits) {
        this(permits, false);
    }

    /**
     * Creates an {@code EventFdSemaphore} with the given number of permits and fairness setting.
     *
     * @param permits the initial number of permits available; may be negative, in which case
     *                releases must occur before any acquires will be granted
     * @param fair    {@code true} if this semaphore will guarantee first-in first-out granting of
     *                permits to this JVM's waiters under contention, else {@code false}
     * @throws UnsupportedOperationException if eventfd-sync cannot work in this JVM
     * @throws NativeCallException           if the descriptors cannot be created (e.g. {@code EMFILE})
     */
    public EventFdSemaphore(int permits, boolean fair) {
        this(fair, createDescriptors(Math.max(permits, 0)), Math.max(permits, 0), permits < 0 ? -(long) permits : 0,
                null);
    }

    /** Takes ownership of {@code descriptors} (permits, turnstile) and of the named participant, if any. */
    private EventFdSemaphore(boolean fair, EventFd[] descriptors, long kernelPermits, long deficit,
                             Rendezvous participant) {
        super(0, fair);
        this.permitsFd = descriptors[0];
        this.turnstileFd = descriptors[1];
        this.participant = participant;
        this.poller = Poller.shared();
        this.deficit = deficit;
        this.kernelEstimate = kernelPermits;
        if (participant != null) participant.closeWhenUnreachable(this);
        if (deficit > 0) rebalance();   // watch the kernel counter: other processes' releases pay the deficit
    }

    private static EventFd[] createDescriptors(int permits) {
        EventFdSupport.ensureAvailability();
        EventFd p = EventFd.create(permits, true, "EventFdSemaphore");
        try {
            return new EventFd[] {p, EventFd.create(1, true, "EventFdSemaphore")};
        } catch (RuntimeException | Error e) {
            p.close();
            throw e;
        }
    }

    /**
     * Opens the semaphore called {@code name}, shared by every process of this user that opens the
     * same name: joins it if a process has it open, else creates it with {@code permits} permits.
     *
     * <p>For a process that joins, {@code permits} is ignored: the semaphore has whatever permits its
     * participants have left it. The name lives as long as any process has it open, whoever created
     * it; once the last one has closed it or exited, the next {@code open} creates it afresh. Each
     * participant serves newcomers over a UNIX socket in a per-user directory
     * ({@code $XDG_RUNTIME_DIR/eventfd-sync}, else {@code <java.io.tmpdir>/eventfd-sync-<uid>}, mode
     * 0700), and answers processes of the same user only. Sharing between users is an explicit
     * opt-in: set the system property {@code eventfd.sync.dir} to a directory of mode 0770 (no access
     * for others) whose group holds those users; its participants then answer that group's members
     * too. {@link #close()} leaves the semaphore to the other participants.
     *
     * @param name    1 to 64 characters: letters, digits, {@code '.'}, {@code '_'} and {@code '-'},
     *                starting with a letter or digit
     * @param permits the initial permits if this call creates the semaphore; not negative (a deficit
     *                could not be shared)
     * @param fair    whether this JVM's waiters are served first-in first-out (a local property)
     * @throws IllegalArgumentException if the name is not acceptable or {@code permits} is negative
     * @throws IllegalStateException    if a participant answers with another protocol version or for
     *                                  another kind of object, or the directory is not safe to use
     */
    public static EventFdSemaphore open(String name, int permits, boolean fair) {
        if (permits < 0) throw new IllegalArgumentException("permits < 0: " + permits);
        EventFdSupport.ensureAvailability();
        Rendezvous.Opened o = Rendezvous.open(Rendezvous.Kind.SEMAPHORE, name, permits,
                () -> createDescriptors(permits));
        EventFd permitsFd = o.descriptors()[0];
        return new EventFdSemaphore(fair, o.descriptors(), o.created() ? permits : permitsFd.count(), 0,
                o.participant());
    }

    /**
     * Joins the semaphore called {@code name} if some process has it open; never creates it.
     *
     * @return the semaphore, or {@code null} if no process has the name open
     * @throws IllegalArgumentException if the name is not acceptable
     */
    public static EventFdSemaphore openExisting(String name) {
        EventFdSupport.ensureAvailability();
        Rendezvous.Opened o = Rendezvous.openExisting(Rendezvous.Kind.SEMAPHORE, name);
        if (o == null) return null;
        return new EventFdSemaphore(false, o.descriptors(), o.descriptors()[0].count(), 0, o.participant());
    }

    /**
     * The processes that have the semaphore called {@code name} open and serve it, the first being
     * the one a newcomer asks first. Empty if nobody has it open.
     */
    public static java.util.List<Long> participants(String name) {
        EventFdSupport.ensureAvailability();
        return Rendezvous.participants(Rendezvous.Kind.SEMAPHORE, name);
    }

    /** {@link #open(String, int, boolean)} for a non-fair semaphore. */
    public static EventFdSemaphore open(String name, int permits) {
        return open(name, permits, false);
    }

    // ------------------------------------------------------------------ acquire

    /**
     * Acquires a permit from this semaphore, blocking until one is available, or the thread is
     * {@linkplain Thread#interrupt interrupted}.
     *
     * <p>Acquires a permit, if one is available and returns immediately, reducing the number of
     * available permits by one.
     *
     * <p>If no permit is available then the current thread parks until one of two things happens:
     * <ul>
     * <li>Some other thread, in this or another process, releases a permit and this thread is next to
     * be assigned one; or
     * <li>Some other thread interrupts the current thread.
     * </ul>
     *
     * @throws InterruptedException if the current thread is interrupted on entry or while waiting; its
     *                              interrupted status is cleared
     * @throws ClosedException      if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public void acquire() throws InterruptedException {
        acquire(1);
    }

    /**
     * Acquires the given number of permits, blocking until all are available, or the thread is
     * interrupted. Takes all of them or none: permits are never left half-taken.
     *
     * @param permits the number of permits to acquire
     * @throws InterruptedException     if the current thread is interrupted on entry or while waiting;
     *                                  permits that would have been assigned to it go to other threads
     * @throws IllegalArgumentException if {@code permits} is negative
     * @throws ClosedException          if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public void acquire(int permits) throws InterruptedException {
        checkPermits(permits);
        if (Thread.interrupted()) throw new InterruptedException();
        if (!tryWithoutWaiting(permits, true)) await(permits, Mode.INTERRUPTIBLE, 0L);
    }

    /**
     * Acquires a permit, blocking until one is available. If the thread is interrupted while waiting
     * it keeps waiting, and returns with its interrupt status set.
     *
     * @throws ClosedException if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public void acquireUninterruptibly() {
        acquireUninterruptibly(1);
    }

    /**
     * Acquires the given number of permits, blocking until all are available, ignoring interrupts
     * (the interrupt status is set on return if one came).
     *
     * @param permits the number of permits to acquire
     * @throws IllegalArgumentException if {@code permits} is negative
     * @throws ClosedException          if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public void acquireUninterruptibly(int permits) {
        checkPermits(permits);
        if (!tryWithoutWaiting(permits, true)) {
            try {
                await(permits, Mode.UNINTERRUPTIBLE, 0L);
            } catch (InterruptedException impossible) {
                throw new AssertionError(impossible);
            }
        }
    }

    /**
     * Acquires a permit only if one is available at the time of invocation. Like
     * {@link Semaphore#tryAcquire()}, this barges even when the semaphore is fair.
     *
     * @return {@code true} if a permit was acquired
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public boolean tryAcquire() {
        return tryAcquire(1);
    }

    /**
     * Acquires the given number of permits only if all are available at the time of invocation;
     * barges even when the semaphore is fair. While another process holds the turnstile (it is
     * gathering permits for a multi-permit acquire), a request for more than one permit fails.
     *
     * @param permits the number of permits to acquire
     * @return {@code true} if the permits were acquired, {@code false} (and nothing taken) otherwise
     * @throws IllegalArgumentException if {@code permits} is negative
     * @throws ClosedException          if this semaphore is closed
     */
    @Override
    public boolean tryAcquire(int permits) {
        checkPermits(permits);
        ensureOpen();
        return take(permits);
    }

    /**
     * Acquires a permit if one becomes available within the given waiting time and the thread is not
     * interrupted. A timeout of zero or less does not wait; it honours fairness, unlike
     * {@link #tryAcquire()}.
     *
     * @return {@code true} if a permit was acquired, {@code false} if the time elapsed first
     * @throws InterruptedException if the current thread is interrupted on entry or while waiting
     * @throws ClosedException      if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public boolean tryAcquire(long timeout, TimeUnit unit) throws InterruptedException {
        return tryAcquire(1, timeout, unit);
    }

    /**
     * Acquires the given number of permits if all become available within the given waiting time and
     * the thread is not interrupted. All or none.
     *
     * @return {@code true} if the permits were acquired, {@code false} if the time elapsed first
     * @throws InterruptedException     if the current thread is interrupted on entry or while waiting
     * @throws IllegalArgumentException if {@code permits} is negative
     * @throws ClosedException          if this semaphore is, or while waiting becomes, closed
     */
    @Override
    public boolean tryAcquire(int permits, long timeout, TimeUnit unit) throws InterruptedException {
        checkPermits(permits);
        if (Thread.interrupted()) throw new InterruptedException();
        long nanos = unit.toNanos(timeout);
        long deadline = System.nanoTime() + nanos;
        if (tryWithoutWaiting(permits, nanos > 0)) return true;
        if (nanos <= 0) return false;
        return await(permits, Mode.TIMED, deadline);
    }

    // ------------------------------------------------------------------ release

    /**
     * Releases a permit, returning it to the semaphore: to a thread waiting in this JVM if there is
     * one, else to the kernel counter, where any process may take it.
     *
     * @throws Error           if more than {@code Integer.MAX_VALUE} permits would be available
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public void release() {
        release(1);
    }

    /**
     * Releases the given number of permits. There is no requirement that a thread that releases a
     * permit must have acquired it.
     *
     * @param permits the number of permits to release
     * @throws IllegalArgumentException if {@code permits} is negative
     * @throws Error                    if more than {@code Integer.MAX_VALUE} permits would be
     *                                  available; the count is then unchanged
     * @throws ClosedException          if this semaphore is closed
     */
    @Override
    public void release(int permits) {
        checkPermits(permits);
        ensureOpen();
        if (permits == 0) return;
        checkOverflow(permits);
        long toRelease = payDeficit(permits);
        if (toRelease == 0) {
            if (deficit == 0 && demand == 0) rebalance();  // stop watching for the deficit
            return;
        }
        if (demand > 0 && (multiWaiters == 0 || ownsTurnstile)) {
            super.release((int) toRelease);    // AQS release: happens-before the waiter's acquire
            // The waiters left meanwhile, or a multi-permit waiter came while another process holds
            // the turnstile: L must not keep what that process may need.
            if (super.availablePermits() > demand || (multiWaiters > 0 && !ownsTurnstile)) rebalance();
        } else {
            toKernel(toRelease);
        }
    }

    // ------------------------------------------------------------------ queries

    /**
     * Returns the number of permits available now: the kernel counter, plus permits this JVM holds
     * for its waiters, less any deficit. Permits that another process is gathering for a multi-permit
     * acquire are not counted. Saturates at {@code Integer.MAX_VALUE}.
     *
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public int availablePermits() {
        ensureOpen();
        return availablePermits0();
    }

    /** Throws the j.u.c. overflow Error if {@code permits} more would pass Integer.MAX_VALUE. */
    private void checkOverflow(int permits) {
        long local = super.availablePermits() - deficit + permits;
        if (Math.max(kernelEstimate, 0) + local <= Integer.MAX_VALUE - ESTIMATE_MARGIN) return;
        long k = permitsFd.count();               // near the limit: read the real counter
        KERNEL_ESTIMATE.setVolatile(this, k);
        if (Math.min(Math.max(k, 0), Integer.MAX_VALUE) + local > Integer.MAX_VALUE) {
            throw new Error("Maximum permit count exceeded");
        }
    }

    private int availablePermits0() {
        // Under gatherLock: the moves between K, L and the deficit (rebalance, settleDeficit) are
        // made under it too, so the three are read in a consistent state.
        gatherLock.lock();
        try {
            long k = permitsFd.count();
            KERNEL_ESTIMATE.setVolatile(this, k);     // what other processes did is now known here too
            if (k < 0 || k > Integer.MAX_VALUE) k = Integer.MAX_VALUE;  // a peer pushed it past int
            long available = k + super.availablePermits() - deficit;
            return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, available));
        } finally {
            gatherLock.unlock();
        }
    }

    /**
     * Acquires and returns all permits that are immediately available, or if permits are negative,
     * releases them. Upon return, zero permits are available.
     *
     * @return the number of permits acquired or, if negative, the number released
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public int drainPermits() {
        ensureOpen();
        gatherLock.lock();
        try {
            long taken = super.drainPermits();
            while (fromKernel()) taken++;
            long d = (long) DEFICIT.getAndSet(this, 0L);
            refeedWaiters();                     // the waiters here now need permits from the kernel
            return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, taken - d));
        } finally {
            gatherLock.unlock();
        }
    }

    /**
     * Shrinks the number of available permits by the indicated reduction. Unlike {@code acquire}, it
     * does not block; the count may become negative (a deficit kept in this JVM, see the class
     * documentation).
     *
     * @param reduction the number of permits to remove
     * @throws IllegalArgumentException if {@code reduction} is negative
     * @throws ClosedException          if this semaphore is closed
     */
    @Override
    protected void reducePermits(int reduction) {
        if (reduction < 0) throw new IllegalArgumentException();
        ensureOpen();
        DEFICIT.getAndAdd(this, (long) reduction);
        rebalance();                    // pays what it can now, and watches the kernel counter for the rest
    }

    /**
     * Returns a collection of the threads of this JVM that are waiting to acquire. Threads of other
     * processes are not included. The collection is a best-effort snapshot, as in {@link Semaphore}.
     */
    @Override
    protected java.util.Collection<Thread> getQueuedThreads() {
        return super.getQueuedThreads();
    }

    /**
     * The descriptor holding the permit count. Another process that holds it (received over a UNIX
     * socket, or inherited) acquires a permit with an 8-byte {@code read(2)} and releases {@code n}
     * with an 8-byte {@code write(2)} of {@code n}. Valid until {@link #close()}; do not close it.
     */
    public int permitsDescriptor() {
        ensureOpen();
        return permitsFd.fd();
    }

    /**
     * The turnstile descriptor (counter 1 when free). A process that takes more than one permit at a
     * time reads it first and writes 1 back when done, so that gatherers never deadlock.
     */
    public int turnstileDescriptor() {
        ensureOpen();
        return turnstileFd.fd();
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Returns a string identifying this semaphore, as well as its state. The state, in brackets,
     * includes the String {@code "Permits ="} followed by the number of permits, or {@code "closed"}.
     */
    @Override
    public String toString() {
        String id = getClass().getName() + "@" + Integer.toHexString(hashCode());
        try {
            return closed ? id + "[closed]" : id + "[Permits = " + availablePermits0() + "]";
        } catch (ClosedException raced) {
            return id + "[closed]";
        }
    }

    // ------------------------------------------------------------------ close

    /**
     * Closes this semaphore's descriptors. Threads waiting in this JVM wake with a
     * {@link ClosedException}; later calls throw it too. Permits this JVM was holding for its waiters
     * go back to the kernel counter, and the turnstile is returned if held, so that other processes
     * sharing the descriptors carry on. Idempotent.
     */
    @Override
    public void close() {
        gatherLock.lock();
        try {
            if (closed) return;
            closed = true;                       // volatile: every later ensureOpen() sees it
            disarm();
            int held = super.drainPermits();
            if (held > 0) toKernel(held);
            if (ownsTurnstile) {
                ownsTurnstile = false;
                turnstileFd.tryWrite(1);
            }
        } finally {
            gatherLock.unlock();
        }
        if (participant != null) participant.close();
        // Wake every local waiter: each takes its permits from L, sees `closed` and throws. A thread
        // between its demand and the queue is counted in demand, and sees closed or is woken here.
        while (demand > 0 || hasQueuedThreads()) {
            int l = super.availablePermits();
            if (l < Integer.MAX_VALUE / 2) super.release(Integer.MAX_VALUE / 2);
            Thread.yield();
        }
        permitsFd.close();
        turnstileFd.close();
    }

    // ------------------------------------------------------------------ serialization

    /**
     * Serializes a description (permits and fairness), not the descriptors: the deserialized object
     * is a new, independent {@code EventFdSemaphore} with its own descriptors, the same number of
     * available permits and the same fairness, and no waiters. Subclasses that need to keep their own
     * class or state across serialization override this method.
     */
    @Serial
    protected Object writeReplace() {
        return new SerializedForm(availablePermits(), isFair());
    }

    @Serial
    private void readObject(ObjectInputStream in) throws InvalidObjectException {
        throw new InvalidObjectException("EventFdSemaphore is deserialized through its serialized form");
    }

    private record SerializedForm(int permits, boolean fair) implements Serializable {
        @Serial
        private Object readResolve() {
            return new EventFdSemaphore(permits, fair);
        }
    }

    // ------------------------------------------------------------------ mechanics

    private enum Mode { INTERRUPTIBLE, UNINTERRUPTIBLE, TIMED }

    private static void checkPermits(int permits) {
        if (permits < 0) throw new IllegalArgumentException("permits < 0: " + permits);
    }

    private void ensureOpen() {
        if (closed) throw new ClosedException(describe());
    }

    private String describe() {
        return getClass().getSimpleName() + "@" + Integer.toHexString(hashCode());
    }

    /**
     * The fast path of the acquire methods: no barging past this JVM's queue when fair.
     *
     * @param willWait whether the caller waits if this fails: it then skips a kernel read that can
     *                 only fail (see take)
     */
    private boolean tryWithoutWaiting(int permits, boolean willWait) {
        ensureOpen();
        return !(isFair() && hasQueuedThreads()) && take(permits, willWait);
    }

    /** Takes {@code permits} from L and K without waiting, all or none (barging). */
    private boolean take(int permits) {
        return take(permits, false);
    }

    /**
     * @param willWait the caller waits if this fails. Then, while others wait here and the kernel
     *                 counter is watched, a read of it is skipped: it was empty when the watch was
     *                 armed, any write since fires the watch, whose rebalance() serves the queue that
     *                 the caller is about to join (barging is allowed, not owed).
     */
    private boolean take(int permits, boolean willWait) {
        if (deficit > 0) {
            boolean paid = settleDeficit();
            refeedWaiters();
            if (!paid) return false;
        }
        if (permits == 0) return true;
        if (permits == 1) {
            if (super.availablePermits() > 0 && super.tryAcquire()) {  // AQS CAS on L: barging
                refeedWaiters();
                return true;
            }
            if (willWait && watchingKernel && demand > 0) return false;
            return fromKernel();
        }
        return gather(permits);
    }

    /**
     * Called after taking from L outside rebalance(): the last rebalance() may have left the poller
     * disarmed because L covered the demand, and what was taken may have been meant for a waiter
     * that now needs a permit from the kernel. The barging CAS on L and the waiter's increment of
     * demand are both volatile, so either this sees the waiter or the waiter's own rebalance()
     * sees L without the permit.
     */
    private void refeedWaiters() {
        if (demand > 0) rebalance();
    }

    /** Takes several permits at once under the turnstile, all or none. */
    private boolean gather(int permits) {
        gatherLock.lock();
        try {
            boolean borrowed = false;
            if (!ownsTurnstile) {
                if (turnstileFd.tryRead() == 0) return false;  // another process is gathering
                borrowed = true;
            }
            try {
                int fromLocal = Math.min(permits, super.availablePermits());
                if (fromLocal > 0 && !super.tryAcquire(fromLocal)) fromLocal = 0;
                long fromKernel = 0;
                while (fromLocal + fromKernel < permits && fromKernel()) fromKernel++;
                if (fromLocal + fromKernel == permits) {
                    if (fromLocal > 0) refeedWaiters();
                    return true;
                }
                if (fromKernel > 0) toKernel(fromKernel);
                if (fromLocal > 0) super.release(fromLocal);
                return false;
            } finally {
                if (borrowed) turnstileFd.tryWrite(1);
            }
        } finally {
            gatherLock.unlock();
        }
    }

    /** Waits in the superclass queue while rebalance() feeds it. */
    private boolean await(int requested, Mode mode, long deadline) throws InterruptedException {
        // Zero permits while in deficit: wait as for one and give it back (see the class documentation).
        int permits = Math.max(requested, 1);
        DEMAND.getAndAdd(this, (long) permits);       // volatile write, then the volatile read of closed:
        if (permits > 1) MULTI_WAITERS.getAndAdd(this, 1);
        boolean acquired = false;
        try {
            // close() writes closed, then reads demand: either it waits for us or we see it closed.
            if (closed) throw new ClosedException(describe());
            // Entry: a single-permit waiter needs nothing done while the kernel counter is watched (it
            // was empty, and a write fires the callback, whose rebalance() then sees this demand).
            if (!(permits == 1 && watchingKernel && quiet() && super.availablePermits() == 0)) rebalance();
            switch (mode) {
                case INTERRUPTIBLE -> super.acquire(permits);
                case UNINTERRUPTIBLE -> super.acquireUninterruptibly(permits);
                case TIMED -> {
                    long nanos = deadline - System.nanoTime();
                    if (!super.tryAcquire(permits, nanos, TimeUnit.NANOSECONDS)) return false;
                }
            }
            acquired = true;
        } finally {
            if (permits > 1) MULTI_WAITERS.getAndAdd(this, -1);
            DEMAND.getAndAdd(this, -(long) permits);  // volatile: pairs with release()'s re-check of L
            // Exit: others still wait and L holds no more than they need: the invariants hold as they
            // were (what this waiter took, it took from L together with its own demand).
            if (!(demand > 0 && super.availablePermits() <= demand && quiet())) rebalance();
        }
        if (closed) throw new ClosedException(describe());
        if (acquired && requested == 0) release(1);
        return acquired;
    }

    /** No multi-permit waiter, no turnstile held, no deficit: the cases rebalance() has extra work for. */
    private boolean quiet() {
        return multiWaiters == 0 && !ownsTurnstile && deficit == 0;
    }

    /**
     * Restores the invariants after any change of demand or L: gives back what no waiter here needs,
     * holds the turnstile exactly while a multi-permit waiter waits, pulls permits from the kernel for
     * the waiters, and arms the poller when the kernel has none.
     */
    private void rebalance() {
        gatherLock.lock();
        try {
            if (closed) return;
            long wanted = demand;
            long local = super.availablePermits();
            if (local > wanted && super.tryAcquire((int) (local - wanted))) toKernel(local - wanted);
            if (multiWaiters == 0) {
                if (ownsTurnstile) {
                    ownsTurnstile = false;
                    turnstileFd.tryWrite(1);
                }
            } else if (!ownsTurnstile) {
                if (turnstileFd.tryRead() > 0) {
                    ownsTurnstile = true;
                } else {
                    // Another process gathers: hold nothing it may need, and wait for the turnstile.
                    int held = super.availablePermits();
                    if (held > 0 && super.tryAcquire(held)) toKernel(held);
                    arm(turnstileFd);
                    return;
                }
            }
            if (deficit > 0 && !settleDeficit()) {
                arm(permitsFd);
                return;
            }
            do {
                while (demand > super.availablePermits()) {
                    if (!fromKernel()) {
                        arm(permitsFd);
                        return;
                    }
                    super.release(1);            // AQS release: the poller thread's read happens-before the waiter
                }
                disarm();
                // A waiter that saw the watch still set skipped its own rebalance(): disarm() wrote the
                // flag (volatile), this reads demand (volatile), the waiter did the opposite, so
                // either it saw the flag cleared or this sees its demand.
            } while (demand > super.availablePermits());
        } finally {
            gatherLock.unlock();
        }
    }

    /** Arms a one-shot poller callback on {@code fd} that runs rebalance(); guarded by gatherLock. */
    private void arm(EventFd fd) {
        if (armed != null && armed.isPending() && armedOn == fd) return;
        disarm();
        armedOn = fd;
        boolean kernel = fd == permitsFd;
        if (kernel) watchingKernel = true;        // before arming: the callback may run at once and clear it
        armed = poller.register(fd, new Rebalancer(this, kernel));
    }

    /**
     * The poller callback. It holds the semaphore weakly: an armed callback (a deficit being watched)
     * must not keep an abandoned semaphore from its Cleaner.
     */
    private static final class Rebalancer implements java.util.function.Consumer<Poller.Outcome> {
        private final java.lang.ref.WeakReference<EventFdSemaphore> semaphore;
        private final boolean kernel;

        Rebalancer(EventFdSemaphore semaphore, boolean kernel) {
            this.semaphore = new java.lang.ref.WeakReference<>(semaphore);
            this.kernel = kernel;
        }

        @Override
        public void accept(Poller.Outcome outcome) {
            EventFdSemaphore s = semaphore.get();
            if (s == null || outcome != Poller.Outcome.READY) return;
            if (kernel) s.watchingKernel = false;  // volatile write before rebalance() reads demand
            s.rebalance();
        }
    }

    private void disarm() {
        if (armed != null) {
            armed.cancel();                       // if it already fired, its callback clears the flag
            armed = null;
            armedOn = null;
            watchingKernel = false;
        }
    }

    /** Pays the deficit from L and K, under gatherLock. @return whether it is paid off */
    private boolean settleDeficit() {
        gatherLock.lock();
        try {
            return settleDeficitLocked();
        } finally {
            gatherLock.unlock();
        }
    }

    private boolean settleDeficitLocked() {
        for (long d; (d = deficit) > 0; ) {
            boolean fromLocal = super.availablePermits() > 0 && super.tryAcquire();
            if (!fromLocal && !fromKernel()) return false;
            while (!DEFICIT.compareAndSet(this, d, d - 1)) {
                if ((d = deficit) == 0) {        // paid by someone else meanwhile: give it back
                    toKernel(1);                 // callers re-feed waiters from the kernel afterwards
                    return true;
                }
            }
        }
        return true;
    }

    /** Uses released permits to pay the deficit first. @return what is left to release */
    private long payDeficit(long permits) {
        for (long d; (d = deficit) > 0; ) {
            long pay = Math.min(d, permits);
            if (DEFICIT.compareAndSet(this, d, d - pay)) return permits - pay;
        }
        return permits;
    }

    /** Writes permits to the kernel counter. */
    private void toKernel(long permits) {
        KERNEL_EDGE.setVolatile(this, 0);        // release edge: prior actions happen-before the write
        if (!permitsFd.tryWrite(permits)) {
            throw new Error("Maximum permit count exceeded (kernel counter full)");
        }
        KERNEL_ESTIMATE.getAndAdd(this, permits);
    }

    /** Takes one permit from the kernel counter. @return false if it had none */
    private boolean fromKernel() {
        if (permitsFd.tryRead() == 0) return false;
        int edge = (int) KERNEL_EDGE.getVolatile(this);  // acquire edge: the releaser's actions are visible
        KERNEL_ESTIMATE.getAndAdd(this, -1L);
        return true;
    }
}
