package dev.eventfd.sync.internal.store;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link SlotPermits} on one shared segment, each instance standing for a process: its liveness lock
 * is a token in a map that a "death" drops (as the kernel drops an OFD lock), its doorbell a counter.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SlotPermitsTest {

    private final Arena arena = Arena.ofShared();
    private MemorySegment memory;
    /** slot -> the process (its Liveness) that holds the slot's lock */
    private final ConcurrentHashMap<Integer, Process> locks = new ConcurrentHashMap<>();
    /** Permits given beyond holdings in the chaos test: the free count may rise by this much. */
    private final AtomicLong giftsSoFar = new AtomicLong();
    private final AtomicInteger[] rings = new AtomicInteger[16];

    {
        for (int i = 0; i < rings.length; i++) rings[i] = new AtomicInteger();
    }

    /** A simulated process: its lock token, and its view of the segment. */
    final class Process implements SlotPermits.Liveness {
        SlotPermits permits;

        @Override public boolean tryLock(int slot) { return locks.putIfAbsent(slot, this) == null || locks.get(slot) == this; }
        @Override public void unlock(int slot) { locks.remove(slot, this); }
        @Override public boolean heldByAnother(int slot) { Process p = locks.get(slot); return p != null && p != this; }

        /** The kernel drops every lock of a dead process; its memory (what it knew) is gone with it. */
        void die() {
            locks.values().removeIf(p -> p == this);
            permits = null;
        }
    }

    private Process first(int slots, long initial) {
        memory = arena.allocate(SlotPermits.bytesFor(slots), SlotPermits.LINE);
        Process p = new Process();
        p.permits = SlotPermits.create(memory, slots, initial, j -> rings[j].incrementAndGet(), p);
        return p;
    }

    private Process join() {
        Process p = new Process();
        p.permits = SlotPermits.attach(memory, j -> rings[j].incrementAndGet(), p);
        return p;
    }

    /**
     * Process p dies between a take's add to its INFLIGHT (the word after its slot word, at
     * {@code bytesFor(slot) + 8}) and the move to KEPT: INFLIGHT holds 1, KEPT 0. Returns its slot.
     */
    private int dieWithATakeInFlight(Process p) {
        int slot = p.permits.slot();
        memory.set(java.lang.foreign.ValueLayout.JAVA_LONG, SlotPermits.bytesFor(slot) + 8, 1L);
        p.die();
        return slot;
    }

    @AfterEach
    void free() {
        arena.close();
    }

    // ------------------------------------------------------------------ caches (layout version 4)

    @Test
    void aReleaseOfHeldPermitsGoesToTheOwnCacheAndTheNextTakeComesFromIt() {
        Process a = first(4, 3), b = join();
        assertFalse(a.permits.tryTakeCached(1), "nothing cached yet");
        assertFalse(a.permits.tryGiveCached(1), "nothing held: a cached give returns only what is held");
        assertTrue(a.permits.tryTake(2));
        assertTrue(a.permits.tryGiveCached(2));
        long w = a.permits.slotWord(a.permits.slot());
        assertEquals(0, SlotPermits.kept(w));
        assertEquals(2, SlotPermits.cached(w));
        assertEquals(0, a.permits.held(), "cached permits are held by no thread");
        assertEquals(3, b.permits.available(), "cached permits count as free, for every process");
        assertEquals(List.of(), b.permits.holders(), "and a cache is no holding");
        assertTrue(a.permits.tryTakeCached(2));
        assertEquals(2, a.permits.held());
        assertFalse(a.permits.tryTakeCached(1), "the cache is empty again");
        assertEquals(1, b.permits.available());
        assertEquals(0, rings[a.permits.slot()].get() + rings[b.permits.slot()].get(), "no ring: nobody waits");
    }

    @Test
    void aTakeFromThePoolTakesOtherProcessesCachesBackWhenThePoolIsShort() {
        Process a = first(4, 3), b = join();
        assertTrue(a.permits.tryTake(3));
        assertTrue(a.permits.tryGiveCached(3));
        assertTrue(b.permits.tryTake(2), "the pool was empty, a's cache was not");
        assertEquals(0, SlotPermits.cached(a.permits.slotWord(a.permits.slot())), "a's whole cache went back to the pool");
        assertEquals(2, b.permits.held());
        assertEquals(1, a.permits.available());
        assertFalse(a.permits.tryTakeCached(1));
        assertTrue(a.permits.tryTake(1), "the third permit is in the pool");
        assertFalse(b.permits.tryTake(1));
        assertEquals(0, a.permits.available());
    }

    @Test
    void aWaiterStopsOtherProcessesCachingAndIsRungByTheirNextRelease() {
        Process a = first(4, 1), b = join();
        assertTrue(a.permits.tryTake(1));
        b.permits.waiting(true);
        assertFalse(b.permits.tryTake(1));
        assertNotEquals(0, a.permits.slotWord(a.permits.slot()) & SlotPermits.HINT, "the waiter set HINT in the holder's slot");
        assertFalse(a.permits.tryGiveCached(1), "no cache while another process waits");
        assertFalse(a.permits.tryTakeCached(1));
        int before = rings[b.permits.slot()].get();
        a.permits.give(1);
        assertTrue(rings[b.permits.slot()].get() > before, "the release to the pool rang the waiter");
        assertNotEquals(0, a.permits.slotWord(a.permits.slot()) & SlotPermits.HINT, "HINT stays while b waits");
        assertTrue(b.permits.tryTake(1));
        b.permits.waiting(false);
        b.permits.give(1);                               // b's own release: nobody waits now
        assertTrue(a.permits.tryTake(1));
        a.permits.give(1);                               // the release that finds nobody waiting clears HINT
        assertEquals(0, a.permits.slotWord(a.permits.slot()) & SlotPermits.HINT);
        assertTrue(a.permits.tryTake(1));
        assertTrue(a.permits.tryGiveCached(1), "caching again");
    }

    @Test
    void aProcessThatJoinsWhileAnotherWaitsSetsItsOwnHint() {
        Process a = first(4, 0);
        a.permits.waiting(true);
        Process b = join();
        assertNotEquals(0, b.permits.slotWord(b.permits.slot()) & SlotPermits.HINT);
        a.permits.waiting(false);
        Process c = join();
        assertEquals(0, c.permits.slotWord(c.permits.slot()) & SlotPermits.HINT, "nobody waits: no HINT");
    }

    @Test
    void aDeadProcessGivesBackWhatItHeldCachedAndHadInFlightAndIsReportedForWhatItHeld() {
        Process a = first(4, 6), b = join();
        int slotOfA = a.permits.slot();
        assertTrue(a.permits.tryTake(3));
        assertTrue(a.permits.tryGiveCached(1));          // kept 2, cached 1
        // and a take of 1 in flight: its INFLIGHT (the word after its slot word) holds 1
        memory.set(java.lang.foreign.ValueLayout.JAVA_LONG, SlotPermits.bytesFor(slotOfA) + 8, 1L);
        a.die();
        assertEquals(3, b.permits.available(), "before recovery: the dead holding and the take in flight still count");
        assertEquals(1, b.permits.recoverAll());
        assertEquals(6, b.permits.available());
        assertTrue(b.permits.tryTake(6));
        assertTrue(b.permits.takeDeathReport());
        assertEquals(0, SlotPermits.held(b.permits.slotWord(slotOfA)));
    }

    @Test
    void cachedTakesAndGivesFailOnceTheProcessHasLeftEvenIfItsSlotIsTakenOver() {
        Process a = first(2, 2), b = join();
        SlotPermits left = a.permits;
        assertTrue(left.tryTake(1));
        assertTrue(left.tryGiveCached(1));
        long before = left.slotWord(0);
        left.close();
        assertEquals(2, b.permits.available(), "close returned the cache");
        assertFalse(left.tryTakeCached(1));
        assertFalse(left.tryGiveCached(1));
        Process c = join();                              // takes the free slot over, a new generation
        assertEquals(0, c.permits.slot());
        assertNotEquals(before & SlotPermits.GEN_MASK, c.permits.slotWord(0) & SlotPermits.GEN_MASK);
        assertTrue(c.permits.tryTake(1));
        assertTrue(c.permits.tryGiveCached(1));
        assertFalse(left.tryTakeCached(1), "the slot's cache is its new owner's");
        assertEquals(2, b.permits.available());
    }

    @Test
    void aTakeThatWouldPassTheMostAProcessHoldsFailsClearlyAndKeepsNothing() {
        Process a = first(2, 2), b = join();
        int s = a.permits.slot();
        // a's threads hold the most a slot can keep (as if gifts had let BASE grow that far)
        long w = a.permits.slotWord(s);
        memory.set(java.lang.foreign.ValueLayout.JAVA_LONG, SlotPermits.bytesFor(s), w | SlotPermits.MAX_KEPT);
        memory.set(java.lang.foreign.ValueLayout.JAVA_LONG, 64L, SlotPermits.MAX_KEPT + 2);   // BASE
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> a.permits.tryTake(1));
        assertTrue(e.getMessage().contains("more than " + SlotPermits.MAX_KEPT), e.getMessage());
        assertEquals(2, b.permits.available(), "nothing kept, nothing left in flight");
        assertTrue(b.permits.tryTake(2));
    }

    @Test
    void takesAreAllOrNoneAndNeverExceedThePermits() {
        Process a = first(4, 3), b = join();
        assertTrue(a.permits.tryTake(2));
        assertFalse(b.permits.tryTake(2), "2 + 2 of 3");
        assertEquals(0, b.permits.held(), "a failed take keeps nothing");
        assertTrue(b.permits.tryTake(1));
        assertEquals(0, a.permits.available());
        a.permits.give(2);
        assertEquals(2, b.permits.available());
        assertTrue(b.permits.tryTake(2));
        assertEquals(3, b.permits.held());
    }

    @Test
    void aDeadProcessesPermitsComeBackExactlyAndTheWaitersAreRung() {
        Process a = first(4, 3), b = join(), c = join();
        assertTrue(b.permits.tryTake(2));
        c.permits.waiting(true);
        assertFalse(c.permits.tryTake(2));
        int slotOfB = b.permits.slot();
        int before = rings[c.permits.slot()].get();
        b.die();
        assertEquals(1, a.permits.available(), "nothing comes back before the recovery");
        assertEquals(1, a.permits.recoverAll(), "the recoverer learns it freed a slot (and retries its own waiters)");
        assertEquals(0, a.permits.recoverAll(), "a recovery is done once");
        assertEquals(0, c.permits.recoverAll());
        assertTrue(rings[c.permits.slot()].get() > before, "the recovery rings the waiting process");
        assertEquals(3, a.permits.available());
        assertEquals(0, SlotPermits.held(a.permits.slotWord(slotOfB)));
        c.permits.waiting(false);
        assertTrue(c.permits.tryTake(3));
    }

    @Test
    void aLiveProcessIsNeverRecovered() {
        Process a = first(4, 2), b = join();
        assertTrue(b.permits.tryTake(1));
        assertFalse(a.permits.recover(b.permits.slot()));
        assertEquals(0, a.permits.recoverAll());
        assertEquals(1, a.permits.available());
    }

    @Test
    void whatADeadProcessGaveBeyondItsHoldingsStaysGiven() {
        Process a = first(4, 0), b = join();
        b.permits.give(2);                 // a release without an acquire: a gift
        b.die();
        a.permits.recoverAll();
        assertEquals(2, a.permits.available());
        assertTrue(a.permits.tryTake(2));
    }

    @Test
    void aClaimantRecoversADeadSlotAndARecoveryWithAStaleWordDoesNothing() {
        Process a = first(2, 2), b = join();
        int slotOfB = b.permits.slot();
        assertTrue(b.permits.tryTake(2));
        long old = a.permits.slotWord(slotOfB);
        b.die();
        Process c = join();                // both slots taken or dead: it takes the dead one over
        assertEquals(slotOfB, c.permits.slot());
        assertNotEquals(old & SlotPermits.GEN_MASK, a.permits.slotWord(slotOfB) & SlotPermits.GEN_MASK, "a new generation");
        assertEquals(2, a.permits.available());
        assertTrue(c.permits.tryTake(1));
        assertFalse(a.permits.recover(slotOfB), "its owner lives");
        assertEquals(1, a.permits.available());
    }

    @Test
    void aReleaseRingsOnlyWaitingProcesses() {
        Process a = first(4, 1), b = join(), c = join();
        assertTrue(a.permits.tryTake(1));
        b.permits.waiting(true);
        assertFalse(b.permits.tryTake(1));
        int bBefore = rings[b.permits.slot()].get(), cBefore = rings[c.permits.slot()].get();
        a.permits.give(1);
        assertEquals(bBefore + 1, rings[b.permits.slot()].get());
        assertEquals(cBefore, rings[c.permits.slot()].get(), "a process that does not wait is not rung");
    }

    @Test
    void aReleaseRingsItsOwnProcessWhenAnotherOfItsThreadsWaits() {
        // A thread of a that gives while another thread of a sleeps on a's doorbell must wake it.
        Process a = first(4, 1);
        assertTrue(a.permits.tryTake(1));
        a.permits.waiting(true);
        int before = rings[a.permits.slot()].get();
        a.permits.give(1);
        assertEquals(before + 1, rings[a.permits.slot()].get());
    }

    @Test
    void theGatherRightIsOneProcessesAtATimeAndItsReleaseRingsTheWaiters() {
        Process a = first(4, 3), b = join();
        assertTrue(a.permits.tryClaimGatherRight());
        assertTrue(a.permits.tryClaimGatherRight(), "its holder claims it again");
        assertFalse(b.permits.tryClaimGatherRight());
        assertFalse(b.permits.gatherRightAvailable());
        b.permits.waiting(true);
        int before = rings[b.permits.slot()].get();
        a.permits.releaseGatherRight();
        assertEquals(before + 1, rings[b.permits.slot()].get(), "the release rang the waiter for the right");
        assertTrue(b.permits.gatherRightAvailable());
        assertTrue(b.permits.tryClaimGatherRight());
        assertFalse(a.permits.tryClaimGatherRight());
    }

    @Test
    void aDeadGatherersRightAndPermitsComeBackToTheNextClaimant() {
        Process a = first(4, 3), b = join();
        assertTrue(a.permits.tryTake(1));                // gathered 1 of a multi-permit request
        assertTrue(a.permits.tryClaimGatherRight());
        int aSlot = a.permits.slot();
        a.die();
        assertTrue(b.permits.gatherRightAvailable(), "a dead holder's right is free");
        assertTrue(b.permits.tryClaimGatherRight(), "the claimant recovers the dead holder's slot and takes the right");
        assertEquals(0, SlotPermits.held(b.permits.slotWord(aSlot)));
        assertEquals(3, b.permits.available(), "the gathered permit came back");
        assertTrue(b.permits.tryTake(3));
    }

    @Test
    void aRightNamingAFreedOrTakenOverSlotIsFree() {
        Process a = first(4, 3), b = join();
        assertTrue(a.permits.tryClaimGatherRight());
        int aSlot = a.permits.slot();
        a.die();
        assertTrue(b.permits.recover(aSlot));           // FREE now, GATHER still names it
        Process c = join();                              // takes the freed slot over: a new generation
        assertEquals(aSlot, c.permits.slot());
        assertTrue(c.permits.gatherRightAvailable(), "GATHER names the old generation");
        assertTrue(c.permits.tryClaimGatherRight());
        assertFalse(b.permits.tryClaimGatherRight());
    }

    @Test
    void aFailedTakeUnderARealShortageRingsNobody() {
        // Else two waiting processes ring each other for as long as a third holds every permit.
        Process holder = first(4, 2), b = join(), c = join();
        assertTrue(holder.permits.tryTake(2));
        b.permits.waiting(true);
        c.permits.waiting(true);
        int bBefore = rings[b.permits.slot()].get(), cBefore = rings[c.permits.slot()].get();
        assertFalse(c.permits.tryTake(1));
        assertFalse(b.permits.tryTake(1));
        assertEquals(bBefore, rings[b.permits.slot()].get(), "c's failed take rang b");
        assertEquals(cBefore, rings[c.permits.slot()].get(), "b's failed take rang c");
        holder.permits.give(1);
        assertEquals(bBefore + 1, rings[b.permits.slot()].get(), "a release rings the waiters");
    }

    @Test
    void aBackOffWithAPermitFreeRingsTheWaiters() {
        // b's take of 2 fails with 1 free: the permit b's add hid from others is free again, so b rings.
        Process a = first(4, 1), b = join();
        a.permits.waiting(true);
        int before = rings[a.permits.slot()].get();
        assertFalse(b.permits.tryTake(2));
        assertEquals(before + 1, rings[a.permits.slot()].get());
    }

    @Test
    void aDeathHoldingPermitsIsReportedOnceAndADeathHoldingNoneNever() {
        Process a = first(4, 1), b = join();
        assertTrue(a.permits.tryTake(1));
        a.die();
        assertFalse(b.permits.takeDeathReport(), "the death is marked by the recovery, not before");
        assertEquals(1, b.permits.recoverAll());
        assertTrue(b.permits.takeDeathReport(), "the recovered holder died holding the permit");
        assertFalse(b.permits.takeDeathReport(), "told once");
        Process c = join();                               // takes the dead slot over: a new generation
        c.die();                                          // holding nothing
        assertEquals(1, b.permits.recoverAll());
        assertFalse(b.permits.takeDeathReport(), "a process that held nothing did not die holding");
        assertFalse(b.permits.recoverAll() > 0 || b.permits.takeDeathReport(), "a second recovery marks nothing");
    }

    @Test
    void twoDeathsBeforeOneReportAreOneReport() {
        Process a = first(4, 1), b = join(), c = join();
        assertTrue(a.permits.tryTake(1));
        a.die();
        assertEquals(1, b.permits.recoverAll());
        assertTrue(c.permits.tryTake(1), "c takes the lock and dies before it asks");
        c.die();
        assertEquals(1, b.permits.recoverAll());
        assertTrue(b.permits.takeDeathReport(), "the next holder is told");
        assertFalse(b.permits.takeDeathReport(), "and the holder after it, which followed a clean unlock, is not");
    }

    @Test
    void leavingWhileHoldingIsReportedAsDyingWhileHolding() {
        Process a = first(4, 1), b = join();
        assertTrue(a.permits.tryTake(1));
        a.permits.close();
        assertTrue(b.permits.takeDeathReport());
        assertFalse(b.permits.takeDeathReport());
        Process c = join();
        assertTrue(c.permits.tryTake(1));
        c.permits.give(1);
        c.permits.close();
        assertFalse(b.permits.takeDeathReport(), "leaving after giving everything back is no death");
    }

    @Test
    void aDeadWaitersBitDoesNotTurnBargingTakesAway() {
        Process a = first(4, 1), b = join();
        b.permits.waiting(true);
        assertFalse(a.permits.tryTake(1, true), "a live waiter gets the free permit, not a barger");
        b.die();                                          // its slot stays LIVE | WAITING until recovered
        assertTrue(a.permits.tryTake(1, true), "a dead waiter waits for nothing");
        assertEquals(0, a.permits.liveOthers(), "and its slot was recovered on the way");
    }

    @Test
    void aClaimantThatTakesOverADeadHoldersSlotMarksTheDeath() {
        Process a = first(1, 2), b;                      // one slot: the joiner must take it over
        assertTrue(a.permits.tryTake(2));
        a.die();
        b = join();
        assertEquals(2, b.permits.available(), "the claimant recovered the dead holder's permits");
        assertTrue(b.permits.takeDeathReport());
        assertFalse(b.permits.takeDeathReport());
    }

    @Test
    void aTakeFromThePoolRingsTheWaitersIfAPermitIsFreeOnceItHolds() {
        // Between its move to KEPT and its take off INFLIGHT its permit counts twice: a contender that
        // backed off then found none free and rang nobody, so the take looks once it holds.
        Process a = first(4, 2), b = join();
        b.permits.waiting(true);
        int before = rings[b.permits.slot()].get();
        assertTrue(a.permits.tryTake(1));
        assertEquals(before + 1, rings[b.permits.slot()].get(), "one permit is free: the waiter is rung");
        assertTrue(a.permits.tryTake(1));
        assertEquals(before + 1, rings[b.permits.slot()].get(), "none is free: nobody is rung");
    }

    @Test
    void aClaimThatResetsTheInflightADeadOwnerLeftRingsTheWaiters() {
        // A recovery frees a dead owner's word and leaves its INFLIGHT; a sum that read that INFLIGHT
        // before a claimant's reset and the LIVE word after counted it once more (its back-off may
        // have rung nobody), so the claimant rings.
        Process a = first(2, 1), b = join();
        int slotOfA = dieWithATakeInFlight(a);
        assertEquals(1, b.permits.recoverAll());
        b.permits.waiting(true);
        int before = rings[b.permits.slot()].get();
        Process c = join();
        assertEquals(slotOfA, c.permits.slot(), "the only slot left");
        assertEquals(before + 1, rings[b.permits.slot()].get(), "the claimant rang the waiter");
        assertEquals(1, c.permits.available(), "the take in flight ended with its process");
    }

    @Test
    void aTakeInFlightWhenItsProcessDiedIsNotReportedAsHeld() {
        Process a = first(4, 1), b = join();
        dieWithATakeInFlight(a);
        assertEquals(0, b.permits.available());
        assertEquals(1, b.permits.recoverAll());
        assertEquals(1, b.permits.available());
        assertFalse(b.permits.takeDeathReport(), "it held nothing yet");
    }

    @Test
    void holdersShowWhatEachProcessHoldsSinceWhenAndItsWaiters() {
        Process a = first(4, 3), b = join();
        assertEquals(List.of(), a.permits.holders());
        long before = System.currentTimeMillis();
        assertTrue(a.permits.tryTake(2));
        b.permits.waiters(1);
        List<SlotPermits.Slot> h = b.permits.holders();
        assertEquals(2, h.size(), h::toString);
        SlotPermits.Slot ofA = h.get(0), ofB = h.get(1);
        assertEquals(a.permits.slot(), ofA.slot());
        assertEquals(2, ofA.permits());
        // from CoarseClock: never ahead of the clock, and at most a tick behind it (more when the machine is loaded)
        assertTrue(ofA.sinceMillis() >= before - 1_000 && ofA.sinceMillis() <= System.currentTimeMillis(), ofA::toString);
        assertEquals(ProcessHandle.current().pid(), ofA.pid());
        assertEquals(SlotPermits.OWN_PID_NAMESPACE, ofA.pidNamespace());
        assertEquals(new SlotPermits.Slot(b.permits.slot(), ofA.pid(), ofA.pidNamespace(), 0, 0, 1), ofB);
        a.permits.give(2);
        b.permits.waiters(-1);
        assertEquals(List.of(), a.permits.holders(), "nobody holds or waits");
    }

    @Test
    void everyRiseFromZeroIsStampedAfreshOnceTheClockHasMoved() {
        Process a = first(4, 1);
        assertTrue(a.permits.tryTake(1));
        long first = a.permits.holders().getFirst().sinceMillis();
        a.permits.give(1);
        assertTrue(a.permits.tryTake(1));            // within the same tick the stamp may stay as it was
        long second = a.permits.holders().getFirst().sinceMillis();
        assertTrue(second >= first && second <= System.currentTimeMillis(), first + " then " + second);
        a.permits.give(1);
        while (CoarseClock.millis() <= second) Thread.onSpinWait();   // the stamps' clock moves on (the class timeout bounds it)
        assertTrue(a.permits.tryTake(1));
        assertTrue(a.permits.holders().getFirst().sinceMillis() > second, "a rise after the clock moved keeps the old stamp");
        a.permits.give(1);
    }

    @Test
    void closeReturnsWhatTheProcessHeldAndFreesItsSlot() {
        Process a = first(2, 3), b = join();
        assertTrue(b.permits.tryTake(3));
        int slotOfB = b.permits.slot();
        b.permits.close();
        assertEquals(3, a.permits.available());
        assertFalse(locks.containsKey(slotOfB));
        assertThrows(IllegalStateException.class, () -> b.permits.tryTake(1));
        assertEquals(slotOfB, join().permits.slot(), "the slot is free again");
    }

    @Test
    void badInputIsRefusedWithTheRule() {
        Process a = first(1, 1);
        assertEquals("permits 0 not in [1, 2147483647]",
                assertThrows(IllegalArgumentException.class, () -> a.permits.tryTake(0)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> a.permits.give(1L << 31));
        assertEquals("all 1 slots of the permit segment are in use by live processes",
                assertThrows(IllegalStateException.class, this::join).getMessage());
        MemorySegment garbage = arena.allocate(SlotPermits.bytesFor(1));
        assertThrows(IllegalStateException.class, () -> SlotPermits.attach(garbage, j -> { }, new Process()));
        assertThrows(IllegalArgumentException.class,
                () -> SlotPermits.create(arena.allocate(64), 1, 1, j -> { }, new Process()));
        assertEquals(1, a.permits.available(), "nothing changed");
    }

    @Test
    void aGiftPastTheMaximumIsRefusedAndChangesNothing() {
        Process a = first(2, SlotPermits.MAX_PERMITS);
        Error e = assertThrows(Error.class, () -> a.permits.give(1));
        assertEquals("Maximum permit count exceeded", e.getMessage());
        assertEquals(SlotPermits.MAX_PERMITS, a.permits.available());
    }

    /**
     * Returning what a process holds can pass the maximum too, once another process's gift has
     * filled what is free: BASE is then above the maximum, and the return is refused unchanged.
     */
    @Test
    void aReturnPastTheMaximumAfterAnotherProcesssGiftIsRefusedAndChangesNothing() {
        Process a = first(2, SlotPermits.MAX_PERMITS), b = join();
        assertTrue(a.permits.tryTake(10, true));
        b.permits.give(10);                              // a gift: free is back at the maximum
        assertEquals(SlotPermits.MAX_PERMITS, b.permits.available());
        Error e = assertThrows(Error.class, () -> a.permits.give(10));
        assertEquals("Maximum permit count exceeded", e.getMessage());
        assertEquals(SlotPermits.MAX_PERMITS, b.permits.available(), "nothing changed");
        assertEquals(10, a.permits.held(), "a still holds its 10");
        assertTrue(b.permits.tryTake(10, true));
        a.permits.give(10);                              // room again: the return goes through
        assertEquals(SlotPermits.MAX_PERMITS, b.permits.available());
        assertEquals(0, a.permits.held());
    }

    /**
     * Processes, several threads each, take and give 1..3 permits in a loop while some die holding
     * permits and are replaced, and a survivor recovers them: no take ever exceeds the permits, and
     * at the end exactly the permits plus the gifts are free.
     */
    @Test
    void chaosWithDeathsConservesEveryPermit() throws Exception {
        int permits = 4, slots = 8;
        Process survivor = first(slots, permits);
        AtomicLong inUse = new AtomicLong();
        AtomicReference<String> failure = new AtomicReference<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        int generations = 0;
        while (System.nanoTime() < deadline && failure.get() == null) {
            List<Process> procs = new ArrayList<>();
            List<Thread> threads = new ArrayList<>();
            List<AtomicLong> heldByProcess = new ArrayList<>();
            for (int p = 0; p < 3; p++) {
                Process proc = join();
                procs.add(proc);
                AtomicLong mine = new AtomicLong();
                heldByProcess.add(mine);
                for (int t = 0; t < 2; t++) {
                    SlotPermits view = proc.permits;
                    threads.add(Thread.ofPlatform().start(() -> {
                        ThreadLocalRandom r = ThreadLocalRandom.current();
                        for (int i = 0; i < 20_000; i++) {
                            int n = 1 + r.nextInt(3);
                            if (!view.tryTake(n)) continue;
                            mine.addAndGet(n);
                            if (inUse.addAndGet(n) > permits + giftsSoFar.get()) {
                                failure.compareAndSet(null, "overcommit: " + inUse.get() + " in use");
                            }
                            if (r.nextInt(2_000) == 0) break;   // "dies" holding them: never gives them back
                            inUse.addAndGet(-n);
                            mine.addAndGet(-n);
                            view.give(n);
                        }
                    }));
                }
            }
            for (Thread t : threads) t.join();
            // Each process either dies (holding what its threads kept) or gives back and leaves.
            for (int p = 0; p < procs.size(); p++) {
                long kept = heldByProcess.get(p).get();
                inUse.addAndGet(-kept);           // a dead process's holdings stop being in use with it
                if ((generations + p) % 2 == 0) {
                    procs.get(p).die();
                } else {
                    if (kept > 0) procs.get(p).permits.give(kept);
                    procs.get(p).permits.close();
                }
            }
            if (generations % 5 == 0) {           // a gift now and then
                survivor.permits.give(1);
                giftsSoFar.incrementAndGet();
            }
            survivor.permits.recoverAll();
            generations++;
        }
        assertNull(failure.get());
        assertTrue(generations > 3, "only " + generations + " generations");
        long gifts = giftsSoFar.get();
        assertEquals(permits + gifts, survivor.permits.available(), "after " + generations + " generations");
        for (int j = 0; j < slots; j++) {
            if (j != survivor.permits.slot()) assertEquals(0, SlotPermits.held(survivor.permits.slotWord(j)), "slot " + j);
        }
        assertTrue(survivor.permits.tryTake(permits + gifts));
    }


    @Test
    void aWaitingTakeGivesWayToALiveProcessWithAnEarlierTicket() {
        Process a = first(4, 1), b = join(), c = join();
        long ta = a.permits.newTicket(), tb = b.permits.newTicket();
        assertTrue(ta < tb, "tickets are ordered as the waits began");
        b.permits.publishTurn(tb);
        a.permits.publishTurn(ta);
        b.permits.waiting(true);                          // b's waiter sleeps on its doorbell
        assertFalse(b.permits.tryTake(1), "b's waiter began later: a takes first");
        assertEquals(1, b.permits.available(), "giving way changes nothing");
        assertTrue(c.permits.tryTake(1), "a process without a turn does not wait for turns");
        c.permits.give(1);
        int ringsOfB = rings[b.permits.slot()].get();
        assertTrue(a.permits.tryTake(1), "the earliest ticket takes");
        a.permits.publishTurn(-1);                         // a's waiter has its permit
        assertTrue(rings[b.permits.slot()].get() > ringsOfB, "a's turn cleared: b, which gave way, is rung");
        assertFalse(b.permits.tryTake(1), "no permit is free now");
        a.permits.give(1);
        assertTrue(b.permits.tryTake(1), "b's turn is the smallest now");
    }

    @Test
    void aTurnCountsOnlyWhileItsOwnerLivesAndNobodyElseWaitsForIt() {
        Process a = first(4, 1), b = join();
        a.permits.publishTurn(a.permits.newTicket());
        b.permits.publishTurn(b.permits.newTicket());
        int slotA = a.permits.slot();
        a.die();
        assertTrue(b.permits.tryTake(1), "a died waiting: its turn is nobody's, and its slot is recovered");
        Process d = join();
        assertEquals(slotA, d.permits.slot(), "the newcomer takes over the dead slot");
        b.permits.give(1);
        b.permits.publishTurn(-1);
        Process e = join();
        e.permits.publishTurn(e.permits.newTicket());
        assertTrue(e.permits.tryTake(1), "the dead owner's earlier turn did not pass to the slot's live new owner");
    }

    @Test
    void aBargingTakeIgnoresTurns() {
        Process a = first(4, 1), b = join();
        a.permits.publishTurn(a.permits.newTicket());
        b.permits.publishTurn(b.permits.newTicket());
        assertTrue(b.permits.tryTake(1, true), "a barging take backs off for WAITING bits, not for turns");
    }

    @Test
    void aTurnThatRisesRingsAndOneThatFallsDoesNot() {
        Process a = first(4, 1), b = join();
        int slotB = b.permits.slot();
        b.permits.waiting(true);
        a.permits.publishTurn(5);
        int before = rings[slotB].get();
        a.permits.publishTurn(3);
        assertEquals(before, rings[slotB].get(), "an earlier turn lets nobody go");
        a.permits.publishTurn(7);
        assertEquals(before + 1, rings[slotB].get(), "a later one may");
    }

    @Test
    void theHolderOfTheGatherRightTakesWhateverItsTurnAndAProcessThatWouldGiveWayIsNotReady() {
        Process a = first(4, 2), b = join();
        long tb = b.permits.newTicket(), ta = a.permits.newTicket();
        b.permits.publishTurn(tb);                        // b's waiter, asking for 2, began first
        a.permits.publishTurn(ta);
        assertFalse(a.permits.mayTake(), "a would give way to b's earlier turn: its watch is not ready");
        assertTrue(b.permits.mayTake(), "b's turn is the earliest");
        assertTrue(a.permits.tryClaimGatherRight(), "a gathers (b waits for the right, which a holds)");
        assertTrue(a.permits.mayTake(), "the gather right's holder does not wait for b, which waits for it");
        assertTrue(a.permits.tryTake(1), "else a and b would wait for each other");
        a.permits.give(1);
        a.permits.releaseGatherRight();
        assertFalse(a.permits.tryTake(1), "without the right, a gives way again");
    }
}
