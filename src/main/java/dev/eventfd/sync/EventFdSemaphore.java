package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Poller;
import dev.eventfd.sync.internal.Rendezvous;
import dev.eventfd.sync.internal.jfr.Events;
import dev.eventfd.sync.internal.store.KernelCounterStore;
import dev.eventfd.sync.internal.store.PermitStore;
import dev.eventfd.sync.internal.store.SharedSlotStore;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serial;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.WeakReference;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

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
 * order, exactly as in {@link Semaphore}, and the untimed {@link #tryAcquire()} still barges past this
 * JVM's queue. No process starves the others: on the shared-memory store, while another process
 * waits, a release goes through the shared count (every waiting process is woken) rather than to this
 * JVM's own waiters, and a thread that has not waited does not take a permit from the shared count
 * ({@code tryAcquire()} then returns {@code false}: the free permit is the waiting process's).
 *
 * <p><b>Fair mode across processes.</b> On the shared-memory store, processes that opened the name
 * fair are served in FIFO order among themselves too: each waiter takes a ticket from a counter in
 * the shared memory as it begins to wait, the JVM publishes its smallest, and a JVM takes for its
 * waiters only while no live process has a smaller one (see {@code SlotPermits}, "FIFO between fair
 * processes"). Waits are ordered by their tickets: of two waits in different processes, one seen
 * waiting before the other began is served first. Within a JVM the order is its queue's. A non-fair
 * process keeps no turn and takes its chance; on the kernel-counter store the kernel wakes every
 * process waiting on the descriptor, and whichever reads first wins.
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
 * them (for a named semaphore on the kernel-counter store, until the name is created afresh).
 * Single-permit operations are not affected.
 *
 * <p><b>Named semaphores</b> ({@link #open(String, int, boolean)}) keep their permits elsewhere by
 * default: in memory shared by every participant, one slot per process recording what it holds
 * ({@link Store#SHARED_MEMORY}). A process that dies, however and wherever it dies, gives back
 * exactly what its slot held, a waiter in another process is woken by the death itself, and the
 * gather right is a word in that memory that a dead holder never keeps. Uncontended acquires and
 * releases there make no system call. What a dead process released beyond what it held stays
 * released. {@link #permitsDescriptor()} and {@link #turnstileDescriptor()} exist only on the
 * kernel counter ({@link Store#KERNEL_COUNTER}), which a named semaphore uses only when asked.
 *
 * <p><b>Negative permits</b> (a negative initial count, or {@link #reducePermits}) are kept in this
 * JVM, in the superclass's own count, exactly as {@link Semaphore} keeps them: the kernel counter stays
 * at zero until releases have paid them, so other processes cannot acquire meanwhile. While the count
 * is negative this JVM watches the counter, and permits that other processes release pay it as soon as
 * the poller sees them (a process that reads the counter at that very moment can take one first).
 * {@code acquire(0)} waits while the count is negative, as in {@link Semaphore}.
 *
 * <p><b>Limits.</b> {@link #release} throws {@code Error("Maximum permit count exceeded")}, leaving
 * the count unchanged, if more than {@link Integer#MAX_VALUE} permits would be available, as
 * {@code Semaphore} does, and {@link #reducePermits} throws {@code Error("Permit count underflow")}
 * past {@link Integer#MIN_VALUE}. The overflow check is exact for every permit this JVM knows of: its
 * own transfers, and the kernel counter as of its last look (every {@link #availablePermits()}, and
 * every check that comes near the limit, reads it). Permits another process releases unseen, or two
 * releases racing at the limit, can let one release pass it; {@link #availablePermits()} then reports
 * {@code Integer.MAX_VALUE}, and the kernel keeps the true count (up to 2<sup>64</sup>-2). The kernel
 * takes one permit per read, so taking {@code n} permits costs {@code n} system calls: a successful
 * {@code tryAcquire(n)} holds this semaphore's internal lock for them (about a microsecond each), and
 * {@link #drainPermits()} (at most {@code Integer.MAX_VALUE} permits) lets go of it every
 * {@value #BATCH} reads. A multi-permit request that cannot succeed costs one read of the counter.
 *
 * <p><b>Closing.</b> {@link #close()} stops this JVM's use of the semaphore. Threads waiting at that
 * moment wake with a {@link ClosedException}, and so does any later use; an acquire that races with
 * {@code close()} either returns normally, holding real permits, or throws, holding none. Permits this
 * JVM was holding for its waiters, and permits granted to a waiter at the instant of closing, go back
 * to the shared count, and the gather right is given back, so other processes sharing the semaphore
 * carry on with exactly the permits that exist. Permits held by threads of this JVM when it closes are
 * treated as if this process had exited (a {@link #release} after {@code close()} throws): on a kernel
 * counter they stay taken, on the shared-memory store they come back. The
 * descriptors are released once the last thread that was waiting has woken. A semaphore that is never
 * closed gives its descriptors back when it is garbage collected (and a named one stops serving).
 *
 * <p>Memory consistency effects: Actions in a thread prior to calling a "release" method such as
 * {@code release()} <a href="package-summary.html#MemoryVisibility"><i>happen-before</i></a> actions
 * following a successful "acquire" method such as {@code acquire()} in another thread of the same JVM.
 * Between processes the kernel orders the permit transfer itself, and nothing else.
 */
public class EventFdSemaphore extends Semaphore implements AutoCloseable {
    @Serial
    private static final long serialVersionUID = 2L;

    /*
     * Implementation overview
     *
     * Policy and mechanics are apart. The superclass's synchronizer keeps the j.u.c. policy: its
     * state L is this JVM's local count (negative while permits are owed), its queue holds this
     * JVM's waiters, and it decides fairness, interrupts and timeouts. A PermitStore keeps the
     * permits every process shares (here K, the kernel counter; see KernelCounterStore). So
     *     availablePermits() = K + L.
     *
     * Fast paths take from L (a CAS) or from the store (one read), and a release goes to L when a
     * local waiter or a debt needs it (AQS hands it to the queue's head directly, no poller hop),
     * else to the store. While another process waits on the store (PermitStore.othersWaiting), a
     * release goes to the store even when local waiters need it, and a barging take from the store
     * (tryBargeOne) is refused, so the waiters of every process compete for it on equal terms and
     * no JVM keeps the permits among its own threads (CrossProcessFairnessTest). A thread that must wait adds its request to `demand` and waits in the
     * superclass. The feed restores, under `lock`, the one invariant the waiters rely on:
     *
     *   (F) after every change of demand, L or K, a feed runs that moves K -> L while L < demand
     *       (paying any debt first, since demand >= 0), moves L -> K while L > demand, holds the
     *       store's gather right exactly while a local waiter wants several permits (and, while
     *       another process holds it, keeps no positive L at all: no two gatherers can each hold
     *       part of what the other needs), and, when it must stop short, arms a one-shot poller
     *       watch on the store whose firing requests the next feed.
     *
     * Arming reports a store that is already non-empty at once, so a permit given between a failed
     * take and the arming is never missed. The feed is requested, never waited for: requestFeed()
     * sets `pending` and runs the feed only if tryLock() succeeds; whoever holds the lock reads
     * `pending` after it unlocks and runs the feed again (Dekker pair "feed": pending is written,
     * then the lock state read; the lock state is written, then pending read). The poller's
     * callback is such a request: it never waits for a lock, and runs at most one batch of
     * BATCH moves before handing the rest to a virtual thread, so one busy semaphore cannot delay
     * any other's wake-up. The lock is held for at most BATCH system calls by a feed.
     *
     * Who requests the feed: a waiter after adding its demand, and on its way out when it was the
     * last (the feed then disarms the watch) or L no longer matches the others' demand; a release
     * into L that leaves L > demand; a barging take from L while others wait (what it took may have
     * been meant for them); reducePermits; the watch.
     * Two races need both sides to look: a release into L against the last waiter's exit (Dekker
     * pair "excess": the releaser writes L and reads demand, the waiter writes demand and reads
     * L), and a barging take from L against a waiter's arrival (Dekker pair "refeed": the barger
     * writes L and reads demand, the waiter writes demand, then its feed reads L).
     *
     * Closing. `ctl` holds CLOSED | POOL | FINISHED and two counts: ACTIVE, the threads inside an
     * operation that can move permits, and WAITING, the threads between their demand and their
     * exit. Every operation enters with getAndAdd(ACTIVE) and gives up at once if CLOSED was set
     * (Dekker pair "gate": the operation writes ctl then reads CLOSED from it; close() sets CLOSED
     * then reads ACTIVE from ctl). close():
     *   1. sets CLOSED; from then on no operation starts, and the feed does nothing;
     *   2. parks until ACTIVE is 0 (those operations are short and never wait);
     *   3. under the lock, where L is stable (only waiters' own grants change it): returns L to the
     *      store and the gather right, then sets POOL and fills L up to WAKE_POOL (= MAX_VALUE),
     *      recording the permits added as `wakePool`. Every waiter's request fits: each wakes,
     *      takes its permits and exits. L need not be 0 when the pool goes in: a waiter granted
     *      real permits before the drain may read ctl after POOL was set and give them back to L
     *      first; the pool is then smaller by as much (read L, release the room, and on the
     *      overflow Error of a give-back in between, read again).
     * A waiter that acquired reads ctl: without CLOSED it returns normally; with CLOSED and
     * without POOL its permits are real (taken before step 3) and it gives them to the store; with
     * POOL they may be real or the pool's, so it gives them back to L (what does not fit is counted
     * in `keptAfterClose`), which lets the next waiter through. The last to leave (ctl ==
     * CLOSED | POOL, claimed with a CAS to FINISHED) computes what real permits remain,
     *     real = L + keptAfterClose - wakePool,
     * gives them to the store and closes it. Hence no permit is created (the pool never leaves
     * this JVM: barging is impossible after step 1, and every pool permit comes back to L or the
     * count) and none is lost (every permit in L at step 3 or granted at the instant of closing
     * reaches the store). close() itself never waits for a waiter. CloseProtocolModelTest explores
     * every interleaving of this protocol in a small model.
     *
     * Cached takes and gives. A store may keep a per-process cache that one CAS takes from or gives
     * to (SharedSlotStore), failing, and changing nothing, while any process waits or once the store
     * is closed. Those two run before enter(), outside the gate: acquire takes from the cache when L
     * is 0 (nothing local to take, no debt to pay) and, if fair, nobody is queued here; release gives
     * to it when L is 0 and demand is 0 (no waiter here to hand to). Both read CLOSED first, so none
     * starts once close() has begun, and one that read it clear is an operation concurrent with
     * close(), which it may precede: they never touch L, the wake pool or the descriptors, so what
     * close() drains and counts is unchanged by them, and the store's close makes its slot FREE in
     * one CAS that a later cached CAS cannot pass (the mapping stays until nothing reaches it). A
     * waiter here sets the store's WAITING bit before it looks at the store, and a cached give
     * expects that bit clear (its CAS is on the same word), so a permit given to the cache while a
     * waiter here arms its watch is either seen by the watch's look or goes the general way.
     *
     * Failures. A store operation that throws leaves L and the store as they were before it: a
     * failed give leaves the permits where they were (giveBack returns them to L), a failed take
     * took nothing, and a gather that fails returns what it took from L. Ctl's counts are given
     * back in finally blocks, so a failure never keeps close() waiting. The failure reaches the
     * thread whose operation ran the store call; a waiter whose own feed fails leaves (its demand
     * withdrawn) with that exception. A feed run by the poller's watch has no caller: its failure
     * (an epoll_ctl that cannot re-arm: ENOMEM, ENOSPC) goes to the poller thread's uncaught-
     * exception handler, and the waiters then wait for the next operation on this semaphore in
     * this JVM (a release, an acquire) to feed them again. EventFdSemaphoreStoreFaultTest runs
     * the semaphore against a store that fails on demand.
     */

    /** Moves a feed or a drain makes per hold of the lock. */
    static final int BATCH = 1024;
    /** release() checks the real kernel counter once the estimate is within this of the limit. */
    private static final long ESTIMATE_MARGIN = 1L << 24;
    /** Released into L by close() to wake the waiters; see the implementation overview. */
    private static final int WAKE_POOL = Integer.MAX_VALUE;

    private static final long ACTIVE = 1L;
    private static final long ACTIVE_MASK = (1L << 30) - 1;
    private static final long WAITING = 1L << 30;
    private static final long CLOSED = 1L << 60;
    private static final long POOL = 1L << 61;
    private static final long FINISHED = 1L << 62;

    // Set by the constructors and readObject, never changed afterwards.
    private transient PermitStore store;
    /** The same object as store: the descriptors the public accessors hand out. */
    private transient KernelCounterStore kernel;
    /** Serves the descriptors to other processes when the semaphore is named; else null. */
    private transient Rendezvous participant;
    /**
     * What the JFR wait events call this object: "semaphore", or "lock" for an EventFdLock's permit
     * (set by EventFdLock's constructor, before the lock is published).
     */
    transient String objectKind;
    private transient ReentrantLock lock;
    private transient Thread pollerThread;
    /**
     * The tickets of this JVM's fair waiters (see "Fair mode across processes"), and the lock that
     * orders taking one, publishing the smallest and giving one back. Only waits touch them.
     */
    private transient java.util.TreeSet<Long> tickets;
    private transient ReentrantLock turnLock;

    /** Total permits requested by threads waiting here. Updated by getAndAdd (volatile). */
    private transient volatile long demand;
    /** Waiters here asking for more than one permit. Updated by getAndAdd (volatile). */
    private transient volatile int multiWaiters;
    /** Whether this JVM holds the store's gather right. Written under lock, read anywhere (volatile). */
    private transient volatile boolean ownsGatherRight;
    /** A feed was requested and has not run since. Written anywhere (volatile), cleared under lock. */
    private transient volatile boolean pending;
    /** A virtual thread has been started to run pending feeds (CAS). */
    private transient volatile boolean feederStarted;
    /** The pending poller watch, if armed, and what it watches; guarded by lock. */
    private transient Poller.Waiter armed;
    private transient boolean armedForGatherRight;
    /** CLOSED | POOL | FINISHED | WAITING count | ACTIVE count; updated by getAndAdd and CAS (volatile). */
    private transient volatile long ctl;
    /** The thread in close() waiting for ACTIVE to reach 0 (volatile). */
    private transient volatile Thread closer;
    /** The permits close() released into L to wake the waiters; guarded by lock. */
    private transient int wakePool;
    /** Permits that waiters woken by close() could not give back to L (getAndAdd). */
    private transient volatile long keptAfterClose;

    private static final VarHandle DEMAND;
    private static final VarHandle MULTI_WAITERS;
    private static final VarHandle FEEDER_STARTED;
    private static final VarHandle CTL;
    private static final VarHandle KEPT;
    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            DEMAND = l.findVarHandle(EventFdSemaphore.class, "demand", long.class);
            MULTI_WAITERS = l.findVarHandle(EventFdSemaphore.class, "multiWaiters", int.class);
            FEEDER_STARTED = l.findVarHandle(EventFdSemaphore.class, "feederStarted", boolean.class);
            CTL = l.findVarHandle(EventFdSemaphore.class, "ctl", long.class);
            KEPT = l.findVarHandle(EventFdSemaphore.class, "keptAfterClose", long.class);
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
        this(Math.min(permits, 0), fair, newStore(Math.max(permits, 0)), (Rendezvous) null);
    }

    /** Takes ownership of {@code store} and of the named participant, if any. */
    private EventFdSemaphore(int local, boolean fair, KernelCounterStore store, Rendezvous participant) {
        super(local, fair);
        init(store, store, participant);
    }

    /**
     * For tests: a semaphore whose permits live in {@code store} (which may wrap {@code kernel}, the
     * store whose descriptors the accessors hand out). Takes ownership of both.
     */
    EventFdSemaphore(int local, boolean fair, PermitStore store, KernelCounterStore kernel) {
        super(local, fair);
        init(store, kernel, null);
    }

    private void init(PermitStore store, KernelCounterStore kernel, Rendezvous participant) {
        this.store = store;
        this.kernel = kernel;
        this.participant = participant;
        this.lock = new ReentrantLock();
        this.objectKind = "semaphore";                  // here, not as an initializer: a deserialized copy gets it too
        this.tickets = new java.util.TreeSet<>();
        this.turnLock = new ReentrantLock();
        this.pollerThread = Poller.shared().thread();
        store.closeWhenUnreachable(this);
        if (participant != null) participant.closeWhenUnreachable(this);
        if (super.availablePermits() < 0) requestFeed();  // watch the store: other processes' releases pay the debt
    }

    private static KernelCounterStore newStore(int permits) {
        EventFdSupport.ensureAvailability();
        return KernelCounterStore.create(permits, "EventFdSemaphore");
    }

    /**
     * Where a named semaphore keeps the permits its processes share; see
     * {@link EventFdSemaphore#open(String, int, boolean, Store)}.
     */
    public enum Store {
        /**
         * Per-process slots in shared memory (a sealed memfd every participant maps): a process that
         * dies, however it dies, gives back exactly the permits it held; uncontended acquires and
         * releases make no system call; a waiting process sleeps on an eventfd doorbell. Permits a
         * process released beyond those it held stay released when it dies (System V's
         * {@code SEM_UNDO} would undo them, and clamp at 0). At most {@value SharedSlotStore#SLOTS}
         * processes can have the semaphore open at once. The default.
         */
        SHARED_MEMORY,
        /**
         * The counter of an eventfd, and a turnstile eventfd: {@link #permitsDescriptor()} and
         * {@link #turnstileDescriptor()} work, so any process holding the descriptors can take part
         * with {@code read(2)} and {@code write(2)}; but the counter cannot know who holds its
         * permits, so a process that dies holding some takes them with it (until every participant
         * has exited and the name is created afresh), and one that dies while gathering several
         * leaves the turnstile taken.
         */
        KERNEL_COUNTER
    }

    private static EventFd[] createDescriptors(int permits) {
        KernelCounterStore s = newStore(permits);
        return new EventFd[] {s.permitsFd(), s.turnstileFd()};
    }

    /**
     * Opens the semaphore called {@code name}, shared by every process of this user that opens the
     * same name: joins it if a process has it open, else creates it with {@code permits} permits.
     *
     * <p>For a process that joins, {@code permits} is ignored: the semaphore has whatever permits its
     * participants have left it. The name lives as long as any process has it open, whoever created
     * it; once the last one has closed it or exited, the next {@code open} creates it afresh (unless
     * processes that were handed its {@linkplain #lifetimeDescriptors() lifetime descriptors} still
     * run: see {@link OrphanedPermitsException}). Each
     * participant serves newcomers over a UNIX socket in a per-user directory
     * ({@code $XDG_RUNTIME_DIR/eventfd-sync}, else {@code <java.io.tmpdir>/eventfd-sync-<uid>}, mode
     * 0700), and answers processes of the same user only. Sharing between users is an explicit
     * opt-in: set the system property {@code eventfd.sync.dir} to a sticky directory of mode 1770 (no access
     * for others) whose group holds those users; its participants then answer that group's members
     * too. {@link #close()} leaves the semaphore to the other participants.
     *
     * @param name    1 to 64 characters: letters, digits, {@code '.'}, {@code '_'} and {@code '-'},
     *                starting with a letter or digit
     * @param permits the initial permits if this call creates the semaphore; not negative (a debt
     *                could not be shared)
     * @param fair    whether this JVM's waiters are served first-in first-out (a local property)
     * @return the semaphore, joined or created
     * @throws IllegalArgumentException if the name is not acceptable or {@code permits} is negative
     * @throws IllegalStateException    if a participant answers with another protocol version or for
     *                                  another kind of object, or the directory is not safe to use
     * @throws OrphanedPermitsException if no participant is left but processes it was handed to
     *                                  still hold permits (retry once they have exited)
     */
    public static EventFdSemaphore open(String name, int permits, boolean fair) {
        return open(name, permits, fair, Store.SHARED_MEMORY);
    }

    /**
     * {@link #open(String, int, boolean)} with the permits kept in {@code store}. Every process that
     * opens the name must ask for the same store: a participant of the other store answers with an
     * {@link IllegalStateException} naming the store it has.
     *
     * @param name    the name, as for {@link #open(String, int, boolean)}
     * @param permits the initial permits if this call creates the semaphore; not negative
     * @param fair    whether this JVM's waiters are served first-in first-out (a local property)
     * @param store   where the permits are kept; the same in every process that opens the name
     * @return the semaphore, joined or created
     * @throws IllegalStateException also if the name is on the shared-memory store and
     *                               {@value SharedSlotStore#SLOTS} processes have it open
     */
    public static EventFdSemaphore open(String name, int permits, boolean fair, Store store) {
        if (permits < 0) throw new IllegalArgumentException("permits < 0: " + permits);
        java.util.Objects.requireNonNull(store, "store");
        EventFdSupport.ensureAvailability();
        if (store == Store.KERNEL_COUNTER) {
            return joined(Rendezvous.open(Rendezvous.Kind.SEMAPHORE, name, permits, () -> createDescriptors(permits)), fair);
        }
        return joinedSlots(Rendezvous.open(Rendezvous.Kind.SLOT_SEMAPHORE, name, permits,
                () -> SharedSlotStore.createDescriptors(permits, "EventFdSemaphore")), fair);
    }

    /**
     * Joins the semaphore called {@code name} if some process has it open; never creates it.
     *
     * @param name the name, as for {@link #open(String, int, boolean)}
     * @return the semaphore, or {@code null} if no process has the name open
     * @throws IllegalArgumentException if the name is not acceptable
     */
    public static EventFdSemaphore openExisting(String name) {
        return openExisting(name, Store.SHARED_MEMORY);
    }

    /**
     * {@link #openExisting(String)} for a semaphore on {@code store}.
     *
     * @param name  the name, as for {@link #open(String, int, boolean)}
     * @param store where the permits of the semaphore are kept
     * @return the semaphore, or {@code null} if no process has the name open
     */
    public static EventFdSemaphore openExisting(String name, Store store) {
        java.util.Objects.requireNonNull(store, "store");
        EventFdSupport.ensureAvailability();
        if (store == Store.KERNEL_COUNTER) {
            Rendezvous.Opened o = Rendezvous.openExisting(Rendezvous.Kind.SEMAPHORE, name);
            return o == null ? null : joined(o, false);
        }
        Rendezvous.Opened o = Rendezvous.openExisting(Rendezvous.Kind.SLOT_SEMAPHORE, name);
        return o == null ? null : joinedSlots(o, false);
    }

    private static EventFdSemaphore joined(Rendezvous.Opened o, boolean fair) {
        KernelCounterStore s;
        try {
            s = new KernelCounterStore((EventFd) o.descriptors()[0], (EventFd) o.descriptors()[1]);
        } catch (RuntimeException | Error e) {
            for (dev.eventfd.sync.internal.NativeFd fd : o.descriptors()) fd.close();
            o.participant().close();
            throw e;
        }
        return new EventFdSemaphore(0, fair, s, o.participant());
    }

    private static EventFdSemaphore joinedSlots(Rendezvous.Opened o, boolean fair) {
        SharedSlotStore s;
        try {
            s = SharedSlotStore.join(o.descriptors(), o.participant().name());   // closes the descriptors if it fails
        } catch (RuntimeException | Error e) {
            o.participant().close();
            throw e;
        }
        s.watchPeers(o.participant()::newPeers);
        return new EventFdSemaphore(fair, s, o.participant());
    }

    /** A named semaphore on the shared-memory store; takes ownership of both. */
    private EventFdSemaphore(boolean fair, SharedSlotStore store, Rendezvous participant) {
        super(0, fair);
        init(store, null, participant);
    }

    /**
     * Whether the semaphore called {@code name} has no participant left but processes that were
     * handed its {@linkplain #lifetimeDescriptors() lifetime descriptors} still hold its permits, so
     * that {@code open} throws {@link OrphanedPermitsException} until they have exited. A snapshot.
     *
     * @param name the name, as for {@link #open(String, int, boolean)}
     * @return whether such processes hold the name now while no participant serves it
     * @throws IllegalArgumentException if the name is not acceptable
     */
    public static boolean heldByOrphans(String name) {
        EventFdSupport.ensureAvailability();
        return Rendezvous.participants(Rendezvous.Kind.SEMAPHORE, name).isEmpty()
                && Rendezvous.leased(Rendezvous.Kind.SEMAPHORE, name);
    }

    /**
     * The processes that have the semaphore called {@code name} open and serve it, the first being
     * the one a newcomer asks first. Empty if nobody has it open.
     *
     * @param name the name, as for {@link #open(String, int, boolean)}
     * @return the process IDs of the participants, each as its own PID namespace numbers it
     */
    public static java.util.List<Long> participants(String name) {
        EventFdSupport.ensureAvailability();
        return Rendezvous.participants(Rendezvous.Kind.SEMAPHORE, name);
    }

    /**
     * The names of the named semaphores (and locks, which are semaphores) that a live process has
     * open in this user's directory (or the shared one, see the class documentation), sorted. A
     * snapshot: a name may be opened or closed right after.
     *
     * @return the names in use, sorted; empty if there are none
     */
    public static java.util.SortedSet<String> namesInUse() {
        EventFdSupport.ensureAvailability();
        return Rendezvous.namesInUse(Rendezvous.Kind.SEMAPHORE);
    }

    /**
     * {@link #open(String, int, boolean)} for a non-fair semaphore.
     *
     * @param name    the name, as for {@link #open(String, int, boolean)}
     * @param permits the initial permits if this call creates the semaphore; not negative
     * @return the semaphore, joined or created
     */
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
     * <p>If no permit is available then the current thread parks until one of three things happens:
     * <ul>
     * <li>Some other thread, in this or another process, releases a permit and this thread is next to
     * be assigned one; or
     * <li>Some other thread interrupts the current thread; or
     * <li>This semaphore is closed.
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
     * interrupted. Takes all of them or none: permits are never left half-taken. {@code acquire(0)}
     * waits while the count is negative.
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
        acquire0(permits, Mode.INTERRUPTIBLE, 0L);
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
        try {
            acquire0(permits, Mode.UNINTERRUPTIBLE, 0L);
        } catch (InterruptedException impossible) {
            throw new AssertionError(impossible);
        }
    }

    /**
     * Acquires a permit only if one is available at the time of invocation. Like
     * {@link Semaphore#tryAcquire()}, this barges even when the semaphore is fair, past the waiters of
     * this JVM; not past another process's (see Fairness in the class documentation).
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
        if (takenFromCache(permits, false)) return true;
        enter();
        try {
            return take(permits);
        } finally {
            leave();
        }
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
        return acquire0(permits, Mode.TIMED, unit.toNanos(timeout));
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
        if (!givenToCache(permits)) releaseOther(permits);   // the common case apart, small enough to inline
    }

    private void releaseOther(int permits) {
        enter();
        try {
            if (permits == 0) return;
            // To the waiters here, unless another process waits too: then through the store, which
            // rings every waiting process, this one included (no process keeps its permits to itself).
            int local = super.availablePermits();
            if (local < 0 || demand > 0 && !store.othersWaiting()) {
                checkOverflow(permits);
                super.release(permits);          // AQS release: happens-before the waiter's acquire
                // Dekker pair "excess" (with await's exit): L written above, demand read here.
                if (super.availablePermits() > demand || (multiWaiters > 0 && !ownsGatherRight)) requestFeed();
            } else {
                // With nothing in L the count is the store's, and a store whose gives check the limit does
                // so exactly itself; checking first would cost a sum over every slot.
                if (local != 0 || !store.givesCheckTheLimit()) checkOverflow(permits);
                store.give(permits);
            }
        } finally {
            leave();
        }
    }

    // ------------------------------------------------------------------ queries

    /**
     * Returns the number of permits available now: the kernel counter plus this JVM's local count
     * (negative while permits are owed). Permits that another process is gathering for a
     * multi-permit acquire are not counted. Saturates at {@code Integer.MAX_VALUE}.
     *
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public int availablePermits() {
        enter();
        try {
            return availablePermits0();
        } finally {
            leave();
        }
    }

    private int availablePermits0() {
        // Under the lock: the feed moves permits between K and L under it, so both are read at rest.
        lock.lock();
        try {
            long available = Math.min(store.count(), Integer.MAX_VALUE) + super.availablePermits();
            return (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, available));
        } finally {
            unlock();
        }
    }

    /** Throws the j.u.c. overflow Error if {@code permits} more would pass Integer.MAX_VALUE. */
    private void checkOverflow(int permits) {
        long local = (long) super.availablePermits() + permits;
        if (Math.max(store.estimate(), 0) + local <= Integer.MAX_VALUE - ESTIMATE_MARGIN) return;
        if (Math.min(store.count(), Integer.MAX_VALUE) + local > Integer.MAX_VALUE) {  // near it: read the real counter
            throw new Error("Maximum permit count exceeded");
        }
    }

    /**
     * Acquires and returns all permits that are immediately available, or if permits are negative,
     * releases them. Upon return, zero permits are available (unless other processes released some
     * meanwhile). Takes at most {@code Integer.MAX_VALUE} permits, one kernel read each.
     *
     * @return the number of permits acquired or, if negative, the number released
     * @throws ClosedException if this semaphore is closed
     */
    @Override
    public int drainPermits() {
        enter();
        lock.lock();
        try {
            long taken = super.drainPermits();
            for (int batch = 0; taken < Integer.MAX_VALUE && store.tryTakeOne(); taken++) {
                if (++batch == BATCH) {              // bound the time the lock is held
                    batch = 0;
                    unlock();
                    lock.lock();
                }
            }
            if (demand > 0) pending = true;          // the waiters here now need permits from the store
            return (int) Math.max(Integer.MIN_VALUE, taken);
        } finally {
            unlock();
            leave();
        }
    }

    /**
     * Shrinks the number of available permits by the indicated reduction. Unlike {@code acquire}, it
     * does not block; the count may become negative (kept in this JVM, see the class documentation).
     *
     * @param reduction the number of permits to remove
     * @throws IllegalArgumentException if {@code reduction} is negative
     * @throws Error                    if the local count would pass {@code Integer.MIN_VALUE}
     * @throws ClosedException          if this semaphore is closed
     */
    @Override
    protected void reducePermits(int reduction) {
        if (reduction < 0) throw new IllegalArgumentException();
        enter();
        try {
            super.reducePermits(reduction);
            requestFeed();                   // pays what it can now, and watches the store for the rest
        } finally {
            leave();
        }
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
     *
     * @return the permits descriptor
     */
    public int permitsDescriptor() {
        ensureOpen();
        return kernelStore().permitsFd().fd();
    }

    private KernelCounterStore kernelStore() {
        if (kernel == null) {
            throw new UnsupportedOperationException("a semaphore on the shared-memory store has no permit "
                    + "descriptors; open it with Store.KERNEL_COUNTER for the raw-descriptor protocol");
        }
        return kernel;
    }

    /**
     * The turnstile descriptor (counter 1 when free). A process that takes more than one permit at a
     * time reads it first and writes 1 back when done, so that gatherers never deadlock.
     *
     * @return the turnstile descriptor
     */
    public int turnstileDescriptor() {
        ensureOpen();
        return kernelStore().turnstileFd().fd();
    }

    /**
     * The descriptors whose open file descriptions keep this process's holdings of the named
     * semaphore alive, in a new array: the first holds this process's liveness lock in the shared
     * store, the second its lease on the name. The kernel releases each lock only when the last
     * descriptor of its description, in any process, is closed. Give copies of both to the processes
     * that do the work the permits guard, as {@code flock(1)} gives its lock to the command: duplicate
     * them without {@code FD_CLOEXEC} and let them inherit them. If this process then dies, what it
     * held is not recovered until every one of them has exited (or closed its copies), so no more
     * holders run at once than there are permits: the other participants keep the permits counted as
     * held, and if no participant is left, {@code open} of the name throws
     * {@link OrphanedPermitsException} instead of creating it afresh beside them. {@link #close()}
     * returns what this process holds whoever else has copies. Valid until {@code close()}; do not
     * close them.
     *
     * @return the liveness-lock descriptor and the lease descriptor, in that order
     * @throws UnsupportedOperationException if the semaphore is on the kernel-counter store, which
     *                                       does not know who holds permits
     * @throws ClosedException               if this semaphore is closed
     */
    public int[] lifetimeDescriptors() {
        ensureOpen();
        if (!(store instanceof SharedSlotStore s)) {
            throw new UnsupportedOperationException("a semaphore on the kernel-counter store has no lifetime descriptors: "
                    + "its permits do not come back when a holder dies");
        }
        return new int[] {s.lifetimeFd(), participant.leaseDescriptor()};
    }

    /**
     * A process that holds permits of a named semaphore, or has threads waiting for some.
     *
     * @param pid     the process as the caller numbers it, or -1 where it cannot: a process in a PID
     *                namespace the caller does not see into, that hands out no pidfd (a peer that
     *                serves no socket)
     * @param permits what the process has taken from the shared count and not given back: what its
     *                threads hold, and for a moment what it holds for its waiters before handing it over
     * @param waiting how many of its threads wait for permits
     * @param since   when {@code permits} last rose from 0 (by the wall clock of the machine), or
     *                {@code null} if it holds none
     */
    public record Holder(long pid, int permits, int waiting, java.time.Instant since) {}

    /**
     * The processes that hold permits of this named semaphore or wait for some, this one included:
     * a scan of the shared slots, each read on its own (not one snapshot), for monitoring. A process
     * that has the name open but neither holds nor waits is not listed.
     *
     * @return the holders and waiting processes, in an unmodifiable list
     * @throws UnsupportedOperationException if the semaphore is on the kernel-counter store (anonymous,
     *                                       or {@link Store#KERNEL_COUNTER}), which cannot know who holds
     * @throws ClosedException               if this semaphore is closed
     */
    public java.util.List<Holder> holders() {
        enter();
        try {
            java.util.List<Holder> all = new java.util.ArrayList<>();
            for (PermitStore.Holding h : store.holders()) {
                all.add(new Holder(h.pid(), (int) Math.min(h.permits(), Integer.MAX_VALUE), (int) Math.min(h.waiting(), Integer.MAX_VALUE),
                        h.permits() > 0 && h.sinceMillis() > 0 ? java.time.Instant.ofEpochMilli(h.sinceMillis()) : null));
            }
            return java.util.List.copyOf(all);
        } finally {
            leave();
        }
    }

    /**
     * Whether a process died holding permits since any process last asked, and marks that death
     * told, so that the next asker hears of the next death only. For {@link EventFdLock}; false on
     * the kernel-counter store, and once this semaphore is closed.
     */
    boolean takeDeathReport() {
        if (!tryEnter()) return false;
        try {
            return store.takeDeathReport();
        } finally {
            leave();
        }
    }

    /**
     * Whether {@link #close()} has been called.
     *
     * @return {@code true} if this semaphore has been closed
     */
    public boolean isClosed() {
        return (ctl & CLOSED) != 0;
    }

    /**
     * Returns a string identifying this semaphore, as well as its state. The state, in brackets,
     * includes the String {@code "Permits ="} followed by the number of permits, or {@code "closed"}.
     */
    @Override
    public String toString() {
        String id = getClass().getName() + "@" + Integer.toHexString(hashCode());
        try {
            return id + "[Permits = " + availablePermits() + "]";
        } catch (ClosedException closed) {
            return id + "[closed]";
        }
    }

    // ------------------------------------------------------------------ close

    /**
     * Closes this semaphore. Threads waiting in this JVM wake with a {@link ClosedException}; later
     * calls throw it too. Permits this JVM was holding for its waiters go back to the kernel counter,
     * and the turnstile is returned if held, so that other processes sharing the descriptors carry on.
     * Returns once no operation is in progress; the descriptors are released when the last waiting
     * thread has woken. Idempotent.
     */
    @Override
    public void close() {
        long c;
        do {
            c = ctl;
            if ((c & CLOSED) != 0) return;
        } while (!CTL.compareAndSet(this, c, c | CLOSED));  // Dekker pair "gate", closing side: CLOSED written...
        closer = Thread.currentThread();
        boolean interrupted = false;
        while ((ctl & ACTIVE_MASK) != 0) {                   // ...then ACTIVE read (the leaver reads closer after its write)
            LockSupport.park(this);
            interrupted |= Thread.interrupted();
        }
        closer = null;
        long after = 0;
        lock.lock();
        try {
            try {
                disarm();
                int held = super.drainPermits();
                if (held > 0) store.give(held);
                if (ownsGatherRight) {
                    ownsGatherRight = false;
                    store.releaseGatherRight();
                }
            } finally {
                after = (long) CTL.getAndAdd(this, POOL) + POOL;   // before the pool: a waiter that took from it sees POOL
                releaseWakePool();
            }
        } finally {
            lock.unlock();
            try {
                if (participant != null) participant.close();
            } finally {
                if (interrupted) Thread.currentThread().interrupt();
                afterChange(after);                               // no waiter left: this thread finishes
            }
        }
    }

    /**
     * Fills L up to WAKE_POOL, which wakes every waiter (each request fits), and records how many
     * permits that added. L is not necessarily 0 here: once POOL is set, a waiter granted real
     * permits before the drain may already have given them back to L. Called under the lock, which
     * orders the write of {@code wakePool} before finishClose's read of it.
     */
    private void releaseWakePool() {
        for (;;) {
            int room = WAKE_POOL - super.availablePermits();
            try {
                super.release(room);
                wakePool = room;
                return;
            } catch (Error raced) {
                // a waiter gave back between the read and the release: look again
            }
        }
    }

    /** Run once, by the last thread to leave after close(): returns the real permits left in L. */
    private void finishClose() {
        lock.lock();
        try {
            long real = (long) super.drainPermits() + keptAfterClose - wakePool;
            if (real > 0) store.give(real);
        } finally {
            lock.unlock();
            store.close();
        }
    }

    // ------------------------------------------------------------------ serialization

    /**
     * Saves the state of this semaphore: the number of available permits, after the fields of the
     * class and of any subclass. The deserialized object is a new, independent semaphore of the same
     * class with its own descriptors, the same number of permits and fairness, and no waiters.
     *
     * @param out the stream to write to
     * @throws IOException if the stream cannot be written
     * @serialData the available permits ({@code int})
     */
    @Serial
    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        out.writeInt(availablePermits());
    }

    /**
     * Restores a semaphore saved by {@code writeObject}: a new semaphore with its own descriptors and the
     * saved number of permits, a negative one kept in this JVM as owed permits.
     *
     * @param in the stream to read from
     * @throws IOException            if the stream cannot be read
     * @throws ClassNotFoundException if the class of a serialized field cannot be found
     */
    @Serial
    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        int permits = in.readInt();
        super.drainPermits();               // the superclass's count was the original's local count
        if (permits < 0) {
            super.reducePermits(-(permits + 1));
            super.reducePermits(1);
        }
        KernelCounterStore kernel = newStore(Math.max(permits, 0));
        init(kernel, kernel, null);
    }

    // ------------------------------------------------------------------ mechanics

    private enum Mode { INTERRUPTIBLE, UNINTERRUPTIBLE, TIMED }

    private static void checkPermits(int permits) {
        if (permits < 0) throw new IllegalArgumentException("permits < 0: " + permits);
    }

    private ClosedException closedException() {
        return new ClosedException(getClass().getSimpleName() + "@" + Integer.toHexString(hashCode()));
    }

    private void ensureOpen() {
        if (isClosed()) throw closedException();
    }

    /** Starts an operation. @throws ClosedException if closed */
    private void enter() {
        if (!tryEnter()) throw closedException();
    }

    /** Starts an operation unless closed (Dekker pair "gate", operation side: ctl written, CLOSED read). */
    private boolean tryEnter() {
        if (((long) CTL.getAndAdd(this, ACTIVE) & CLOSED) == 0) return true;
        leave();
        return false;
    }

    private void leave() {
        afterChange((long) CTL.getAndAdd(this, -ACTIVE) - ACTIVE);
    }

    /** After a change of ctl to {@code c}: wakes close() when the last operation ends, finishes the close after the last waiter. */
    private void afterChange(long c) {
        if ((c & CLOSED) == 0) return;
        if ((c & POOL) == 0) {
            Thread t;
            if ((c & ACTIVE_MASK) == 0 && (t = closer) != null) LockSupport.unpark(t);
        } else if (c == (CLOSED | POOL) && CTL.compareAndSet(this, CLOSED | POOL, CLOSED | POOL | FINISHED)) {
            finishClose();
        }
    }

    /** The acquire methods: the cached take, else the general acquire (kept small, so that the JIT inlines the common case). */
    private boolean acquire0(int permits, Mode mode, long nanos) throws InterruptedException {
        return takenFromCache(permits, true) || acquireOther(permits, mode, nanos);
    }

    /** The general acquire: the fast path, then the wait. */
    private boolean acquireOther(int permits, Mode mode, long nanos) throws InterruptedException {
        long deadline = mode == Mode.TIMED ? System.nanoTime() + nanos : 0L;   // a clock read only when timed
        enter();
        boolean wait = false;
        try {
            if (!(isFair() && hasQueuedThreads()) && take(permits)) return true;  // no barging past the queue when fair
            if (mode == Mode.TIMED && nanos <= 0) return false;
            wait = true;
        } finally {
            if (!wait) leave();
        }
        return await(permits, mode, deadline);
    }

    /**
     * Takes a ticket for a fair waiter and publishes this JVM's smallest (see "Fair mode across
     * processes").
     *
     * @return the ticket, or -1 if the store keeps no order between processes
     */
    private long takeTurn() {
        turnLock.lock();
        try {
            long t = store.newTicket();            // under the lock: tickets and publications in one order
            if (t < 0) return -1;
            tickets.add(t);
            if (tickets.size() == 1) {             // a new ticket is the largest: the smallest changes only from none
                try {
                    store.turn(t);
                } catch (RuntimeException | Error e) {
                    tickets.remove(t);             // not waiting after all: leave no ticket behind
                    throw e;
                }
            }
            return t;
        } finally {
            turnLock.unlock();
        }
    }

    /** Gives back a waiter's ticket and publishes the next smallest, or none. */
    private void leaveTurn(long ticket) {
        turnLock.lock();
        try {
            tickets.remove(ticket);
            store.turn(tickets.isEmpty() ? -1 : tickets.first());
        } catch (IllegalStateException closed) {
            // the store is closed (ClosedException), or this process has left it: no turn to publish
        } finally {
            turnLock.unlock();
        }
    }

    /**
     * The store's cached take, outside the close gate (see "Cached takes and gives"): only while open,
     * with nothing local (no permits and no debt in L) and, when {@code fair} asks it, nobody queued here.
     */
    private boolean takenFromCache(int permits, boolean fair) {
        return (ctl & CLOSED) == 0 && permits > 0 && super.availablePermits() == 0
                && !(fair && isFair() && hasQueuedThreads()) && store.tryTakeCached(permits);
    }

    /** The store's cached give, outside the close gate: only while open, with L at 0 and nobody waiting here. */
    private boolean givenToCache(int permits) {
        return (ctl & CLOSED) == 0 && permits > 0 && super.availablePermits() == 0 && demand == 0
                && store.tryGiveCached(permits);
    }

    /** Takes {@code permits} from L and the store without waiting, all or none (barging). */
    private boolean take(int permits) {
        int local = super.availablePermits();
        if (local < 0) {                                 // permits owed: only the store can pay them
            feedNow();
            local = super.availablePermits();
        }
        if (permits == 0) return super.tryAcquire(0);
        if (permits > 1) return gather(permits);
        if (local > 0) {
            if (super.tryAcquire()) {                    // AQS CAS on L: barging
                // Dekker pair "refeed", barger side: L written, demand read. What was taken may have been
                // meant for a waiter, which now needs a permit from the store.
                if (demand > 0) requestFeed();
                return true;
            }
            local = super.availablePermits();            // taken meanwhile, or owed again
        }
        return local >= 0 && store.tryBargeOne();        // refused while another process waits
    }

    /** Takes several permits at once, from L and then the store, all or none. */
    private boolean gather(int permits) {
        lock.lock();
        try {
            if (super.availablePermits() < 0) return false;
            int fromLocal = Math.min(permits, super.availablePermits());
            if (fromLocal > 0 && !super.tryAcquire(fromLocal)) fromLocal = 0;
            boolean taken;
            try {
                taken = fromLocal == permits || store.tryTake(permits - fromLocal, ownsGatherRight);
            } catch (RuntimeException | Error e) {
                if (fromLocal > 0) super.release(fromLocal);
                throw e;
            }
            if (!taken && fromLocal > 0) super.release(fromLocal);
            if (taken && fromLocal > 0 && demand > 0) pending = true;   // refeed the waiters (after unlock)
            return taken;
        } finally {
            unlock();
        }
    }

    /** {@link #awaitInQueue}, recorded as a JFR wait event (see {@link Events#waited}). */
    private boolean await(int permits, Mode mode, long deadline) throws InterruptedException {
        return Events.waited(objectKind, participant == null ? null : participant.name(), permits,
                () -> awaitInQueue(permits, mode, deadline));
    }

    /**
     * Waits in the superclass queue while the feed serves it. The caller has entered: this turns its
     * ACTIVE count into a WAITING one.
     */
    private boolean awaitInQueue(int permits, Mode mode, long deadline) throws InterruptedException {
        boolean multi = permits > 1;
        DEMAND.getAndAdd(this, (long) permits);   // Dekker pairs "excess" and "refeed", waiter side: demand written...
        if (multi) MULTI_WAITERS.getAndAdd(this, 1);
        afterChange((long) CTL.getAndAdd(this, WAITING - ACTIVE) + WAITING - ACTIVE);
        boolean acquired = false;
        boolean shown = false;
        long ticket = -1;
        long c = 0;
        try {
            if (isFair()) ticket = takeTurn();     // published before the feed takes for this waiter, and before it is shown
            store.waiters(1);                      // shown to other processes (holders()); WAITING keeps the store open
            shown = true;
            requestFeed();                         // ...then L read by the feed
            switch (mode) {
                case INTERRUPTIBLE -> super.acquire(permits);
                case UNINTERRUPTIBLE -> super.acquireUninterruptibly(permits);
                case TIMED -> acquired = super.tryAcquire(permits, deadline - System.nanoTime(), TimeUnit.NANOSECONDS);
            }
            if (mode != Mode.TIMED) acquired = true;
        } finally {
            c = ctl;
            try {
                if (acquired && (c & CLOSED) != 0) returnAfterClose(permits, (c & POOL) != 0);
            } finally {
                if (multi) MULTI_WAITERS.getAndAdd(this, -1);
                DEMAND.getAndAdd(this, -(long) permits);  // Dekker pair "excess", waiter side: demand written, then L read
                try {
                    // Give back what no waiter here needs now, and, once nobody waits, disarm the watch.
                    if ((c & CLOSED) == 0 && (demand == 0 || super.availablePermits() > demand
                            || (multiWaiters == 0 && ownsGatherRight))) {
                        requestFeed();
                    }
                } finally {
                    try {
                        if (ticket >= 0) leaveTurn(ticket);
                        if (shown) store.waiters(-1);
                    } finally {
                        afterChange((long) CTL.getAndAdd(this, -WAITING) - WAITING);
                    }
                }
            }
        }
        if ((c & CLOSED) != 0) throw closedException();
        return acquired;
    }

    /**
     * A waiter that acquired after close() began gives its permits back: to the store if they are
     * real (taken before the wake pool was released), else to L, which the last one out settles.
     */
    private void returnAfterClose(int permits, boolean poolReleased) {
        if (permits == 0) return;
        if (!poolReleased) {
            store.give(permits);                   // WAITING > 0 keeps the store open
            return;
        }
        for (int left = permits; left > 0; ) {
            int room = Integer.MAX_VALUE - super.availablePermits();
            if (room <= 0) {
                KEPT.getAndAdd(this, (long) left);
                return;
            }
            int n = Math.min(left, room);
            try {
                super.release(n);
                left -= n;
            } catch (Error raced) {
                // another waiter gave back first and the sum would overflow: look again
            }
        }
    }

    /**
     * Requests a feed and runs it if the lock is free; never waits for the lock. On the poller thread
     * it runs at most one batch, and hands what is left to a virtual thread.
     */
    private void requestFeed() {
        pending = true;                  // Dekker pair "feed", requester side: pending written, then the lock tried
        boolean onPoller = Thread.currentThread() == pollerThread;
        while (pending && lock.tryLock()) {
            try {
                pending = false;
                feedLocked();
            } finally {
                lock.unlock();           // Dekker pair "feed", holder side: the lock released, then pending read
            }
            if (onPoller && pending) {
                startFeeder();
                return;
            }
        }
    }

    /** Runs the feed now, waiting for the lock (user threads only). */
    private void feedNow() {
        lock.lock();
        try {
            pending = false;
            feedLocked();
        } finally {
            unlock();
        }
    }

    /** Releases the lock and runs any feed requested while it was held. */
    private void unlock() {
        lock.unlock();
        if (pending) requestFeed();
    }

    private void startFeeder() {
        if (!FEEDER_STARTED.compareAndSet(this, false, true)) return;
        Thread.ofVirtual().name("eventfd-sync-feeder").start(() -> {
            feederStarted = false;       // volatile: a later request after this point starts another feeder
            if (!tryEnter()) return;
            try {
                requestFeed();
            } finally {
                leave();
            }
        });
    }

    /** Restores invariant (F); see the implementation overview. Guarded by lock. */
    private void feedLocked() {
        if ((ctl & CLOSED) != 0) return;
        long wanted = demand;
        int local = super.availablePermits();
        if (local > wanted) giveBack((int) (local - wanted));
        if (multiWaiters == 0) {
            if (ownsGatherRight) {
                ownsGatherRight = false;
                store.releaseGatherRight();
            }
        } else if (!ownsGatherRight) {
            if (store.tryClaimGatherRight()) {
                ownsGatherRight = true;
            } else {
                // Another process gathers: hold nothing it may need, and watch for the right.
                int held = super.availablePermits();
                if (held > 0) giveBack(held);
                arm(true);
                return;
            }
        }
        for (int moves = 0; demand > super.availablePermits() && super.availablePermits() < Integer.MAX_VALUE; moves++) {
            if (moves == BATCH) {
                pending = true;          // bound the time the lock is held: the holder runs it again after unlocking
                return;
            }
            if (!store.tryTakeOne()) {
                arm(false);
                return;
            }
            super.release(1);            // AQS release: the store's take happens-before the waiter's acquire
        }
        disarm();
    }

    /** Moves {@code n} permits from L to the store, or none if a barger took them first. */
    private void giveBack(int n) {
        if (!super.tryAcquire(n)) return;
        try {
            store.give(n);
        } catch (RuntimeException | Error e) {
            super.release(n);            // never drop permits: they stay here
            throw e;
        }
    }

    /** Arms a one-shot watch on the store (permits, or the gather right); guarded by lock. */
    private void arm(boolean gatherRight) {
        if (armed != null && armed.isPending() && armedForGatherRight == gatherRight) return;
        disarm();
        armed = store.watch(gatherRight, new Watch(this));   // set only once registered: a throw leaves nothing armed
        armedForGatherRight = gatherRight;
    }

    private void disarm() {
        if (armed != null) {
            armed.cancel();
            armed = null;
            store.unwatch();             // under the lock, so never after a newer watch (a stale callback could)
        }
    }

    /** A store watch's callback: requests a feed. Holds the semaphore weakly, so it never keeps it alive. */
    private static final class Watch implements Consumer<Poller.Outcome> {
        private final WeakReference<EventFdSemaphore> semaphore;

        Watch(EventFdSemaphore semaphore) {
            this.semaphore = new WeakReference<>(semaphore);
        }

        @Override
        public void accept(Poller.Outcome outcome) {
            EventFdSemaphore s = semaphore.get();
            if (s == null || outcome != Poller.Outcome.READY || !s.tryEnter()) return;  // CLOSED: closing
            try {
                s.requestFeed();
            } finally {
                s.leave();
            }
        }
    }
}
