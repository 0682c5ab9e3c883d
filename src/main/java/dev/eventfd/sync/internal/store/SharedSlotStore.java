package dev.eventfd.sync.internal.store;

import dev.eventfd.sync.internal.jfr.Events;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.MemFd;
import dev.eventfd.sync.internal.NativeFd;
import dev.eventfd.sync.internal.PidFd;
import dev.eventfd.sync.internal.Poller;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The permits of a named semaphore as {@link SlotPermits} in a sealed memfd that every participant
 * maps: crash-exact (a process's death returns exactly what it held), and an uncontended take or
 * give is one CAS of the process's own slot word (its cache), with no system call.
 *
 * <h2>Implementation overview</h2>
 * The creator makes the memfd and one doorbell per slot ({@value #SLOTS} non-semaphore eventfds);
 * the rendezvous hands all of them to every joiner, which opens the memfd again for an open file
 * description of its own (its slots' OFD locks are its liveness locks, see {@link MemFd}) and
 * claims a slot. A process rings slot {@code j} by writing 1 to doorbell {@code j}; only slot
 * {@code j}'s owner watches it.
 *
 * <p>{@link #watch} is the waiting half of the doorbell protocol: drain the own doorbell, set the
 * WAITING bit (Dekker pair "doorbell", waiter side; the releaser's side is in {@link SlotPermits}),
 * recover the slots of dead processes, then look at the condition, and ring the own doorbell if it
 * holds already, so the poller fires at once. A ring after the drain is therefore never lost: it is
 * either seen by the look or left in the doorbell for the poller. A process that no longer waits
 * stops costing releasers a system call: the bit is cleared by {@link #unwatch}, which the semaphore calls under its lock when
 * it cancels or has handled a watch: a poller callback must not clear it, since it may run after a
 * newer watch set it again (that watch would then sleep with its bit clear, and nobody would ring it).
 *
 * <p>Multi-permit takes are atomic here ({@link SlotPermits#tryTake}); the gather right still exists,
 * held in shared memory, because the semaphore gathers a multi-permit waiter's permits one at a
 * time. A dead holder never keeps it (see {@link SlotPermits}).
 *
 * <p><b>Deaths as events.</b> Each {@link #watch} recovers the slots of dead processes before its
 * look. A process that sleeps must also wake when a holder dies later: after its look, a watch has
 * the participants of the name it does not watch yet asked for their pidfds ({@link #watchPeers},
 * on a virtual thread, off the semaphore's lock), and the poller rings the own doorbell when one of
 * them becomes readable (the process has exited). The order matters: every process that held
 * permits when the look found none had bound its socket before it claimed its slot, so the scan,
 * which starts after the look, finds it; a process that took permits after the look took ones the
 * look saw free, and the watch fired at once. Scans are single-flight: a request during one makes
 * it run again, and one is requested only while more other slots are LIVE than watched participants
 * live (a participant this process does not watch yet). A pidfd that has fired no longer counts,
 * so the exit of one participant never hides the next one that joins. A pidfd of a participant
 * that left without exiting (closed the name) can still hide one until the next scan, which then
 * comes from the periodic check below. A scan closes the pidfds of participants whose socket has
 * gone (they left) or that have exited, and asks a busy or silent participant again next time. For processes that serve no
 * socket (a peer of the raw protocol) or did not answer,
 * {@link Recovery} also recovers every {@value Recovery#PERIOD_MILLIS} ms while a watch is pending.
 */
public final class SharedSlotStore implements PermitStore {

    /** Slots (processes that can have the semaphore open at once) in a segment this library creates. */
    public static final int SLOTS = 128;

    private final MemFd memory;
    private final EventFd[] bells;
    private final SlotPermits permits;
    private volatile Cleaner.Cleanable unreachable;
    /** Finds the pidfds of participants not watched yet; null until {@link #watchPeers}. */
    private volatile Peers peers;
    /** Scans requested and not yet begun (0: no scan running); see the overview. */
    private final AtomicInteger scans = new AtomicInteger();
    /** The pidfds being watched, by participant socket; closed when their socket goes, and with the store. */
    private final Map<String, Watched> watched = new ConcurrentHashMap<>();

    /** A participant's pidfd, and whether the poller has seen it exit (set by the callback: a signal). */
    private record Watched(PidFd fd, AtomicBoolean exited) {
        void close() {
            fd.close();
        }
    }
    /** Set once the store is released: a scan that finishes later closes what it found. */
    private final AtomicBoolean released = new AtomicBoolean();

    private SharedSlotStore(MemFd memory, EventFd[] bells, SlotPermits permits) {
        this.memory = memory;
        this.bells = bells;
        this.permits = permits;
    }

    /**
     * Makes the descriptors of a new segment of {@value #SLOTS} slots holding {@code initial} permits:
     * the memfd, then the doorbells. Nobody has claimed a slot in it yet.
     */
    public static NativeFd[] createDescriptors(long initial, String owner) {
        NativeFd[] fds = new NativeFd[1 + SLOTS];
        try {
            MemFd m = MemFd.create(SlotPermits.bytesFor(SLOTS), owner);
            fds[0] = m;
            try (Arena a = Arena.ofConfined()) {
                SlotPermits.layOut(m.map(a), SLOTS, initial);
            }
            for (int i = 1; i < fds.length; i++) fds[i] = EventFd.create(0, false, owner);
            return fds;
        } catch (RuntimeException | Error e) {
            for (NativeFd fd : fds) if (fd != null) fd.close();
            throw e;
        }
    }

    /**
     * Joins the segment of {@code descriptors} (as {@link #createDescriptors} makes them) of the
     * semaphore {@code name} and claims a slot in it. Takes ownership of the descriptors, and closes
     * them if it fails.
     *
     * @throws IllegalStateException if the segment is not laid out as expected, or every slot is in use
     */
    public static SharedSlotStore join(NativeFd[] descriptors, String name) {
        try {
            MemFd m = (MemFd) descriptors[0];
            EventFd[] bells = new EventFd[descriptors.length - 1];
            for (int i = 0; i < bells.length; i++) bells[i] = (EventFd) descriptors[i + 1];
            // An automatic arena: the mapping lasts while anything can reach it, since the cached take and
            // give run outside the semaphore's close gate (after close they fail their CAS on FREE memory).
            MemorySegment segment = m.map(Arena.ofAuto());
            SlotPermits.Doorbells doorbells = new SlotPermits.Doorbells() {
                @Override public void ring(int slot) { SharedSlotStore.ring(bells, slot); }
                @Override public void recovered(int slot, long pid, long pidNamespace, long held) {
                    Events.recovered(name, slot, pid, pidNamespace, held);
                }
            };
            SlotPermits p = SlotPermits.attach(segment, doorbells, new SlotPermits.Liveness() {
                @Override public boolean tryLock(int slot) { return m.tryLock(slot); }
                @Override public void unlock(int slot) { m.unlock(slot); }
                @Override public boolean heldByAnother(int slot) { return m.lockedByAnother(slot); }
            });
            if (p.slotCount() != bells.length) {
                p.close();
                throw new IllegalStateException("the permit segment has " + p.slotCount() + " slots but "
                        + bells.length + " doorbells came with it");
            }
            CoarseClock.start();                 // the holding stamps' clock: started here, never by a take
            return new SharedSlotStore(m, bells, p);
        } catch (RuntimeException | Error e) {
            for (NativeFd fd : descriptors) fd.close();
            throw e;
        }
    }

    private static void ring(EventFd[] bells, int slot) {
        if (slot < 0 || slot >= bells.length) return;   // this process has left
        try {
            bells[slot].tryWrite(1);                     // a full counter is rung already
        } catch (ClosedException closing) {
            // the store is closing: nobody here waits any more
        }
    }

    /** The memfd and the doorbells, as a participant serves them. */
    public NativeFd[] descriptors() {
        NativeFd[] fds = new NativeFd[1 + bells.length];
        fds[0] = memory;
        System.arraycopy(bells, 0, fds, 1, bells.length);
        return fds;
    }

    /**
     * The descriptor of this process's open file description of the memfd, which holds its slot's
     * liveness lock: while any process has a copy open, the slot's owner counts as alive.
     */
    public int lifetimeFd() {
        return memory.fd();
    }

    /** The permit slots, for status and tests. */
    public SlotPermits slots() {
        return permits;
    }

    @Override
    public boolean tryTakeOne() {
        return permits.tryTake(1);
    }

    @Override
    public boolean tryBargeOne() {
        return permits.tryTake(1, true);
    }

    @Override
    public boolean tryTakeCached(int n) {
        return permits.tryTakeCached(n);
    }

    @Override
    public boolean tryGiveCached(int n) {
        return permits.tryGiveCached(n);
    }

    @Override
    public boolean othersWaiting() {
        return permits.othersWaiting();
    }

    @Override
    public boolean tryTake(long n, boolean holdingGatherRight) {
        return permits.tryTake(n);           // atomic across processes: no gather right needed
    }

    @Override
    public void give(long n) {
        permits.give(n);
    }

    /** {@link SlotPermits#give} checks the limit, against the sum of every slot where it can be passed. */
    @Override
    public boolean givesCheckTheLimit() {
        return true;
    }

    @Override
    public long newTicket() {
        return permits.newTicket();
    }

    @Override
    public void turn(long ticket) {
        permits.publishTurn(ticket);
    }

    /** Recovers the slots of dead processes first (a lock test per live slot), then sums. */
    @Override
    public long count() {
        permits.recoverAll();
        return estimate();
    }

    @Override
    public long estimate() {
        return Math.max(0, permits.available());   // takes in flight may push the sum below 0 for a moment
    }

    @Override
    public boolean tryClaimGatherRight() {
        return permits.tryClaimGatherRight();
    }

    @Override
    public void releaseGatherRight() {
        permits.releaseGatherRight();
    }

    @Override
    public Poller.Waiter watch(boolean gatherRight, Consumer<Poller.Outcome> callback) {
        EventFd bell = bells[ownSlot()];
        bell.tryRead();                      // rings before this are answered by the look below
        permits.waiting(true);               // Dekker pair "doorbell", waiter side: the bit, then the look
        permits.recoverAll();
        boolean ready = gatherRight ? permits.gatherRightAvailable() : permits.mayTake();   // a turn to give way to: not ready
        if (ready) bell.tryWrite(1);         // armed at once: the poller fires on registration
        else if (permits.liveOthers() > watchedAlive()) scanPeers();   // after the look: see "Deaths as events"
        Recovery.watch(this);
        return Poller.shared().register(bell, callback);   // the callback only signals; unwatch() clears
    }

    /** Clears the WAITING bit and leaves the periodic recovery: nobody here waits on this store now. */
    @Override
    public void unwatch() {
        Recovery.stopWatching(this);
        try {
            permits.waiting(false);
        } catch (IllegalStateException closed) {
            // the store has closed (or is closing): nothing to clear
        }
    }

    @Override
    public void waiters(int delta) {
        permits.waiters(delta);
    }

    @Override
    public boolean takeDeathReport() {
        return permits.takeDeathReport();
    }

    /**
     * The slots that hold or wait, with pids as this process numbers them: a holder in this PID
     * namespace numbers itself as this process does; for one in another, the pidfd it handed out
     * ({@link #watchPeers}) says ({@code Pid} in its fdinfo, matched to the holder by the last
     * {@code NSpid}, its own number). Scans the participants once if a holder is not watched yet.
     */
    @Override
    public java.util.List<Holding> holders() {
        java.util.List<SlotPermits.Slot> slots = permits.holders();
        java.util.List<Holding> all = new java.util.ArrayList<>(slots.size());
        boolean scanned = false;
        for (SlotPermits.Slot s : slots) {
            long pid = -1;
            if (s.pidNamespace() != 0 && s.pidNamespace() == SlotPermits.OWN_PID_NAMESPACE) {
                pid = s.pid();
            } else {
                pid = pidSeenHere(s);
                if (pid < 0 && !scanned && peers != null) {
                    scanned = true;
                    dev.eventfd.sync.internal.Rendezvous.PeerScan scan = peers.scan();
                    scan.found().forEach(this::watch);
                    pid = pidSeenHere(s);
                }
            }
            all.add(new Holding(pid, s.permits(), s.sinceMillis(), s.waiting()));
        }
        return all;
    }

    /**
     * The pid here of the watched participant that numbers itself as slot {@code s}'s owner does and,
     * where its namespace can be read, lives in the slot's PID namespace; -1 if none does.
     */
    private long pidSeenHere(SlotPermits.Slot s) {
        for (Watched w : watched.values()) {
            try {
                long[] numbers = w.fd().pids();
                if (numbers.length > 1 && numbers[numbers.length - 1] == s.pid() && numbers[0] > 0
                        && inNamespace(numbers[0], s.pidNamespace())) {
                    return numbers[0];
                }
            } catch (RuntimeException closed) {
                // forgotten meanwhile
            }
        }
        return -1;
    }

    /** Whether process {@code pid} (as numbered here) is in PID namespace {@code inode}; true if that cannot be read. */
    private static boolean inNamespace(long pid, long inode) {
        try {
            String link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/" + pid + "/ns/pid")).toString();
            return link.equals("pid:[" + inode + "]");
        } catch (java.io.IOException | RuntimeException unreadable) {
            return true;                     // another user's, or gone: the pid numbers alone decide
        }
    }

    /** Where the pidfds of the other participants come from ({@code Rendezvous::newPeers}). */
    public interface Peers {
        /** Scans for participants not answered before; may wait for their answers. */
        dev.eventfd.sync.internal.Rendezvous.PeerScan scan();
    }

    /** Gives the store the participants' pidfds, to notice their deaths as events. */
    public void watchPeers(Peers finder) {
        this.peers = finder;
    }

    /** Requests a scan for new participants; starts one unless one runs, which then runs again. */
    private void scanPeers() {
        if (peers == null || scans.getAndIncrement() != 0) return;
        Thread.ofVirtual().name("eventfd-sync watching participants").start(() -> {
            for (int seen = scans.get(); ; seen = scans.get()) {
                try {
                    dev.eventfd.sync.internal.Rendezvous.PeerScan scan = peers.scan();
                    scan.found().forEach(this::watch);
                    forgetGone(scan.present());
                    if (!scan.allAnswered()) awaitDying();
                } catch (RuntimeException closing) {
                    // the participant or the store closed meanwhile: nothing left to watch for
                }
                if (scans.compareAndSet(seen, 0)) return;   // no request since this scan began
            }
        });
    }

    /**
     * A participant hung up on the watch request, or its socket refused: most likely it is dying, and
     * its pidfd will never come. Its exit closes its socket before (or after) the kernel drops its
     * slot's lock, so the slots are recovered a few times over the next ~0.25 s, until one is freed.
     */
    private void awaitDying() {
        for (int i = 0; i < 8 && !released.get() && recoverDead() == 0; i++) {
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L << i);
        }
    }

    private void watch(String socket, PidFd p) {
        Watched w = new Watched(p, new AtomicBoolean());
        Watched before = watched.put(socket, w);
        if (before != null) before.close();
        if (released.get()) {                // released meanwhile: release() may have missed it
            if (watched.remove(socket, w)) w.close();
            return;
        }
        try {
            Poller.shared().register(p, outcome -> {
                if (outcome != Poller.Outcome.READY) return;
                w.exited().set(true);        // no longer counts as watched: the next watch may scan again
                ring(bells, permits.slot());  // signal only: the watch recovers
            });
        } catch (RuntimeException closed) {
            if (watched.remove(socket, w)) w.close();
        }
    }

    /**
     * How many participants are watched and have not exited: an exited one's pidfd stays until a scan
     * closes it, and must not hide a participant that joined since (which would then be noticed only by
     * the periodic check).
     */
    private int watchedAlive() {
        int alive = 0;
        for (Watched w : watched.values()) if (!w.exited().get()) alive++;
        return alive;
    }

    /** Closes the pidfds of participants whose socket has gone (they left), or whose process has exited. */
    private void forgetGone(java.util.Set<String> present) {
        for (Map.Entry<String, Watched> e : watched.entrySet()) {
            Watched w = e.getValue();
            boolean gone = !present.contains(e.getKey()) || w.exited().get() || w.fd().hasExited();
            if (gone && watched.remove(e.getKey(), w)) w.close();
        }
    }

    private int ownSlot() {
        int s = permits.slot();
        if (s < 0) throw new ClosedException("EventFdSemaphore");
        return s;
    }

    /** Recovers the slots of dead processes (each recovery rings the waiters, this process's too). @return how many it freed */
    int recoverDead() {
        return permits.recoverAll();
    }

    @Override
    public void closeWhenUnreachable(Object owner) {
        SlotPermits p = permits;
        MemFd m = memory;
        EventFd[] b = bells;
        Map<String, Watched> w = watched;
        AtomicBoolean r = released;
        unreachable = NativeFd.cleaner().register(owner, () -> release(p, m, b, w, r));
    }

    /**
     * Leaves the segment (what this process held goes back, and the waiters are rung) and closes the
     * descriptors (the mapping goes once nothing reaches it); through the cleanable if there is one, which also unregisters it.
     */
    @Override
    public void close() {
        Recovery.stopWatching(this);
        Cleaner.Cleanable c = unreachable;
        if (c != null) c.clean();
        else release(permits, memory, bells, watched, released);
    }

    private static void release(SlotPermits p, MemFd m, EventFd[] b, Map<String, Watched> watched,
                                AtomicBoolean released) {
        released.set(true);                  // before the drain below: a scan that adds later sees it
        try {
            p.close();
        } finally {
            // the mapping stays until nothing reaches it (an automatic arena): see join
            m.close();
            for (EventFd bell : b) bell.close();
            for (String socket : watched.keySet()) {
                Watched w = watched.remove(socket);
                if (w != null) w.close();
            }
        }
    }

    /**
     * Recovers the slots of dead processes for the stores that have a watch pending, every
     * {@value #PERIOD_MILLIS} ms, on one virtual thread that runs while any store is watched. The
     * thread wakes every {@value #PERIOD_MILLIS} ms and runs a round once the period read then
     * ({@value #PERIOD_PROPERTY}, default {@value #PERIOD_MILLIS}) has passed since the last one, so
     * a new period applies from the next wake on, to a round in progress at most.
     */
    static final class Recovery {
        static final long PERIOD_MILLIS = 100;
        /** Overrides the period (read every round), for tests that must show deaths arrive as events. */
        static final String PERIOD_PROPERTY = "eventfd.sync.recoveryMillis";
        private static final java.util.Set<SharedSlotStore> WATCHED = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private static final java.util.concurrent.atomic.AtomicBoolean RUNNING = new java.util.concurrent.atomic.AtomicBoolean();

        private Recovery() {}

        static void watch(SharedSlotStore store) {
            WATCHED.add(store);
            if (RUNNING.compareAndSet(false, true)) Thread.ofVirtual().name("eventfd-sync recovery").start(Recovery::run);
        }

        static void stopWatching(SharedSlotStore store) {
            WATCHED.remove(store);
        }

        private static void run() {
            for (long last = System.nanoTime(); ; ) {
                java.util.concurrent.locks.LockSupport.parkNanos(PERIOD_MILLIS * 1_000_000L);
                long now = System.nanoTime();
                if (now - last < Long.getLong(PERIOD_PROPERTY, PERIOD_MILLIS) * 1_000_000L - 1_000_000L) continue;
                last = now;
                for (SharedSlotStore s : WATCHED) {
                    try {
                        s.recoverDead();
                    } catch (IllegalStateException closed) {     // ClosedException too
                        WATCHED.remove(s);   // closed meanwhile (the arena, or the slot left)
                    } catch (RuntimeException transientFailure) {
                        // e.g. a lock test that failed once: the next round tries again
                    }
                }
                if (WATCHED.isEmpty()) {
                    RUNNING.set(false);
                    // a store added after the check but before the flag was cleared started no thread: look again
                    if (WATCHED.isEmpty() || !RUNNING.compareAndSet(false, true)) return;
                }
            }
        }
    }
}
