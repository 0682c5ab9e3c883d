package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.internal.store.SlotPermits;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.ZJ_Result;
import org.openjdk.jcstress.infra.results.ZZJ_Result;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReferenceArray;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * The crash-exact slot store's protocol, each actor standing for a process: its own {@link
 * SlotPermits} on one shared segment, with a liveness lock per slot that a "death" drops.
 */
public class SlotPermitsAsProcesses {

    /** Liveness locks shared by the simulated processes of one segment. */
    static final class Locks {
        final AtomicReferenceArray<Object> owner;

        Locks(int slots) {
            owner = new AtomicReferenceArray<>(slots);
        }

        SlotPermits.Liveness forProcess(Object process) {
            return new SlotPermits.Liveness() {
                @Override public boolean tryLock(int slot) { return owner.compareAndSet(slot, null, process) || owner.get(slot) == process; }
                @Override public void unlock(int slot) { owner.compareAndSet(slot, process, null); }
                @Override public boolean heldByAnother(int slot) { Object o = owner.get(slot); return o != null && o != process; }
            };
        }
    }

    static MemorySegment segment(int slots) {
        return Arena.ofAuto().allocate(SlotPermits.bytesFor(slots), SlotPermits.LINE);
    }

    static final SlotPermits.Doorbells SILENT = slot -> { };

    /** Processes a and b on a segment of one permit; in {@code aHolds}, a has taken it. */
    abstract static class TwoProcesses {
        final MemorySegment memory = segment(2);
        final Locks locks = new Locks(2);
        final SlotPermits a = SlotPermits.create(memory, 2, 1, SILENT, locks.forProcess("a"));
        final SlotPermits b = SlotPermits.attach(memory, SILENT, locks.forProcess("b"));

        TwoProcesses(boolean aHolds) {
            if (aHolds && !a.tryTake(1)) throw new AssertionError("set-up");
        }
    }

    /**
     * Two processes take the only permit at once. Results: each take, then the permits free.
     */
    @JCStressTest
    @Outcome(id = {"true, false, 0", "false, true, 0"}, expect = ACCEPTABLE, desc = "exactly one took it")
    @Outcome(id = "false, false, 1", expect = ACCEPTABLE_INTERESTING, desc = "each backed off for the other (both retry when rung)")
    @Outcome(id = "true, true, -1", expect = FORBIDDEN, desc = "both took the only permit")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a permit was created or lost")
    @State
    public static class TwoTakesOfOnePermit extends TwoProcesses {
        public TwoTakesOfOnePermit() { super(false); }

        @Actor public void processA(ZZJ_Result r) { r.r1 = a.tryTake(1); }
        @Actor public void processB(ZZJ_Result r) { r.r2 = b.tryTake(1); }
        @Arbiter public void arbiter(ZZJ_Result r) { r.r3 = a.available(); }
    }

    /**
     * A process gives back its permit while another takes one. Results: the take, then the permits free.
     */
    @JCStressTest
    @Outcome(id = "true, 0", expect = ACCEPTABLE, desc = "the take saw the give")
    @Outcome(id = "false, 1", expect = ACCEPTABLE, desc = "the take ran first; the permit stays free")
    @Outcome(expect = FORBIDDEN, desc = "a permit was created or lost")
    @State
    public static class GiveVersusTake extends TwoProcesses {
        public GiveVersusTake() { super(true); }

        @Actor public void giver() { a.give(1); }
        @Actor public void taker(ZJ_Result r) { r.r1 = b.tryTake(1); }
        @Arbiter public void arbiter(ZJ_Result r) { r.r2 = b.available(); }
    }

    /**
     * The only permit is given back while another process asks for two: the give must never make
     * two permits appear, even for an instant. Results: the take, then the permits free.
     */
    @JCStressTest
    @Outcome(id = "false, 1", expect = ACCEPTABLE, desc = "only one permit exists: the take of two fails")
    @Outcome(expect = FORBIDDEN, desc = "the give made a permit appear twice (the take of two succeeded)")
    @State
    public static class TakeTwoDuringGive extends TwoProcesses {
        public TakeTwoDuringGive() { super(true); }

