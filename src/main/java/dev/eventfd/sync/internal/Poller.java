package dev.eventfd.sync.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Parks threads until descriptors (eventfds, sockets) become readable, using one platform daemon
 * thread blocked in {@code epoll_wait}.
 *
 * <p>Callers never block in native code: {@link #await} parks the calling thread (virtual or platform)
 * with {@link LockSupport}, and the poller thread unparks it. {@link #register} runs a callback instead,
 * for owners that have no particular thread to wake.
 *
 * <h2>Callbacks only signal</h2>
 * A callback runs on the poller thread when its descriptor fires (READY), on the calling thread of
 * {@link #signal} (READY), on the closing thread when the descriptor is closed (CLOSED), or on the
 * poller thread at {@link #shutdown()} (CLOSED), always outside the poller's lock (it may register
 * again or cancel). The one poller thread serves every descriptor of the JVM, one callback after
 * another, so nothing can shield one descriptor's wake-ups from another's slow callback: a callback
 * that blocks delays them all. A callback must therefore only signal (set a flag, {@code unpark} a
 * thread, {@code tryLock}, hand work to another thread), never take a lock that another thread may
 * hold for long, and never run an object's bookkeeping. A callback that throws is reported to the
 * running thread's uncaught-exception handler, and the poller carries on with the next one.
 *
 * <p>READY from the poller thread is not a happens-before edge from whoever made the descriptor
 * readable (a write(2) is invisible to the memory model); owners publish their own state with their
 * own volatile or locked accesses. {@link #signal} is: see there.
 *
 * <h2>What the poller keeps alive</h2>
 * A registered callback, and the descriptor it waits on, are held strongly until the callback runs,
 * is cancelled, or the descriptor is {@linkplain NativeFd#close() closed}; an awaiting thread and its
 * descriptor likewise until the await returns. An owner that relies on a {@link java.lang.ref.Cleaner}
 * to close its descriptors must therefore not be reachable from its callbacks (hold it weakly there),
 * and its cleaning action must capture the descriptors, not the owner; otherwise a pending callback
 * keeps the owner alive for ever. Once a descriptor has no waiters the poller keeps nothing of it but
 * its kernel registration (number and token, no Java reference), so an abandoned handle is still
 * collected; once it is closed, nothing at all.
 *
 * <h2>Implementation overview</h2>
 * Each descriptor with waiters has one {@link Entry}: its queue of {@link Waiter}s. The invariants,
 * kept under {@link #lock}: <em>an entry exists if and only if it has waiters, and then its descriptor
 * is armed ({@code EPOLLIN | EPOLLONESHOT}) or an event that disarmed it is on its way to the poll
 * loop; a descriptor is in the epoll set from its first wait until it is closed</em>. As in the JDK's
 * own poller, a wait re-arms with {@code EPOLL_CTL_MOD}, falling back to {@code EPOLL_CTL_ADD} on
 * {@code ENOENT} the first time: one system call per new entry, none when an event fires or a waiter
 * leaves, and one {@code EPOLL_CTL_DEL} when the descriptor is closed. Arming reports a descriptor
 * that is already readable at once, so readiness that races with registration is never lost.
 *
 * <p>When a descriptor fires, {@code EPOLLONESHOT} has disarmed it; the poller takes every waiter off
 * its entry (each re-checks its own condition and waits again if it must: a new entry, a new
 * {@code MOD}), removes the entry and wakes them. A waiter that leaves for any other reason (timeout,
 * interrupt, cancel) removes itself, and the entry with it when it was the last, with no system call:
 * the descriptor stays armed (or its event is on its way), and that event finds no entry and is
 * ignored, or wakes a newer entry early, which is harmless since waiters re-check. {@link #signal} is the same as a firing, minus the
 * disarming.
 *
 * <p>Each waiter's outcome is decided exactly once, by a CAS on its {@code outcome} from {@code null}:
 * the poller (READY), the closer (CLOSED) and the waiter itself (TIMED_OUT, INTERRUPTED, CANCELLED)
 * race for it, and the loser defers to the winner. The epoll data of a registration is the handle's
 * {@link NativeFd#token() token}, unique for the JVM's life, and entries are found by token: an event
 * for a closed descriptor (still in the poll loop's buffer, or from a registration the kernel kept
 * because another process holds the file open) has no entry and can never wake the waiters of a new
 * descriptor with the same number. {@link NativeFd#close()} calls {@link #closing} before it closes
 * the descriptor, which wakes the waiters with CLOSED and takes the descriptor out of the epoll set
 * while its number still names that file: the kernel keeps a registration as long as any process
 * still has the file open, and only the (file, number) pair can remove it. A handle that is never
 * closed but collected is closed by its {@link java.lang.ref.Cleaner} without this step (it had no
 * waiters, or it would still be reachable); the kernel then drops the registration with the file, or,
 * if another process still holds the file, keeps an inert one whose events carry a dead token.
 */
public final class Poller {

    /** Why {@link #await} returned, or what a registered callback is told. */
    public enum Outcome {
        /** The descriptor was readable (re-check: another waiter may have consumed it). */
        READY,
        /** The deadline passed first. */
        TIMED_OUT,
        /** The thread was interrupted first (its interrupt status is left set). */
        INTERRUPTED,
        /** The descriptor was closed while waiting. */
        CLOSED,
        /** The registration was cancelled by its owner (callbacks are never told this). */
        CANCELLED
    }

    private static final long WAKE_TOKEN = 0;  // NativeFd tokens start at 1
    private static final int MAX_EVENTS = 256;

    private static volatile Poller shared;

    private final ReentrantLock lock = new ReentrantLock();
    /** Entries by handle token; guarded by lock. */
    private final Map<Long, Entry> entries = new HashMap<>();
    private final int epfd;
    private final EventFd wakeup;
    private final Thread thread;
    /**
     * Set once, by shutdown() under lock or by the loop as it ends; volatile so the loop sees it after
     * the wake-up. Read under lock, false means epfd is still open: closeAll() sets it before its own
     * lock section, and closes epfd inside it.
     */
    private volatile boolean shutdown;
    /** epoll_ctl calls made for waited descriptors, by op; guarded by lock (for tests). */
    private long ctlAdds, ctlMods, ctlDels;

    private Poller(String name) {
        int ep = Native.epollCreate();
        EventFd wake = null;
        try {
            wake = EventFd.create(0, false, "poller wake-up");
            Native.epollCtl(ep, Native.EPOLL_CTL_ADD, wake.fd(), Native.EPOLLIN, WAKE_TOKEN, 0);
        } catch (RuntimeException | Error e) {
            if (wake != null) wake.close();
            Native.close(ep);
            throw e;
        }
        this.epfd = ep;
        this.wakeup = wake;
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(this::pollLoop);
        thread.start();
    }

    /** Starts a new poller with its own thread (tests use private pollers; the library uses {@link #shared()}). */
    public static Poller start(String threadName) {
        return new Poller(threadName);
    }

    /** The JVM-wide poller, started on first use. */
    public static Poller shared() {
        Poller p = shared;
        if (p == null) {
            synchronized (Poller.class) {
                if ((p = shared) == null) shared = p = new Poller("eventfd-poller");
            }
        }
        return p;
    }

    /**
     * Parks the current thread until {@code fd} is readable, the deadline passes, the thread is
     * interrupted (if {@code interruptible}) or the descriptor is closed.
     *
     * @param deadline a {@link System#nanoTime()} value; ignored unless {@code timed}
     * @return why it returned; on INTERRUPTED the interrupt status is still set. When not interruptible
     *         an interrupt during the wait is remembered and re-asserted before returning.
     */
    public Outcome await(NativeFd fd, boolean timed, long deadline, boolean interruptible) {
        Thread me = Thread.currentThread();
        if (interruptible && me.isInterrupted()) return Outcome.INTERRUPTED;
        if (timed && deadline - System.nanoTime() <= 0) return Outcome.TIMED_OUT;
        Waiter w = new Waiter(this, me, null);
        add(fd, w);
        boolean interrupted = false;
        try {
            for (;;) {
                Outcome o = w.outcome();
                if (o != null) return o;
                if (me.isInterrupted()) {
                    if (interruptible) {
                        if (w.decide(Outcome.INTERRUPTED)) { remove(w); return Outcome.INTERRUPTED; }
                        continue;
                    }
                    interrupted |= Thread.interrupted();  // park would not park with the status set
                }
                if (timed) {
                    long nanos = deadline - System.nanoTime();
                    if (nanos <= 0) {
                        if (w.decide(Outcome.TIMED_OUT)) { remove(w); return Outcome.TIMED_OUT; }
                        continue;
                    }
                    LockSupport.parkNanos(this, nanos);
                } else {
                    LockSupport.park(this);
                }
            }
        } finally {
            if (interrupted) me.interrupt();
        }
    }

    /**
     * Runs {@code callback} once: on the poller thread when {@code fd} becomes readable (READY), on the
     * thread of {@link #signal} (READY), or on the closing thread when the descriptor is closed (CLOSED).
     * The callback must only signal and never block (see {@linkplain Poller the class comment}): the poller
     * thread runs every callback of the JVM in turn. The callback and {@code fd} are held strongly until
     * it runs or is cancelled, so it must not reach an owner that a Cleaner is meant to close.
     *
     * @return a handle whose {@link Waiter#cancel()} withdraws the registration
     * @throws dev.eventfd.sync.ClosedException if {@code fd} is closed
     */
    public Waiter register(NativeFd fd, Consumer<Outcome> callback) {
        Waiter w = new Waiter(this, null, callback);
        add(fd, w);
        return w;
    }

    /**
     * Wakes everything waiting on {@code fd} with CLOSED and takes it out of the epoll set. Called by
     * {@link NativeFd#close()} (only for a descriptor attached to this poller, so one that may be in the
     * set, waiters or not) after marking it closed and before closing it, so no new wait can start and
     * the number still names the file.
     */
    void closing(NativeFd fd) {
        List<Waiter> woken = List.of();
        lock.lock();
        try {
            Entry e = entries.remove(fd.token());
            if (e != null) woken = e.takeAll(Outcome.CLOSED);
            // ENOENT: its only arming failed. After shutdown the epoll set (and epfd) is gone.
            if (!shutdown) ctl(Native.EPOLL_CTL_DEL, fd.fd(), 0, 0, Native.ENOENT);
        } finally {
            lock.unlock();
        }
        fire(woken, Outcome.CLOSED);
    }

    /**
     * Wakes everything waiting on {@code fd} now, as if it had become readable, from the calling thread:
     * an owner that has just made the descriptor readable itself saves its waiters a hop through the
     * poller thread. Waiters re-check their condition, so a spurious signal is harmless. What the caller
     * did before {@code signal} happens-before the return of every await it wakes, and the callbacks it
     * runs (on this thread).
     */
    public void signal(NativeFd fd) {
        List<Waiter> woken;
        lock.lock();
        try {
            // No epoll_ctl: the descriptor stays armed, and its next event finds no entry or wakes a
            // newer one early.
            Entry e = entries.remove(fd.token());
            if (e == null) return;
            // Each decide() is a volatile CAS: what this thread did before signal() happens-before
            // the return of an await() that reads READY.
            woken = e.takeAll(Outcome.READY);
        } finally {
            lock.unlock();
        }
        fire(woken, Outcome.READY);
    }

    /** Descriptors registered now (for tests: nothing may be left behind). */
    public int registeredDescriptors() {
        lock.lock();
        try {
            return entries.size();
        } finally {
            lock.unlock();
        }
    }

    /** Waiters queued now, over all descriptors. */
    public int queuedWaiters() {
        lock.lock();
        try {
            int n = 0;
            for (Entry e : entries.values()) n += e.waiters.size();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** How many {@code epoll_ctl} calls of each kind this poller has made for waited descriptors. */
    record CtlCalls(long add, long mod, long del) {}

    /** The {@code epoll_ctl} calls made so far, not counting the wake-up descriptor's (for tests). */
    CtlCalls ctlCalls() {
        lock.lock();
        try {
            return new CtlCalls(ctlAdds, ctlMods, ctlDels);
        } finally {
            lock.unlock();
        }
    }

    /** The epoll descriptor, for tests that read its registrations from {@code /proc/self/fdinfo}. */
    int epollFd() {
        return epfd;
    }

    /** The poller's thread (for tests). */
    public Thread thread() {
        return thread;
    }

    /**
     * Stops the poll loop, wakes every waiter with CLOSED and releases the epoll and wake-up
     * descriptors. Not for the shared poller.
     */
    public void shutdown() throws InterruptedException {
        if (this == shared) throw new IllegalStateException("the shared poller lives as long as the JVM");
        lock.lock();
        try {
            if (shutdown) return;
            shutdown = true;             // volatile write, read by the loop after the wake-up below
            wakeup.tryWrite(1);
        } finally {
            lock.unlock();
        }
        thread.join();
    }

    // ------------------------------------------------------------------ internals

    private void add(NativeFd fd, Waiter w) {
        lock.lock();
        try {
            if (shutdown) throw new IllegalStateException("poller is shut down");
            // close() marks the handle closed before it calls closing(), which needs this lock: past
            // this check the descriptor stays open until closing() has removed what we add here.
            fd.attach(this);
            Entry e = entries.get(fd.token());
            if (e == null) {
                e = new Entry(fd);
                // Arm before publishing: if arming fails nothing is left behind. If the descriptor is
                // closed meanwhile, attach() made its close wait for this lock, and closing() will find
                // the entry and the registration.
                arm(fd);
                entries.put(fd.token(), e);
            }
            e.waiters.add(w);
            w.entry = e;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Re-arms {@code fd} for one event: {@code EPOLL_CTL_MOD}, or {@code EPOLL_CTL_ADD} if it is not in
     * the set yet. Either reports an already readable descriptor at once. Under lock, shutdown false.
     */
    private void arm(NativeFd fd) {
        int events = Native.EPOLLIN | Native.EPOLLONESHOT;
        if (ctl(Native.EPOLL_CTL_MOD, fd.fd(), events, fd.token(), Native.ENOENT) == -Native.ENOENT) {
            ctl(Native.EPOLL_CTL_ADD, fd.fd(), events, fd.token(), 0);
        }
    }

    /** {@link Native#epollCtl} on this poller's set, counted. Under lock, shutdown false. */
    private int ctl(int op, int fd, int events, long token, int tolerated) {
        switch (op) {
            case Native.EPOLL_CTL_ADD -> ctlAdds++;
            case Native.EPOLL_CTL_MOD -> ctlMods++;
            default -> ctlDels++;
        }
        return Native.epollCtl(epfd, op, fd, events, token, tolerated);
    }

    /** Takes {@code w} off its entry, and the entry away if it was the last waiter. */
    private void remove(Waiter w) {
        lock.lock();
        try {
            Entry e = w.entry;
            if (e == null) return;
            w.entry = null;
            if (e.waiters.remove(w) && e.waiters.isEmpty() && entries.get(e.token) == e) {
                entries.remove(e.token);   // no epoll_ctl: a later event finds no entry and is ignored
            }
        } finally {
            lock.unlock();
        }
    }

    private void pollLoop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = arena.allocate(Native.EPOLL_EVENT, MAX_EVENTS);
            MemorySegment capture = Native.allocateCaptureState(arena);
            List<Waiter> ready = new ArrayList<>();
            while (!shutdown) {
                int n = Native.epollWait(epfd, events, MAX_EVENTS, -1, capture);
                lock.lock();
                try {
                    for (int i = 0; i < n; i++) {
                        long token = Native.eventData(events, i);
                        if (token == WAKE_TOKEN) {
                            wakeup.tryRead();
                            continue;
                        }
                        // A token with no entry is stale: its waiters left, or it was closed; ignore it.
                        // ONESHOT has disarmed the descriptor; it stays in the set for its next wait.
                        Entry e = entries.remove(token);
                        if (e != null) ready.addAll(e.takeAll(Outcome.READY));
                    }
                } finally {
                    lock.unlock();
                }
                fire(ready, Outcome.READY);
                ready.clear();
            }
        } catch (Throwable t) {
            System.err.println("eventfd-sync: poller thread failed; waiters are woken with CLOSED: " + t);
            t.printStackTrace();
        } finally {
            closeAll();
        }
    }

    private void closeAll() {
        shutdown = true;   // volatile write before the lock: every later lock section sees it
        List<Waiter> woken = new ArrayList<>();
        lock.lock();
        try {
            for (Entry e : entries.values()) woken.addAll(e.takeAll(Outcome.CLOSED));
            entries.clear();
            Native.close(epfd);   // under lock: no epoll_ctl can be in flight (they check shutdown)
        } finally {
            lock.unlock();
        }
        fire(woken, Outcome.CLOSED);
        wakeup.close();
    }

    /** Wakes the threads and runs the callbacks whose outcome this thread has just decided. */
    private static void fire(List<Waiter> woken, Outcome outcome) {
        for (Waiter w : woken) {
            if (w.thread != null) {
                // The thread re-reads its outcome (volatile, written by the CAS in decide()) after park.
                LockSupport.unpark(w.thread);
            } else {
                // Same thread as the CAS in decide(): program order is all the callback needs.
                try {
                    w.callback.accept(outcome);
                } catch (Throwable t) {
                    reportCallbackFailure(t);
                }
            }
        }
    }

    /**
     * Hands a callback's exception to the running thread's uncaught-exception handler (by default its
     * thread group's, which prints it), and carries on: the thread is not ending, and a failing handler
     * must not stop the other callbacks or the poll loop either.
     */
    private static void reportCallbackFailure(Throwable t) {
        Thread me = Thread.currentThread();
        try {
            me.getUncaughtExceptionHandler().uncaughtException(me, t);
        } catch (Throwable ignored) {
            // nowhere left to report it
        }
    }

    /** The waiters of one descriptor; guarded by the poller's lock. */
    private static final class Entry {
        /**
         * Held strongly on purpose: a descriptor with waiters must not be collected, or its Cleaner would
         * close it without {@link #closing} and strand its waiters.
         */
        final NativeFd fd;
        final long token;
        final LinkedHashSet<Waiter> waiters = new LinkedHashSet<>();

        Entry(NativeFd fd) {
            this.fd = fd;
            this.token = fd.token();
        }

        /** Decides {@code outcome} for every waiter still waiting, and empties the queue. */
        List<Waiter> takeAll(Outcome outcome) {
            List<Waiter> won = new ArrayList<>(waiters.size());
            for (Waiter w : waiters) {
                w.entry = null;
                if (w.decide(outcome)) won.add(w);
            }
            waiters.clear();
            return won;
        }
    }

    /** One thread or callback waiting on one descriptor. */
    public static final class Waiter {
        private static final VarHandle OUTCOME;
        static {
            try {
                OUTCOME = MethodHandles.lookup().findVarHandle(Waiter.class, "outcome", Outcome.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final Thread thread;
        final Consumer<Outcome> callback;
        /** The entry queuing this waiter; guarded by the poller's lock. */
        Entry entry;
        /** null while waiting; set once by CAS. The CAS (volatile) publishes the outcome to the waiter. */
        private volatile Outcome outcome;
        private final Poller poller;

        Waiter(Poller poller, Thread thread, Consumer<Outcome> callback) {
            this.poller = poller;
            this.thread = thread;
            this.callback = callback;
        }

        Outcome outcome() {
            return outcome;
        }

        /** Whether no outcome has been decided yet (the callback has neither run nor been cancelled). */
        public boolean isPending() {
            return outcome == null;
        }

        boolean decide(Outcome o) {
            return OUTCOME.compareAndSet(this, (Outcome) null, o);
        }

        /**
         * Withdraws a callback registration.
         *
         * @return {@code true} if withdrawn; {@code false} if the callback has already been chosen to run
         */
        public boolean cancel() {
            if (!decide(Outcome.CANCELLED)) return false;
            poller.remove(this);
            return true;
        }
    }
}