        @Actor public void giver() { a.give(1); }
        @Actor public void taker(ZJ_Result r) { r.r1 = b.tryTake(2); }
        @Arbiter public void arbiter(ZJ_Result r) { r.r2 = b.available(); }
    }

    /**
     * A process returns the permit it holds while another process begins to wait for it (sets its
     * WAITING bit, and so HINT in the holder's slot, then tries once more): the permit may go to the
     * holder's cache only if the waiter's look sees it there; otherwise the waiter is rung. Results:
     * the waiter's take, whether its doorbell rang, then the permits free.
     */
    @JCStressTest
    @Outcome(id = {"true, false, 0", "true, true, 0"}, expect = ACCEPTABLE, desc = "the waiter's look took it")
    @Outcome(id = "false, true, 1", expect = ACCEPTABLE, desc = "the look ran first; the release rang the waiter")
    @Outcome(id = "false, false, 1", expect = FORBIDDEN, desc = "lost wake-up: the permit sits free and the waiter sleeps unrung")
    @Outcome(expect = FORBIDDEN, desc = "a permit was created or lost")
    @State
    public static class CachedGiveVersusWaiter {
        final MemorySegment memory = segment(2);
        final Locks locks = new Locks(2);
        final java.util.concurrent.atomic.AtomicIntegerArray rings = new java.util.concurrent.atomic.AtomicIntegerArray(2);
        final SlotPermits.Doorbells bells = rings::incrementAndGet;
        final SlotPermits a = SlotPermits.create(memory, 2, 1, bells, locks.forProcess("a"));
        final SlotPermits b = SlotPermits.attach(memory, bells, locks.forProcess("b"));
        {
            if (!a.tryTake(1)) throw new AssertionError("set-up");
            rings.set(b.slot(), 0);
        }

        @Actor public void holder() { if (!a.tryGiveCached(1)) a.give(1); }

        @Actor
        public void waiter(ZZJ_Result r) {
            b.waiting(true);
            r.r1 = b.tryTake(1);
        }

        @Arbiter
        public void arbiter(ZZJ_Result r) {
            r.r2 = rings.get(b.slot()) > 0;
            r.r3 = a.available();
        }
    }

    /**
     * The only permit sits in one process's cache; that process takes it from its cache while
     * another takes from the pool, which takes caches back when it is short. Results: the cached
     * take, the pool take, then the permits free.
     */
    @JCStressTest
    @Outcome(id = {"true, false, 0", "false, true, 0"}, expect = ACCEPTABLE, desc = "exactly one took it")
    @Outcome(id = "false, false, 1", expect = FORBIDDEN, desc = "both failed with the permit free")
    @Outcome(expect = FORBIDDEN, desc = "both took the only permit, or a permit was created or lost")
    @State
    public static class CachedTakeVersusTakeBack extends TwoProcesses {
        public CachedTakeVersusTakeBack() {
            super(true);
            if (!a.tryGiveCached(1)) throw new AssertionError("set-up");
        }

        @Actor public void owner(ZZJ_Result r) { r.r1 = a.tryTakeCached(1); }
        @Actor public void other(ZZJ_Result r) { r.r2 = b.tryTake(1); }
        @Arbiter public void arbiter(ZZJ_Result r) { r.r3 = a.available(); }
    }

    /**
     * One thread of a process gives its only permit to its cache (outside the semaphore's close gate)
     * while another closes the process's slot: the give either precedes the leave, and the process
     * left holding nothing, or fails and the process left holding the permit. Results: the cached give,
     * whether another process is told of a leave holding permits, then the permits free.
     */
    @JCStressTest
    @Outcome(id = "true, false, 1", expect = ACCEPTABLE, desc = "the give, then the leave holding nothing")
    @Outcome(id = "false, true, 1", expect = ACCEPTABLE, desc = "the leave holding the permit; the give failed")
    @Outcome(id = "true, true, 1", expect = FORBIDDEN, desc = "the give preceded the leave, yet it is reported as a leave holding a permit")
    @Outcome(expect = FORBIDDEN, desc = "a permit was created or lost")
    @State
    public static class CachedGiveVersusClose extends TwoProcesses {
        public CachedGiveVersusClose() {
            super(true);
        }

        @Actor public void releaser(ZZJ_Result r) { r.r1 = a.tryGiveCached(1); }
        @Actor public void closer() { a.close(); }

        @Arbiter
        public void arbiter(ZZJ_Result r) {
            r.r2 = b.takeDeathReport();
            r.r3 = b.available();
        }
    }

    /**
     * A process died holding both permits. A survivor recovers its slot while a newcomer claims it
     * (the only slot left, so it takes the dead one over) and takes one permit. Results: whether the
     * survivor's recovery freed it, whether the newcomer's take succeeded, then the permits free:
     * the dead process's two came back once, whichever won, and the newcomer holds one.
     */
    @JCStressTest
    @Outcome(id = {"true, true, 1", "false, true, 1"}, expect = ACCEPTABLE, desc = "the dead process's permits came back once")
    @Outcome(expect = FORBIDDEN, desc = "permits lost or duplicated by the race (2: the recovery wiped the newcomer's holding)")
    @State
    public static class RecoveryVersusClaim {
        final MemorySegment memory = segment(2);
        final Locks locks = new Locks(2);
        final SlotPermits survivor = SlotPermits.create(memory, 2, 2, SILENT, locks.forProcess("survivor"));
        final int deadSlot;
        SlotPermits newcomer;
        {
            SlotPermits dead = SlotPermits.attach(memory, SILENT, locks.forProcess("dead"));
            if (!dead.tryTake(2)) throw new AssertionError("set-up");
            deadSlot = dead.slot();
            locks.owner.set(deadSlot, null);              // it dies: the kernel drops its lock
        }

        @Actor public void survivor(ZZJ_Result r) { r.r1 = survivor.recover(deadSlot); }

        @Actor
        public void newcomer(ZZJ_Result r) {
            newcomer = SlotPermits.attach(memory, SILENT, locks.forProcess("newcomer"));
            r.r2 = newcomer.tryTake(1);
        }

        @Arbiter public void arbiter(ZZJ_Result r) { r.r3 = survivor.available(); }
    }

    /**
     * Two fair processes take for their waiters at once, one with an earlier ticket than the other,
     * and one permit is free: the later turn gives way before it adds anything, so the earlier one
     * always gets it. Results: the earlier's take, the later's take, then the permits free.
     */
    @JCStressTest
    @Outcome(id = "true, false, 0", expect = ACCEPTABLE, desc = "the earlier turn took the permit")
    @Outcome(id = "false, true, 0", expect = FORBIDDEN, desc = "the later turn took the permit while the earlier one waited")
    @Outcome(id = "false, false, 1", expect = FORBIDDEN, desc = "the later turn's take made the earlier one back off")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a permit was created or lost")
    @State
    public static class TurnsInTicketOrder {
        final MemorySegment memory = segment(2);
        final Locks locks = new Locks(2);
        final SlotPermits earlier = SlotPermits.create(memory, 2, 1, SILENT, locks.forProcess("earlier"));
        final SlotPermits later = SlotPermits.attach(memory, SILENT, locks.forProcess("later"));
        {
            earlier.publishTurn(earlier.newTicket());
            later.publishTurn(later.newTicket());
        }

        @Actor public void earlier(ZZJ_Result r) { r.r1 = earlier.tryTake(1); }
        @Actor public void later(ZZJ_Result r) { r.r2 = later.tryTake(1); }
        @Arbiter public void arbiter(ZZJ_Result r) { r.r3 = earlier.available(); }
    }
}
