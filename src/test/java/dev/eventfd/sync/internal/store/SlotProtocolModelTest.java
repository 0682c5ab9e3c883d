package dev.eventfd.sync.internal.store;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * An explicit-state model checker for the slot protocol of {@link SlotPermits}, layout version 4 (its
 * implementation overview states the protocol and its invariant): every interleaving of a few
 * simulated processes doing acquire(n), release(n) (also beyond what they hold), waiting, dying at any
 * step, recovering dead slots and claiming a recovered slot again, explored breadth-first with a
 * visited set.
 *
 * <p><b>The model.</b> Shared memory is what the segment holds: the base word, and per slot its word
 * (LIVE, WAITING, HINT, generation, KEPT, CACHED), its INFLIGHT word, its liveness lock (the OFD lock
 * byte: free, or held by its process until it dies) and its doorbell (an eventfd counter, as a flag:
 * rings coalesce and a read clears it). Each step is one atomic access of the real code (a
 * {@code getAndAdd}, a CAS, a volatile read; each read of a slot word or of an INFLIGHT word is a
 * step of its own) or one lock or doorbell operation; memory is sequentially consistent, as Java's
 * volatile and atomic accesses are. A CAS that the real code retries until it succeeds or its
 * condition no longer holds is one step, taken on the word as it is. Two reads are folded into the
 * step after them because no other process can change what they read: the own word's failed test
 * for a cached take or give (only the owner can make one possible again) and a pool take's look at
 * its own cache when it is empty (only the owner fills it); a process's sums likewise count its own
 * slot from what it knows (only it, a claimant of its dead slot and a recoverer write its KEPT and
 * INFLIGHT). A process may die between any two of its steps (its lock is then free and its slot
 * words stay as they were). A recoverer stands for any surviving process: at any time it may read a
 * LIVE slot's word, test its lock, and CAS the word to FREE (KEPT and CACHED go with it; INFLIGHT
 * stays behind in its own word, counted by nobody while the word is FREE, until a claimant zeroes
 * it). A replacement process claims slot 0 once its first owner has died.
 *
 * <p><b>The operations</b>, as the semaphore calls the store: an acquire tries the cached take (one
 * CAS of the own word, from a LIVE word of its generation with WAITING and HINT clear and CACHED at
 * least n), and otherwise the pool take: return the own cache to the pool, add n to the own
 * INFLIGHT, read every other slot (INFLIGHT, then the word) and BASE; if the pool is not overdrawn,
 * move n to KEPT and then off INFLIGHT, look whether a permit is free (every slot's INFLIGHT and
 * word, then BASE) and ring the waiters if one is (between the two moves the n counted twice, so a
 * contender may have backed off then and rung nobody), and settle HINT as a give does if the move
 * found it set; else take every cache it saw back to the pool and read again (twice at most), and
 * failing that back off, look in the same way and ring the waiters if a permit is free (its own
 * doorbell too if it waits). Then it
 * waits: sets its WAITING bit, sets HINT in every other LIVE slot, tries once more, and sleeps on its
 * doorbell; once it holds it clears its WAITING bit. A release tries the cached give (one CAS, from
 * such a word with KEPT at least n and room in the cache), and otherwise gives to the pool: one CAS
 * takes {@code k = min(n, KEPT)} off KEPT and the whole cache with it if WAITING or HINT is set, the
 * rest goes to BASE as a gift, and it rings the waiters; if HINT was set and no other slot waits, it
 * clears HINT, reads the WAITING bits again, and sets HINT again and rings if one is set. A claimant
 * takes the lock, zeroes INFLIGHT, CASes the word to LIVE of a new generation, reads the other
 * slots' WAITING bits and sets its own HINT if one waits, and rings if it took over a dead owner's
 * LIVE word or zeroed an INFLIGHT a dead owner left. (That last ring is modelled but no cast shows
 * what it prevents: it takes a dead taker, two waiters that fail for each other and the claimant,
 * four processes, tens of millions of states; {@code SlotPermitsTest} shows the ring.)
 *
 * <p><b>Invariants</b>, in every state: no overcommit (the permits the live processes believe they
 * hold plus the permits cached in LIVE slots, which nobody holds, never exceed the initial permits
 * plus the permits given beyond holdings); each live process's slot is LIVE with its generation, its
 * KEPT is exactly what the process believes it holds and its INFLIGHT what a take in progress has
 * added; a FREE slot keeps and caches nothing. A final state is one where every process is done
 * (perhaps with permits in its cache), dead, or asleep with a silent doorbell while fewer permits are
 * free (the pool plus every cache) than it asks for (a legitimate wait), every dead slot recovered:
 * there the base is the initial permits plus the gifts, no LIVE slot has anything in flight, and the
 * pool is not overdrawn.
 *
 * <p><b>The gather right.</b> In the gather casts a process claims the right, takes its permits one
 * at a time, and gives the right back, as the semaphore's feed does for a multi-permit waiter. A claim
 * reads GATHER, the word of the slot it names and that slot's lock, recovers a dead holder's slot (which
 * returns what it gathered) and CASes GATHER to its own; while a live process holds the right it waits
 * as for permits (its waiting bit, HINT in every other LIVE slot, a look, its doorbell), and the holder
 * rings the waiters when it gives the right back. Two more checks: no two processes hold the right at
 * once, and no final state has two gatherers each holding part of what the other needs.
 *
 * <p><b>Turns.</b> In the fair casts every acquire that does not take from its cache takes a ticket
 * (one step) and publishes it as its slot's turn (another), and each attempt first reads the other
 * slots' turns: one that is smaller, on a LIVE slot whose lock is held, makes it give way (set its
 * waiting bit, or sleep). Once it holds, it clears its turn and rings the waiters. The progress check
 * then also shows that giving way never strands a waiter, and a claimant zeroes the turn a dead owner
 * left.
 * From every reachable state a final state stays reachable <em>without a death</em> (a death is the
 * adversary's move, never the rescue): a state from which none is reachable (a lost wake-up, a permit
 * lost to a death or left in a cache while a process waits for it, two waiters each backed off for
 * the other) is reported with its shortest trace.
 */
class SlotProtocolModelTest {

    // ------------------------------------------------------------------ the tests

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void faithfulModelOfTheSlotProtocolHasNoViolation() {
        long total = 0;
        StringBuilder failures = new StringBuilder();
        for (Config c : casts(Variant.FAITHFUL)) {
            Result r = check(c);
            System.out.println(r.summary());
            total += r.states;
            assertTrue(r.states > c.sanityFloor, c.name + ": only " + r.states + " states explored");
            assertTrue(r.finals > 0, c.name + ": no final state reached");
            if (!r.violations.isEmpty()) failures.append(r.report());
        }
        System.out.println("slot protocol model: " + total + " states explored in all");
        if (!failures.isEmpty()) fail("The slot protocol model has violations:\n" + failures);
    }

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkerFindsTheDefectOfEveryBrokenVariant() {
        Map<Variant, String> expected = new LinkedHashMap<>();
        expected.put(Variant.CHECK_BEFORE_ADD, "overcommit");
        expected.put(Variant.GIFT_BEFORE_HELD, "overcommit");
        expected.put(Variant.NO_RECHECK_AFTER_WAIT_BIT, "no final state reachable");
        expected.put(Variant.RECOVERY_RINGS_NOBODY, "no final state reachable");
        expected.put(Variant.RECOVERY_IGNORES_GENERATION, "slot of a live process");
        expected.put(Variant.CLAIM_BEFORE_LOCK, "slot of a live process");
        expected.put(Variant.RELEASE_RINGS_NOBODY, "no final state reachable");
        expected.put(Variant.RECOVERY_RINGS_ONLY_IF_HELD, "no final state reachable");
        expected.put(Variant.BACK_OFF_RINGS_NOBODY, "no final state reachable");
        expected.put(Variant.TURN_CLEAR_RINGS_NOBODY, "no final state reachable");
        expected.put(Variant.CLAIM_KEEPS_TURN, "no final state reachable");
        expected.put(Variant.NO_GATHER_RIGHT, "gather deadlock");
        expected.put(Variant.GATHER_RIGHT_KEPT_BY_THE_DEAD, "no final state reachable");
        expected.put(Variant.GATHER_RIGHT_IGNORES_GENERATION, "no final state reachable");
        expected.put(Variant.GATHER_RIGHT_RELEASE_RINGS_NOBODY, "no final state reachable");
        expected.put(Variant.GATHER_RIGHT_WRITTEN_NOT_CASED, "two gatherers");
        expected.put(Variant.CACHED_GIVE_IGNORES_HINT, "no final state reachable");
        expected.put(Variant.POOL_TAKE_STEALS_NO_CACHE, "no final state reachable");
        expected.put(Variant.HINT_AFTER_RETRY, "no final state reachable");
        expected.put(Variant.CLAIM_LOOKS_FOR_NO_WAITER, "no final state reachable");
        expected.put(Variant.HINT_CLEARED_BLINDLY, "no final state reachable");
        expected.put(Variant.INFLIGHT_OFF_BEFORE_KEPT, "overcommit");
        expected.put(Variant.SUM_READS_WORD_FIRST, "overcommit");
        expected.put(Variant.CLAIM_KEEPS_INFLIGHT, "slot of a live process");
        expected.put(Variant.KEEP_RINGS_NOBODY, "no final state reachable");
        for (Map.Entry<Variant, String> e : expected.entrySet()) {
            boolean found = false;
            List<String> seen = new ArrayList<>();
            for (Config c : casts(e.getKey())) {
                // No traces (unless -Dmodel.traces=true), and done at the defect if it is a safety one.
                boolean traces = Boolean.getBoolean("model.traces");
                Result r = new Checker(c, traces, e.getValue()).run();
                System.out.println(traces && !r.violations.isEmpty() ? r.report() : r.summary());
                seen.addAll(r.violations.keySet());
                if (r.violations.keySet().stream().anyMatch(k -> k.startsWith(e.getValue()))) {
                    found = true;
                    break;
                }
            }
            assertTrue(found, e.getKey() + ": expected a violation '" + e.getValue() + "', found " + seen);
        }
    }

    // ------------------------------------------------------------------ configuration

    enum Variant {
        /** The protocol as {@link SlotPermits} implements it. */
        FAITHFUL,
        /** acquire sums the slots and then adds its own, with no second look. */
        CHECK_BEFORE_ADD,
        /** release adds the part beyond its holding to the base before taking its holding off the slot. */
        GIFT_BEFORE_HELD,
        /** a waiter that sets its waiting bit (and its hints) sleeps without trying once more. */
        NO_RECHECK_AFTER_WAIT_BIT,
        /** a recovery rings no doorbell. */
        RECOVERY_RINGS_NOBODY,
        /** a recovery rings only when it returned permits (a process can die between its release and its ring). */
        RECOVERY_RINGS_ONLY_IF_HELD,
        /** an acquire that backs off rings nobody (two contenders can each back off for the other and sleep). */
        BACK_OFF_RINGS_NOBODY,
        /** a release to the pool rings no doorbell. */
        RELEASE_RINGS_NOBODY,
        /** the recovery CAS compares the word but for the generation. */
        RECOVERY_IGNORES_GENERATION,
        /** a claimant writes LIVE before taking the slot's liveness lock. */
        CLAIM_BEFORE_LOCK,
        /** a process whose turn clears rings nobody (those that gave way for it sleep on). */
        TURN_CLEAR_RINGS_NOBODY,
        /** a claimant keeps the turn the slot's dead owner published. */
        CLAIM_KEEPS_TURN,
        /** multi-permit gatherers take no gather right (each may hold part of what the other needs). */
        NO_GATHER_RIGHT,
        /** a claimant of the gather right takes any holder for alive (a dead holder keeps it). */
        GATHER_RIGHT_KEPT_BY_THE_DEAD,
        /** a claimant of the gather right checks its holder's slot, not the generation it names. */
        GATHER_RIGHT_IGNORES_GENERATION,
        /** giving the gather right back rings nobody (a process waiting for it sleeps on). */
        GATHER_RIGHT_RELEASE_RINGS_NOBODY,
        /** a claimant writes GATHER instead of a CAS from the value it read. */
        GATHER_RIGHT_WRITTEN_NOT_CASED,
        /** the cached give ignores HINT (a waiter sleeps while the permit sits in a cache). */
        CACHED_GIVE_IGNORES_HINT,
        /** a pool take that finds the pool overdrawn never takes the caches back (a waiter sleeps beside a cache). */
        POOL_TAKE_STEALS_NO_CACHE,
        /** a waiter sets HINT in the other slots after its retry instead of before (a cached give between is missed). */
        HINT_AFTER_RETRY,
        /** a claimant does not look for waiters after its CAS (its cached gives ring nobody). */
        CLAIM_LOOKS_FOR_NO_WAITER,
        /** a give clears HINT without reading the WAITING bits again (a waiter's HINT is lost). */
        HINT_CLEARED_BLINDLY,
        /** a pool take takes its permits off INFLIGHT before it moves them to KEPT (a sum between misses them). */
        INFLIGHT_OFF_BEFORE_KEPT,
        /** a sum reads a slot's word before its INFLIGHT (a take moving its permits between is missed). */
        SUM_READS_WORD_FIRST,
        /** a claimant does not zero INFLIGHT (a dead owner's takes in flight stay in the new owner's slot). */
        CLAIM_KEEPS_INFLIGHT,
        /**
         * a pool take that holds does not look for a free permit (a contender that backed off while the take's
         * permits counted twice, in INFLIGHT and in KEPT, sleeps beside a free permit).
         */
        KEEP_RINGS_NOBODY,
    }

    /** An operation of a process's script. */
    record Op(char kind, int n) {
        static Op acquire(int n) { return new Op('A', n); }
        static Op release(int n) { return new Op('R', n); }
        static Op claim() { return new Op('C', 0); }
        /** Claims the gather right, waiting while a live process holds it. */
        static Op gather() { return new Op('G', 0); }
        /** Gives the gather right back. */
        static Op ungather() { return new Op('U', 0); }
        @Override public String toString() {
            return switch (kind) {
                case 'A' -> "acquire(" + n + ")";
                case 'R' -> "release(" + n + ")";
                case 'G' -> "claim the gather right";
                case 'U' -> "give the gather right back";
                default -> "claim()";
            };
        }
    }

    /**
     * @param scripts one per process; process i owns slot i, except the replacement (the last script
     *                when {@code replacement}) which claims slot 0 after process 0 died
     * @param deaths  how many processes may die in one run
     */
    record Config(String name, Variant variant, int initial, Op[][] scripts, boolean replacement, int deaths, int sanityFloor,
                  boolean fair) {
        Config(String name, Variant variant, int initial, Op[][] scripts, boolean replacement, int deaths, int sanityFloor) {
            this(name, variant, initial, scripts, replacement, deaths, sanityFloor, false);
        }

        int processes() { return scripts.length; }
        int slots() { return replacement ? scripts.length - 1 : scripts.length; }
    }

    /** The most permits a cache holds (SlotPermits.MAX_CACHED is far more; the casts never fill this one). */
    static final int MAX_CACHED = 3;
    /** How many times a pool take takes the caches back and reads again before it backs off. */
    static final int STEAL_ROUNDS = 2;

    private static List<Config> casts(Variant v) {
        List<Config> list = new ArrayList<>();
        Op a1 = Op.acquire(1), a2 = Op.acquire(2), r1 = Op.release(1), r2 = Op.release(2);
        // Two contenders for two permits, one giving a permit beyond what it holds (its first release
        // goes to its cache, its second is a gift); a replacement claims the first one's slot after it
        // dies (a recovery racing the claim, stale generations, INFLIGHT left by the dead).
        list.add(new Config("2 processes + replacement, 2 permits, " + v, v, 2,
                new Op[][] {{a2, r2}, {a1, r1, r1}, {Op.claim(), a1, r1}}, true, 2, 2_000));
        // Two multi-permit contenders for three permits: each can back off for the other, and each
        // may find the other's two permits in its cache.
        list.add(new Config("2 x acquire(2), 3 permits, " + v, v, 3,
                new Op[][] {{a2, r2}, {a2, r2}}, false, 1, 1_000));
        if (Boolean.getBoolean("model.fullCast")) {
            // Three processes, two multi-permit (millions of states, minutes).
            list.add(new Config("3 processes, 2 permits, " + v, v, 2,
                    new Op[][] {{a2, r2}, {a1, r1}, {a1, r1}}, false, 1, 100_000));
            list.add(new Config("3 processes, 3 permits, " + v, v, 3,
                    new Op[][] {{a2, r2}, {a2, r2}, {a1, r1}}, false, 1, 100_000));
        }
        // One permit, a holder and a waiter; the holder may die holding it. The one done first leaves
        // the permit in its cache, and the other must take it from there (perhaps after waiting); a
        // release whose cached give loses its CAS to the waiter's HINT must ring it.
        list.add(new Config("holder and waiter, 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1}, {a1, r1}}, false, 1, 100));
        // One permit used twice by each: cached takes after cached gives, steals racing them, a
        // HINT that outlives its waiter and is cleared while the other begins to wait again.
        list.add(new Config("cache: 2 x twice acquire(1), release(1), 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1, a1, r1}, {a1, r1, a1, r1}}, false, 1, 1_000));
        // A replacement takes over the holder's slot while the other waits: the claimant must find
        // the waiter (its own HINT), or its cached give would leave the waiter asleep.
        list.add(new Config("replacement takes and caches beside a waiter, 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1}, {a1, r1}, {Op.claim(), a1, r1}}, true, 1, 1_000));
        // Fair processes: turns. Two for one permit (one may die waiting with its turn published), and
        // two plus a replacement that claims the first one's slot after it dies, and stays without a turn.
        list.add(new Config("fair: 2 processes, 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1}, {a1, r1}}, false, 1, 200, true));
        // Two permits, kept: the one that gave way must be rung when the other's turn clears.
        list.add(new Config("fair: 2 processes keeping 2 permits, " + v, v, 2,
                new Op[][] {{a1}, {a1}}, false, 1, 100, true));
        list.add(new Config("fair: 2 processes + replacement, 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1}, {a1, r1}, {Op.claim()}}, true, 1, 500, true));
        // Gatherers: each gathers two permits one at a time, holding the gather right meanwhile (as the
        // semaphore's feed does for a multi-permit waiter); either may die holding the right and part
        // of the permits.
        Op g = Op.gather(), u = Op.ungather();
        list.add(new Config("gather: 2 gatherers of 2, 2 permits, " + v, v, 2,
                new Op[][] {{g, a1, a1, u, r2}, {g, a1, a1, u, r2}}, false, 1, 500));
        // The right's holder dies and a replacement claims its slot (a new generation) and gathers too.
        // A gatherer beside a process that takes one permit at a time without the right.
        list.add(new Config("gather: a gatherer of 2 and a taker of 1, 2 permits, " + v, v, 2,
                new Op[][] {{g, a1, a1, u, r2}, {a1, r1}}, false, 1, 500));
        // Gatherers that keep what they gathered: the second is woken only by the right coming back.
        list.add(new Config("gather: 2 gatherers keeping 2 of 4 permits, " + v, v, 4,
                new Op[][] {{g, a1, a1, u}, {g, a1, a1, u}}, false, 1, 500));
        list.add(new Config("gather: 2 gatherers + replacement, 1 permit, " + v, v, 1,
                new Op[][] {{g, a1, u, r1}, {g, a1, u, r1}, {Op.claim(), g, a1, u, r1}}, true, 1, 500));
        // Two takers that keep their permit: one may back off while the other's permit counts twice (in
        // INFLIGHT and in KEPT) and sleep; the other's keep must look for a free permit and ring it.
        list.add(new Config("2 processes keeping a permit each, 2 permits, " + v, v, 2,
                new Op[][] {{a1}, {a1}}, false, 1, 100));
        // Nothing at first: the permit comes only from a release beyond holdings (a gift).
        list.add(new Config("gift to a waiter, 0 permits, " + v, v, 0,
                new Op[][] {{a1}, {r1}}, false, 1, 20));
        return list;
    }

    // ------------------------------------------------------------------ the state

    // Per slot: its word (state FREE 0 / LIVE 1, WAITING, HINT, generation, KEPT, CACHED), its INFLIGHT
    // word, its lock (0 free, else process + 1), its doorbell, its turn (0, or ticket + 1).
    static final int S_STATE = 0, S_WAIT = 1, S_HINT = 2, S_GEN = 3, S_KEPT = 4, S_CACHED = 5, S_INFL = 6,
            S_LOCK = 7, S_BELL = 8, S_TURN = 9, SLOT_W = 10;
    // Per process: status, op index, pc, accumulator, index, scratch, belief (permits its threads hold),
    // in flight (added to its INFLIGHT by a take not yet moved to KEPT or backed off), generation it owns,
    // ticket (0 none, else ticket + 1) of the acquire in progress (fair casts).
    // P_RIGHT: 1 while it believes it holds the gather right; P_GSLOT, P_GGEN: the GATHER value a claim read
    // (slot + 1, generation); P_SNAP, P_SNAP2: a slot word as a CAS expects it (see pack); P_TMP: the INFLIGHT
    // a sum read of the slot whose word it reads next; P_MASK: the other slots whose caches the sum saw;
    // P_ROUND: how many times the take took the caches back; P_FLAG: a give's HINT as its CAS found it
    // (bit 0) and whether its ring found another process waiting (bit 1), or, in HINT_AFTER_RETRY, that an
    // acquire's hints are still to be set. P_KEEP: a pool take that holds, bit 0 while it looks for a free
    // permit after its move to KEPT, bit 1 if that move's CAS found HINT set (it settles HINT next).
    static final int P_STATUS = 0, P_OP = 1, P_PC = 2, P_ACC = 3, P_IDX = 4, P_K = 5, P_BELIEF = 6, P_FLIGHT = 7,
            P_GEN = 8, P_TICKET = 9, P_RIGHT = 10, P_GSLOT = 11, P_GGEN = 12, P_SNAP = 13, P_SNAP2 = 14,
            P_TMP = 15, P_MASK = 16, P_ROUND = 17, P_FLAG = 18, P_KEEP = 19, PROC_W = 20;
    static final int NOT_STARTED = 0, RUNNING = 1, DONE = 2, DEAD = 3;
    // Recoverer: pc, slot, the word it read (packed in two), scan index.
    static final int R_PC = 0, R_SLOT = 1, R_W = 2, R_W2 = 3, R_IDX = 4, REC_W = 5;
    // Globals: base, gifts (permits given beyond holdings, counted where the release commits them), deaths,
    // the next ticket.
    // GATHER: 0, or its holder's slot + 1 and generation.
    static final int G_BASE = 0, G_GIFTS = 1, G_DEATHS = 2, G_TICKETS = 3, G_GATHER = 4, G_GATHER_GEN = 5, GLOBAL_W = 6;

    record Result(String name, long states, long finals, Map<String, String> violations) {
        String summary() {
            return String.format("%s: %,d states, %,d final, %s", name, states, finals,
                    violations.isEmpty() ? "no violation" : violations.size() + " kinds of violation");
        }

        String report() {
            StringBuilder sb = new StringBuilder(summary()).append('\n');
            violations.forEach((k, t) -> sb.append(k).append("\nshortest trace:\n").append(t).append('\n'));
            return sb.toString();
        }
    }

    /** Explores without labels (fast); if anything is found, again with them for the traces. */
    static Result check(Config c) {
        Result r = new Checker(c, false, null).run();
        return r.violations.isEmpty() ? r : new Checker(c, true, null).run();
    }

    static final class Checker {
        final Config c;
        final int slotBase, procBase, recBase, width;
        final Map<Key, Integer> index = new HashMap<>();
        final List<byte[]> states = new ArrayList<>();
        final List<Integer> parent = new ArrayList<>();
        final List<String> label = new ArrayList<>();
        int[] edgeFrom = new int[1 << 16], edgeTo = new int[1 << 16];
        boolean[] edgeDeath = new boolean[1 << 16];
        int edges;
        final Map<String, String> violations = new LinkedHashMap<>();
        long finals;
        private int current;
        private final List<int[]> successors = new ArrayList<>();
        private final List<String> successorLabels = new ArrayList<>();
        private final List<Boolean> successorDeaths = new ArrayList<>();

        final boolean labels;

        /** A violation whose kind starts with this ends the exploration (null: explore everything). */
        final String stopOn;
        boolean stopped;

        Checker(Config c, boolean labels, String stopOn) {
            this.c = c;
            this.labels = labels;
            this.stopOn = stopOn;
            slotBase = GLOBAL_W;
            procBase = slotBase + c.slots() * SLOT_W;
            recBase = procBase + c.processes() * PROC_W;
            width = recBase + REC_W;
        }

        record Key(byte[] b) {
            @Override public boolean equals(Object o) { return o instanceof Key k && Arrays.equals(b, k.b); }
            @Override public int hashCode() { return Arrays.hashCode(b); }
        }

        int sl(int j, int f) { return slotBase + j * SLOT_W + f; }
        int pr(int p, int f) { return procBase + p * PROC_W + f; }
        int rc(int f) { return recBase + f; }
        int slotOf(int p) { return c.replacement && p == c.processes() - 1 ? 0 : p; }

        Result run() {
            int[] init = new int[width];
            init[G_BASE] = c.initial;
            for (int p = 0; p < c.processes(); p++) {
                boolean isReplacement = c.replacement && p == c.processes() - 1;
                init[pr(p, P_STATUS)] = isReplacement ? NOT_STARTED : RUNNING;
                if (!isReplacement) {               // a process that opened the store: slot LIVE, lock held
                    init[sl(p, S_STATE)] = 1;
                    init[sl(p, S_GEN)] = 1;
                    init[sl(p, S_LOCK)] = p + 1;
                    init[pr(p, P_GEN)] = 1;
                }
            }
            add(init, -1, "start");
            ArrayDeque<Integer> queue = new ArrayDeque<>();
            queue.add(0);
            while (!queue.isEmpty() && !stopped) {
                current = queue.poll();
                int[] s = unpack(states.get(current));
                successors.clear();
                successorLabels.clear();
                successorDeaths.clear();
                expand(s);
                if (isFinal(s)) checkFinal(s);
                else if (successors.isEmpty()) violateHere("stuck: nothing can move", s);
                for (int i = 0; i < successors.size(); i++) {
                    int[] t = successors.get(i);
                    checkInvariants(t, i);
                    int before = states.size();
                    int id = add(t, current, successorLabels.get(i));
                    edge(current, id, successorDeaths.get(i));
                    if (id == before) queue.add(id);
                }
            }
            if (!stopped) checkProgress();
            return new Result(c.name, states.size(), finals, violations);
        }

        int add(int[] s, int from, String how) {
            byte[] b = new byte[width];
            for (int i = 0; i < width; i++) b[i] = (byte) s[i];
            Key k = new Key(b);
            Integer id = index.get(k);
            if (id != null) return id;
            index.put(k, states.size());
            states.add(b);
            parent.add(from);
            if (labels) label.add(how);
            return states.size() - 1;
        }

        int[] unpack(byte[] b) {
            int[] s = new int[width];
            for (int i = 0; i < width; i++) s[i] = b[i];
            return s;
        }

        void edge(int from, int to, boolean death) {
            if (edges == edgeFrom.length) {
                edgeFrom = Arrays.copyOf(edgeFrom, edges * 2);
                edgeTo = Arrays.copyOf(edgeTo, edges * 2);
                edgeDeath = Arrays.copyOf(edgeDeath, edges * 2);
            }
            edgeFrom[edges] = from;
            edgeDeath[edges] = death;
            edgeTo[edges++] = to;
        }

        /** A successor; its label is built only when a trace is wanted (the second, labelled run). */
        void emit(int[] t, Supplier<String> how) {
            successors.add(t);
            successorLabels.add(labels ? how.get() : null);
            successorDeaths.add(false);
        }

        /** A death: the progress check never counts on one (a death must not be what wakes a waiter). */
        void emitDeath(int[] t, Supplier<String> how) {
            emit(t, how);
            successorDeaths.set(successorDeaths.size() - 1, true);
        }

        // -------------------------------------------------------------- transitions

        void expand(int[] s) {
            for (int q = 0; q < c.processes(); q++) {
                int p = q;
                int status = s[pr(p, P_STATUS)];
                if (status == NOT_STARTED && s[pr(0, P_STATUS)] == DEAD) {
                    int[] t = s.clone();
                    t[pr(p, P_STATUS)] = RUNNING;
                    emit(t, () -> "P" + p + " starts");
                }
                if (status != RUNNING) continue;
                step(s, p);
                if (s[G_DEATHS] < c.deaths && !(c.replacement && p == c.processes() - 1 && s[pr(p, P_OP)] == 0 && s[pr(p, P_PC)] == 0)) {
                    int[] t = s.clone();
                    for (int f = 0; f < PROC_W; f++) t[pr(p, f)] = 0;   // what it knew dies with it
                    t[pr(p, P_STATUS)] = DEAD;
                    t[G_DEATHS]++;
                    int j = slotOf(p);
                    if (t[sl(j, S_LOCK)] == p + 1) t[sl(j, S_LOCK)] = 0;   // the kernel drops its OFD lock
                    emitDeath(t, () -> "P" + p + " dies");
                }
            }
            recoverer(s);
        }

        /** One step of process p. */
        void step(int[] s, int p) {
            Op[] script = c.scripts[p];
            int op = s[pr(p, P_OP)];
            if (op == script.length) {
                int[] t = s.clone();
                t[pr(p, P_STATUS)] = DONE;
                emit(t, () -> "P" + p + " done");
                return;
            }
            Op o = script[op];
            switch (o.kind) {
                case 'A' -> acquire(s, p, o.n);
                case 'R' -> release(s, p, o.n);
                case 'G' -> gather(s, p);
                case 'U' -> ungather(s, p);
                default -> claim(s, p);
            }
        }

        void next(int[] t, int p) {
            t[pr(p, P_OP)]++;
            t[pr(p, P_PC)] = 0;
            t[pr(p, P_ACC)] = 0;
            t[pr(p, P_IDX)] = 0;
            t[pr(p, P_K)] = 0;
            t[pr(p, P_GSLOT)] = 0;
            t[pr(p, P_GGEN)] = 0;
            t[pr(p, P_SNAP)] = 0;
            t[pr(p, P_SNAP2)] = 0;
            t[pr(p, P_TMP)] = 0;
            t[pr(p, P_MASK)] = 0;
            t[pr(p, P_ROUND)] = 0;
            t[pr(p, P_FLAG)] = 0;
            t[pr(p, P_KEEP)] = 0;
        }

        // -------------------------------------------------------------- the slot word

        /** Slot j's word as one number (what a CAS compares): wait, state, hint, kept, cached, generation. */
        int pack(int[] s, int j) {
            return ((((s[sl(j, S_GEN)] * 8 + s[sl(j, S_CACHED)]) * 8 + s[sl(j, S_KEPT)]) * 2 + s[sl(j, S_HINT)]) * 2
                    + s[sl(j, S_STATE)]) * 2 + s[sl(j, S_WAIT)];
        }

        static int packedKept(int w) { return (w >> 3) & 7; }
        static int packedCached(int w) { return (w >> 6) & 7; }
        static int packedState(int w) { return (w >> 1) & 1; }
        static int packedGen(int w) { return w >> 9; }

        /** Stores a packed word in two registers (the state is kept in bytes). */
        static void store(int[] t, int lo, int hi, int w) {
            t[lo] = w & 127;
            t[hi] = w >> 7;
        }

        static int load(int[] s, int lo, int hi) { return s[lo] | s[hi] << 7; }

        /** Whether process p's own word allows a cached take of n: LIVE, its generation, WAITING and HINT clear, CACHED >= n. */
        boolean cachedTakeAllowed(int[] s, int p, int n) {
            int me = slotOf(p);
            return s[sl(me, S_STATE)] == 1 && s[sl(me, S_GEN)] == s[pr(p, P_GEN)] && s[sl(me, S_WAIT)] == 0
                    && s[sl(me, S_HINT)] == 0 && s[sl(me, S_CACHED)] >= n;
        }

        /** Whether process p's own word allows a cached give of n, but for the room in the cache. */
        boolean cachedGiveAllowedButRoom(int[] s, int p, int n) {
            int me = slotOf(p);
            return s[sl(me, S_STATE)] == 1 && s[sl(me, S_GEN)] == s[pr(p, P_GEN)] && s[sl(me, S_WAIT)] == 0
                    && (s[sl(me, S_HINT)] == 0 || c.variant == Variant.CACHED_GIVE_IGNORES_HINT) && s[sl(me, S_KEPT)] >= n;
        }

        // -------------------------------------------------------------- acquire

        // pc: 0 an attempt: the cached take, else (fair) the ticket and the turns, else the pool take;
        //     10 the pool take: return the own cache (to 11) or add to INFLIGHT; 11 add to INFLIGHT;
        //     1 read slot IDX's INFLIGHT, 12 its word; 2 read the base and decide; 13 move n to KEPT,
        //     15 take them off INFLIGHT; 14 take slot IDX's cache back to the pool; 3 back off;
        //     8 look at slot IDX's INFLIGHT, 16 its word; 9 the base: is anything free?; 7 ring (if so);
        //     4 set the waiting bit, 17 set HINT in slot IDX; 18 (HINT_AFTER_RETRY) the hints, late;
        //     5 clear the waiting bit; 6 sleep on the doorbell; 20-23, 31-34 turns (fair casts)
        void acquire(int[] s, int p, int n) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " acquire(" + n + ")";
            boolean checkFirst = c.variant == Variant.CHECK_BEFORE_ADD;
            boolean wordFirst = c.variant == Variant.SUM_READS_WORD_FIRST;
            if (pc == 0 && cachedTakeAllowed(s, p, n)) {   // tryTakeCached: one CAS of the own word
                t[sl(me, S_CACHED)] -= n;
                t[sl(me, S_KEPT)] += n;
                t[pr(p, P_BELIEF)] += n;
                next(t, p);
                emit(t, () -> who + ": cached take, CACHED -= " + n + ", KEPT += " + n);
                return;
            }
            if (c.fair && pc == 0) {                 // an attempt of a fair process: its ticket, then the turns
                if (s[pr(p, P_TICKET)] == 0) {
                    t[pr(p, P_TICKET)] = s[G_TICKETS] + 1;   // getAndAdd(TICKETS, 1)
                    t[G_TICKETS]++;
                    t[pr(p, P_PC)] = 31;
                    emit(t, () -> who + ": takes ticket " + s[G_TICKETS]);
                } else {
                    t[pr(p, P_PC)] = 20;
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": looks at the turns");
                }
                return;
            }
            switch (pc) {
                case 31 -> {
                    t[sl(me, S_TURN)] = s[pr(p, P_TICKET)];   // publishTurn: TURN = ticket + 1
                    t[pr(p, P_PC)] = 20;
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": publishes its turn");
                }
                case 20 -> {                     // read slot IDX's turn
                    int j = s[pr(p, P_IDX)];
                    int turn = s[sl(j, S_TURN)];
                    boolean earlier = turn != 0 && turn < s[pr(p, P_TICKET)];
                    if (earlier) t[pr(p, P_PC)] = 22;
                    else turnScanNext(t, p, j, me);
                    emit(t, () -> who + ": turn of slot " + j + " is " + turn + (earlier ? ", earlier" : ""));
                }
                case 22 -> {                     // then its word: only a LIVE slot's turn counts
                    int j = s[pr(p, P_IDX)];
                    boolean live = s[sl(j, S_STATE)] == 1;
                    if (live) t[pr(p, P_PC)] = 21;
                    else turnScanNext(t, p, j, me);
                    emit(t, () -> who + ": slot " + j + (live ? " is LIVE" : " is FREE"));
                }
                case 21 -> {                     // then its lock: a dead owner's turn counts for nothing
                    int j = s[pr(p, P_IDX)];
                    boolean lives = s[sl(j, S_LOCK)] != 0;
                    if (lives) t[pr(p, P_PC)] = 23;
                    else turnScanNext(t, p, j, me);
                    emit(t, () -> who + ": slot " + j + "'s owner " + (lives ? "lives" : "is dead"));
                }
                case 23 -> {                     // and the turn again: a claimant zeroed it before its CAS
                    int j = s[pr(p, P_IDX)];
                    int turn = s[sl(j, S_TURN)];
                    boolean earlier = turn != 0 && turn < s[pr(p, P_TICKET)];
                    if (earlier) toWait(t, p);
                    else turnScanNext(t, p, j, me);
                    emit(t, () -> who + (earlier ? ": gives way to slot " + j : ": slot " + j + "'s turn is gone"));
                }
                case 32 -> {                     // holds: clears its turn (publishTurn(-1)), then rings
                    t[sl(me, S_TURN)] = 0;
                    t[pr(p, P_TICKET)] = 0;
                    t[pr(p, P_IDX)] = first(me);
                    if (c.variant == Variant.TURN_CLEAR_RINGS_NOBODY) t[pr(p, P_PC)] = 34;
                    else t[pr(p, P_PC)] = 33;
                    emit(t, () -> who + ": clears its turn");
                }
                case 33 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);
                    if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else t[pr(p, P_PC)] = 34;
                    emit(t, () -> who + (ring ? ": rings slot " + j + " (its turn cleared)" : ": slot " + j + " not waiting"));
                }
                case 34 -> {
                    if (s[sl(me, S_WAIT)] == 1) t[pr(p, P_PC)] = 5;
                    else next(t, p);
                    emit(t, () -> who + ": done with its turn");
                }
                case 0, 10 -> {                  // tryTake: first return the own cache to the pool
                    int cached = s[sl(me, S_CACHED)];
                    if (cached > 0) {            // CAS(own word, CACHED = 0)
                        t[sl(me, S_CACHED)] = 0;
                        t[pr(p, P_PC)] = 11;
                        emit(t, () -> who + ": returns its cache (" + cached + ") to the pool");
                    } else {                     // (the cache is empty: only the owner fills it)
                        addInflight(s, t, p, n, me);
                        emit(t, () -> who + (checkFirst ? " begins" : ": INFLIGHT += " + n));
                    }
                }
                case 11 -> {
                    addInflight(s, t, p, n, me);
                    emit(t, () -> who + (checkFirst ? " begins" : ": INFLIGHT += " + n));
                }
                case 1 -> {                      // the sum: slot IDX's INFLIGHT, then its word
                    int j = s[pr(p, P_IDX)];
                    if (wordFirst) {             // broken: the word first
                        boolean live = s[sl(j, S_STATE)] == 1;
                        t[pr(p, P_TMP)] = live ? 1 + s[sl(j, S_KEPT)] + s[sl(j, S_CACHED)] : 0;
                        if (live && s[sl(j, S_CACHED)] > 0) t[pr(p, P_MASK)] |= 1 << j;
                        t[pr(p, P_PC)] = 12;
                        emit(t, () -> who + ": reads slot " + j + "'s word (" + wordLabel(s, j) + ")");
                        return;
                    }
                    t[pr(p, P_TMP)] = s[sl(j, S_INFL)];
                    t[pr(p, P_PC)] = 12;
                    emit(t, () -> who + ": reads slot " + j + "'s INFLIGHT (" + s[sl(j, S_INFL)] + ")");
                }
                case 12 -> {
                    int j = s[pr(p, P_IDX)];
                    if (wordFirst) {
                        if (s[pr(p, P_TMP)] > 0) t[pr(p, P_ACC)] += s[pr(p, P_TMP)] - 1 + s[sl(j, S_INFL)];
                    } else if (s[sl(j, S_STATE)] == 1) {
                        t[pr(p, P_ACC)] += s[pr(p, P_TMP)] + s[sl(j, S_KEPT)] + s[sl(j, S_CACHED)];
                        if (s[sl(j, S_CACHED)] > 0) t[pr(p, P_MASK)] |= 1 << j;
                    }
                    t[pr(p, P_TMP)] = 0;
                    scanNext(t, p, j, me, 1, 2);
                    emit(t, () -> who + (wordFirst ? ": reads slot " + j + "'s INFLIGHT (" + s[sl(j, S_INFL)] + ")"
                            : ": reads slot " + j + "'s word (" + wordLabel(s, j) + ")"));
                }
                case 2 -> {
                    int sum = s[pr(p, P_ACC)] + (checkFirst ? n : 0);
                    int mask = s[pr(p, P_MASK)];
                    t[pr(p, P_ACC)] = 0;
                    t[pr(p, P_MASK)] = 0;
                    if (s[G_BASE] - sum >= 0) {
                        t[pr(p, P_ROUND)] = 0;
                        if (checkFirst) {        // broken: the add and the keep at once, after the sum
                            t[sl(me, S_KEPT)] += n;
                            t[pr(p, P_BELIEF)] += n;
                            finishTake(t, p);
                        } else {
                            t[pr(p, P_PC)] = c.variant == Variant.INFLIGHT_OFF_BEFORE_KEPT ? 15 : 13;
                        }
                        emit(t, () -> who + ": base " + s[G_BASE] + " - " + sum + " >= 0");
                    } else if (!checkFirst && mask != 0 && s[pr(p, P_ROUND)] < STEAL_ROUNDS
                            && c.variant != Variant.POOL_TAKE_STEALS_NO_CACHE) {
                        t[pr(p, P_MASK)] = mask;
                        t[pr(p, P_IDX)] = Integer.numberOfTrailingZeros(mask);
                        t[pr(p, P_PC)] = 14;
                        emit(t, () -> who + ": base " + s[G_BASE] + " - " + sum + " < 0, takes the caches back");
                    } else {
                        t[pr(p, P_ROUND)] = 0;
                        if (checkFirst) toWait(t, p);
                        else t[pr(p, P_PC)] = 3;
                        emit(t, () -> who + ": base " + s[G_BASE] + " - " + sum + " < 0");
                    }
                }
                case 13 -> {                     // CAS(own word, KEPT + n)
                    t[sl(me, S_KEPT)] += n;
                    t[pr(p, P_BELIEF)] += n;
                    t[pr(p, P_KEEP)] = s[sl(me, S_HINT)] == 1 ? 2 : 0;
                    if (c.variant == Variant.INFLIGHT_OFF_BEFORE_KEPT) finishTake(t, p);
                    else t[pr(p, P_PC)] = 15;
                    emit(t, () -> who + ": KEPT += " + n + ", holds");
                }
                case 15 -> {                     // getAndAdd(own INFLIGHT, -n)
                    t[sl(me, S_INFL)] -= n;
                    t[pr(p, P_FLIGHT)] = 0;
                    if (c.variant == Variant.INFLIGHT_OFF_BEFORE_KEPT) {
                        t[pr(p, P_PC)] = 13;
                    } else if (c.variant == Variant.KEEP_RINGS_NOBODY) {
                        afterKeep(t, p);
                    } else {                     // between the two its n counted twice: look, as a back-off would have
                        t[pr(p, P_KEEP)] |= 1;
                        lookForAFreePermit(t, p, me);
                    }
                    emit(t, () -> who + ": INFLIGHT -= " + n);
                }
                case 14 -> {                     // CAS(slot IDX's word, CACHED = 0) if it still caches
                    int j = s[pr(p, P_IDX)];
                    int cached = s[sl(j, S_CACHED)];
                    boolean take = s[sl(j, S_STATE)] == 1 && cached > 0;
                    if (take) t[sl(j, S_CACHED)] = 0;
                    int rest = s[pr(p, P_MASK)] & ~(1 << j);
                    if (rest != 0) {
                        t[pr(p, P_MASK)] = rest;
                        t[pr(p, P_IDX)] = Integer.numberOfTrailingZeros(rest);
                    } else {                     // and read again
                        t[pr(p, P_MASK)] = 0;
                        t[pr(p, P_ROUND)]++;
                        t[pr(p, P_IDX)] = first(me);
                        t[pr(p, P_PC)] = 1;
                        t[pr(p, P_ACC)] = ownHolding(t, me);
                    }
                    emit(t, () -> who + (take ? ": takes slot " + j + "'s cache (" + cached + ") back to the pool"
                            : ": slot " + j + "'s cache is gone"));
                }
                case 3 -> {
                    t[sl(me, S_INFL)] -= n;      // getAndAdd(own INFLIGHT, -n)
                    t[pr(p, P_FLIGHT)] = 0;
                    if (c.variant == Variant.BACK_OFF_RINGS_NOBODY) toWait(t, p);
                    else lookForAFreePermit(t, p, me);
                    emit(t, () -> who + ": backs off, INFLIGHT -= " + n);
                }
                case 8 -> {                      // after the back-off or the keep, is anything free (the pool or a cache)?
                    int j = s[pr(p, P_IDX)];
                    t[pr(p, P_TMP)] = s[sl(j, S_INFL)];
                    t[pr(p, P_PC)] = 16;
                    emit(t, () -> who + ": looks at slot " + j + "'s INFLIGHT (" + s[sl(j, S_INFL)] + ")");
                }
                case 16 -> {
                    int j = s[pr(p, P_IDX)];
                    if (s[sl(j, S_STATE)] == 1) t[pr(p, P_ACC)] += s[pr(p, P_TMP)] + s[sl(j, S_KEPT)];
                    t[pr(p, P_TMP)] = 0;
                    scanNext(t, p, j, me, 8, 9);
                    emit(t, () -> who + ": looks at slot " + j + "'s word (" + wordLabel(s, j) + ")");
                }
                case 9 -> {                      // then the base: rings only if a permit is free
                    int free = s[G_BASE] - s[pr(p, P_ACC)];
                    boolean ring = free > 0;
                    t[pr(p, P_ACC)] = 0;
                    if (ring) {
                        t[pr(p, P_PC)] = 7;
                        t[pr(p, P_IDX)] = first(me);
                        // ringWaiters rings every WAITING slot, the ringer's own too: a process that waits
                        // and backed off for a take that is no more (or the one the others give way to)
                        // must look again itself.
                        if (s[sl(me, S_WAIT)] == 1) t[sl(me, S_BELL)] = 1;
                    } else {
                        lookDone(t, p);
                    }
                    boolean keeping = (s[pr(p, P_KEEP)] & 1) != 0;
                    emit(t, () -> who + ": " + free + " free after its " + (keeping ? "keep" : "back-off") + (ring ? ", rings" : ""));
                }
                case 7 -> {                      // a back-off is a release: another contender may have backed off for it
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);
                    if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else lookDone(t, p);
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                case 40 -> {                     // settleHint: does another process wait?
                    int j = s[pr(p, P_IDX)];
                    boolean waits = s[sl(j, S_WAIT)] == 1;
                    if (waits) finishTake(t, p);
                    else if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else t[pr(p, P_PC)] = 41;
                    emit(t, () -> who + ": slot " + j + (waits ? " waits, HINT stays" : " not waiting"));
                }
                case 41, 42, 43, 44 -> settleHint(s, t, p, me, pc - 41, 41, who);
                case 4 -> {
                    t[sl(me, S_WAIT)] = 1;       // Dekker pair "doorbell", waiter side: the bits, then the look
                    if (c.variant == Variant.HINT_AFTER_RETRY) {
                        t[pr(p, P_FLAG)] = 1;
                        t[pr(p, P_PC)] = 0;
                    } else {
                        t[pr(p, P_PC)] = 17;
                        t[pr(p, P_IDX)] = first(me);
                    }
                    emit(t, () -> who + ": sets its waiting bit");
                }
                case 17, 18 -> {                 // CAS(slot IDX's word, HINT) if it is LIVE: pair "hint", waiter side
                    int j = s[pr(p, P_IDX)];
                    if (hintStep(s, t, p, me)) {
                        t[pr(p, P_FLAG)] = 0;
                        t[pr(p, P_PC)] = pc == 18 || c.variant == Variant.NO_RECHECK_AFTER_WAIT_BIT ? 6 : 0;
                    }
                    emit(t, () -> who + hintLabel(s, j));
                }
                case 5 -> {
                    t[sl(me, S_WAIT)] = 0;
                    next(t, p);
                    emit(t, () -> who + ": clears its waiting bit");
                }
                case 6 -> {
                    if (s[sl(me, S_BELL)] == 0) return;   // parked: enabled once the doorbell rings
                    t[sl(me, S_BELL)] = 0;               // read(doorbell) clears it
                    t[pr(p, P_PC)] = 0;
                    emit(t, () -> who + ": woken by its doorbell");
                }
                default -> throw new AssertionError(pc);
            }
        }

        /** The pool take's add to its own INFLIGHT; the sum starts from its own slot, as the process knows it. */
        void addInflight(int[] s, int[] t, int p, int n, int me) {
            if (c.variant != Variant.CHECK_BEFORE_ADD) {
                t[sl(me, S_INFL)] += n;         // getAndAdd(own INFLIGHT, n): Dekker pair "sum", taker side
                t[pr(p, P_FLIGHT)] = n;
            }
            t[pr(p, P_PC)] = 1;
            t[pr(p, P_IDX)] = first(me);
            t[pr(p, P_ACC)] = ownHolding(t, me);
            t[pr(p, P_MASK)] = 0;
        }

        /** The own slot's holding: KEPT + CACHED + INFLIGHT. */
        int ownHolding(int[] t, int me) {
            return t[sl(me, S_KEPT)] + t[sl(me, S_CACHED)] + t[sl(me, S_INFL)];
        }

        /** A take holds its permits: a fair process clears its turn, a waiting one its waiting bit. */
        void finishTake(int[] t, int p) {
            int me = slotOf(p);
            if (c.fair) {
                t[pr(p, P_PC)] = 32;
                t[pr(p, P_IDX)] = 0;
            } else if (t[sl(me, S_WAIT)] == 1) {
                t[pr(p, P_PC)] = 5;
                t[pr(p, P_IDX)] = 0;
            } else {
                next(t, p);
            }
        }

        /** A take that failed waits: sets its waiting bit (and hints) first, or sleeps if it has. */
        void toWait(int[] t, int p) {
            int me = slotOf(p);
            t[pr(p, P_IDX)] = 0;
            if (t[sl(me, S_WAIT)] == 0) {
                t[pr(p, P_PC)] = 4;
            } else if (t[pr(p, P_FLAG)] == 1) {   // HINT_AFTER_RETRY: the hints after the retry
                t[pr(p, P_PC)] = 18;
                t[pr(p, P_IDX)] = first(me);
            } else {
                t[pr(p, P_PC)] = 6;
            }
        }

        /**
         * A waiter's CAS of HINT into slot IDX's word if it is LIVE (pair "hint", waiter side), and the move
         * to the next other slot: true once it was the last (IDX is then 0).
         */
        boolean hintStep(int[] s, int[] t, int p, int me) {
            int j = s[pr(p, P_IDX)];
            if (s[sl(j, S_STATE)] == 1) t[sl(j, S_HINT)] = 1;
            boolean last = after(j, me) >= c.slots();
            t[pr(p, P_IDX)] = last ? 0 : after(j, me);
            return last;
        }

        String hintLabel(int[] s, int j) {
            return s[sl(j, S_STATE)] == 1 ? ": sets HINT in slot " + j : ": slot " + j + " is FREE, no HINT";
        }

        /** A sum moves on from slot {@code j}: to the next other slot at {@code pcNext}, or, once all are read, to BASE at {@code pcBase}. */
        void scanNext(int[] t, int p, int j, int me, int pcNext, int pcBase) {
            boolean last = after(j, me) == c.slots();
            t[pr(p, P_IDX)] = last ? 0 : after(j, me);
            t[pr(p, P_PC)] = last ? pcBase : pcNext;
        }

        /** The look of a back-off or a keep for a free permit: every other slot (INFLIGHT, then the word), then BASE. */
        void lookForAFreePermit(int[] t, int p, int me) {
            t[pr(p, P_PC)] = 8;
            t[pr(p, P_IDX)] = first(me);
            t[pr(p, P_ACC)] = t[sl(me, S_KEPT)] + t[sl(me, S_INFL)];   // its own slot, as it knows it
        }

        /** The look (and its ring) is done: a back-off goes on to wait, a keep to holding. */
        void lookDone(int[] t, int p) {
            if ((t[pr(p, P_KEEP)] & 1) == 0) {
                toWait(t, p);
            } else {
                t[pr(p, P_KEEP)] &= ~1;
                afterKeep(t, p);
            }
        }

        /** A take holds, and has looked for a free permit: it settles its HINT if its move found one set (keep's settleHint). */
        void afterKeep(int[] t, int p) {
            boolean hint = (t[pr(p, P_KEEP)] & 2) != 0;
            t[pr(p, P_KEEP)] = 0;
            if (hint) {
                t[pr(p, P_PC)] = 40;
                t[pr(p, P_IDX)] = first(slotOf(p));
            } else {
                finishTake(t, p);
            }
        }

        String wordLabel(int[] s, int j) {
            if (s[sl(j, S_STATE)] == 0) return "FREE";
            return "KEPT " + s[sl(j, S_KEPT)] + ", CACHED " + s[sl(j, S_CACHED)]
                    + (s[sl(j, S_WAIT)] == 1 ? ", WAITING" : "") + (s[sl(j, S_HINT)] == 1 ? ", HINT" : "");
        }

        // -------------------------------------------------------------- release

        // pc: 0 the cached give, else (in the same step: the test failed on a word only the owner can
        //     change back) the give's CAS; 1 the give's CAS: KEPT -= min(n, KEPT), the cache too if
        //     WAITING or HINT; 2 add the rest to the base; 3 ring slot IDX; 4 clear HINT (it was set
        //     and nobody else waits); 5 read slot IDX's WAITING bit again; 6 set HINT again; 7 ring it
        void release(int[] s, int p, int n) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " release(" + n + ")";
            boolean giftFirst = c.variant == Variant.GIFT_BEFORE_HELD;
            switch (pc) {
                case 0 -> {
                    if (cachedGiveAllowedButRoom(s, p, n)) {
                        if (s[sl(me, S_CACHED)] + n <= MAX_CACHED) {   // tryGiveCached: one CAS of the own word
                            t[sl(me, S_KEPT)] -= n;
                            t[sl(me, S_CACHED)] += n;
                            t[pr(p, P_BELIEF)] -= n;
                            next(t, p);
                            emit(t, () -> who + ": cached give, KEPT -= " + n + ", CACHED += " + n);
                        } else {                 // a steal may make room again: the test is a step of its own
                            t[pr(p, P_PC)] = 1;
                            emit(t, () -> who + ": no room in its cache");
                        }
                        return;
                    }
                    giveCas(s, t, p, n, me, who);
                }
                case 1 -> giveCas(s, t, p, n, me, who);
                case 2 -> {
                    int k = s[pr(p, P_K)];
                    if (giftFirst) {             // broken: the word's CAS after the gift
                        wordCas(s, t, p, k, me);
                        emit(t, () -> who + ": KEPT -= " + k + (cacheGoes(s, me) ? ", CACHED = 0" : ""));
                    } else {
                        t[G_BASE] += k;          // getAndAdd(base, k): a gift
                        t[G_GIFTS] += k;
                        emit(t, () -> who + ": base += " + k);
                    }
                    t[pr(p, P_K)] = 0;
                    t[pr(p, P_PC)] = 3;
                    t[pr(p, P_IDX)] = first(me);
                }
                case 3 -> {
                    int j = s[pr(p, P_IDX)];
                    // Dekker pair "doorbell", releaser side: the slot (or base) written, then the waiting bits read
                    boolean waits = s[sl(j, S_WAIT)] == 1;
                    if (waits) t[pr(p, P_FLAG)] |= 2;
                    boolean ring = c.variant != Variant.RELEASE_RINGS_NOBODY && ring(s, t, j, me);
                    if (after(j, me) < c.slots()) {
                        t[pr(p, P_IDX)] = after(j, me);
                    } else if (t[pr(p, P_FLAG)] == 1) {   // HINT was set, and nobody else waits
                        t[pr(p, P_PC)] = 4;
                        t[pr(p, P_IDX)] = 0;
                        t[pr(p, P_FLAG)] = 0;
                    } else {
                        next(t, p);
                    }
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + (waits ? " waits" : " not waiting")));
                }
                case 4, 5, 6, 7 -> settleHint(s, t, p, me, pc - 4, 4, who);
                default -> throw new AssertionError(pc);
            }
        }

        /**
         * A step of settleHint, once HINT was found set and no other process waiting ({@code phase} 0 clears
         * HINT, 1 reads slot IDX's WAITING bit again, 2 sets HINT again, 3 rings that slot), at pcs from
         * {@code pcBase}; a release then goes on to its next operation, an acquire to holding.
         */
        void settleHint(int[] s, int[] t, int p, int me, int phase, int pcBase, String who) {
            boolean acquire = c.scripts[p][s[pr(p, P_OP)]].kind == 'A';
            Runnable done = acquire ? () -> finishTake(t, p) : () -> next(t, p);
            switch (phase) {
                case 0 -> {                      // CAS(own word, HINT clear): pair "hint", owner side
                    t[sl(me, S_HINT)] = 0;
                    if (c.variant == Variant.HINT_CLEARED_BLINDLY) {
                        done.run();
                    } else {
                        t[pr(p, P_PC)] = pcBase + 1;
                        t[pr(p, P_IDX)] = first(me);
                    }
                    emit(t, () -> who + ": clears its HINT");
                }
                case 1 -> {                      // the WAITING bits again
                    int j = s[pr(p, P_IDX)];
                    boolean waits = s[sl(j, S_WAIT)] == 1;
                    if (waits) t[pr(p, P_PC)] = pcBase + 2;
                    else if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else done.run();
                    emit(t, () -> who + ": slot " + j + (waits ? " waits after all" : " not waiting"));
                }
                case 2 -> {
                    t[sl(me, S_HINT)] = 1;       // CAS(own word, HINT)
                    t[pr(p, P_PC)] = pcBase + 3;
                    emit(t, () -> who + ": sets its HINT again");
                }
                case 3 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = (acquire || c.variant != Variant.RELEASE_RINGS_NOBODY) && ring(s, t, j, me);
                    done.run();
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                default -> throw new AssertionError(phase);
            }
        }

        /** The give's first step: its word's CAS (or, GIFT_BEFORE_HELD, the gift of all n). */
        void giveCas(int[] s, int[] t, int p, int n, int me, String who) {
            int k = Math.min(n, s[sl(me, S_KEPT)]);
            if (c.variant == Variant.GIFT_BEFORE_HELD) {   // broken: the whole n to the base first, the holding later
                t[G_BASE] += n;
                t[G_GIFTS] += n - k;
                t[pr(p, P_K)] = k;
                t[pr(p, P_PC)] = 2;
                emit(t, () -> who + ": base += " + n);
                return;
            }
            wordCas(s, t, p, k, me);
            t[pr(p, P_K)] = n - k;
            t[pr(p, P_PC)] = n - k > 0 ? 2 : 3;
            t[pr(p, P_IDX)] = first(me);
            emit(t, () -> who + ": KEPT -= " + k + (cacheGoes(s, me) ? ", CACHED = 0" : "")
                    + (s[sl(me, S_HINT)] == 1 ? " (HINT set)" : ""));
        }

        /** CAS(own word): KEPT - k, and CACHED = 0 if WAITING or HINT is set; notes whether HINT was set. */
        void wordCas(int[] s, int[] t, int p, int k, int me) {
            t[sl(me, S_KEPT)] -= k;
            t[pr(p, P_BELIEF)] -= k;
            if (cacheGoes(s, me)) t[sl(me, S_CACHED)] = 0;
            t[pr(p, P_FLAG)] = s[sl(me, S_HINT)];
        }

        boolean cacheGoes(int[] s, int me) {
            return s[sl(me, S_WAIT)] == 1 || s[sl(me, S_HINT)] == 1;
        }

        // -------------------------------------------------------------- claim

        // pc: 0 take the lock, 1 zero INFLIGHT (when the dead owner left some), 2 read the word, 3 CAS it
        //     to LIVE(gen + 1), 4 read slot IDX's WAITING bit, 5 set the own HINT, 6 scan slot IDX and
        //     ring (after taking over a LIVE word), 9 (CLAIM_BEFORE_LOCK) the lock, last
        void claim(int[] s, int p) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " claim";
            boolean casFirst = c.variant == Variant.CLAIM_BEFORE_LOCK;
            // Zeroing INFLIGHT is a step only when there is something to zero: nobody else writes it
            // while the claimant holds the lock (its owner is dead).
            int afterLock = s[sl(me, S_INFL)] != 0 && c.variant != Variant.CLAIM_KEEPS_INFLIGHT ? 1 : 2;
            switch (pc) {
                case 0 -> {
                    if (casFirst) {
                        t[pr(p, P_PC)] = afterLock;
                        emit(t, () -> who + " begins");
                        return;
                    }
                    if (s[sl(me, S_LOCK)] != 0) return;  // F_OFD_SETLK fails: the owner lives; retried later
                    t[sl(me, S_LOCK)] = p + 1;
                    t[pr(p, P_PC)] = afterLock;
                    emit(t, () -> who + ": takes the lock of slot " + me);
                }
                case 1 -> {
                    t[sl(me, S_INFL)] = 0;       // getAndSet(INFLIGHT, 0): a stale one is owed a ring
                    t[pr(p, P_K)] = 2;
                    t[pr(p, P_PC)] = 2;
                    emit(t, () -> who + ": zeroes slot " + me + "'s INFLIGHT (was " + s[sl(me, S_INFL)] + ")");
                }
                case 2 -> {
                    store(t, pr(p, P_SNAP), pr(p, P_SNAP2), pack(s, me));
                    t[pr(p, P_PC)] = 3;
                    emit(t, () -> who + ": reads slot " + me + " (" + wordLabel(s, me) + ")");
                }
                case 3 -> {
                    int snap = load(s, pr(p, P_SNAP), pr(p, P_SNAP2));
                    if (pack(s, me) != snap) {
                        t[pr(p, P_PC)] = 2;
                        store(t, pr(p, P_SNAP), pr(p, P_SNAP2), 0);
                        emit(t, () -> who + ": CAS fails");
                        return;
                    }
                    int gen = packedGen(snap) + 1;
                    boolean wasLive = packedState(snap) == 1;
                    t[sl(me, S_STATE)] = 1;
                    t[sl(me, S_WAIT)] = 0;
                    t[sl(me, S_HINT)] = 0;
                    t[sl(me, S_GEN)] = gen;
                    t[sl(me, S_KEPT)] = 0;
                    t[sl(me, S_CACHED)] = 0;
                    t[sl(me, S_BELL)] = 0;           // its own doorbell: rings for the previous owner are not for it
                    if (c.variant != Variant.CLAIM_KEEPS_TURN) t[sl(me, S_TURN)] = 0;   // written before the CAS, as claim() does
                    t[pr(p, P_GEN)] = gen;
                    store(t, pr(p, P_SNAP), pr(p, P_SNAP2), 0);
                    t[pr(p, P_K)] = wasLive || s[pr(p, P_K)] == 2 ? 1 : 0;
                    if (casFirst) t[pr(p, P_PC)] = 9;
                    else lookForWaiters(t, p, me);
                    emit(t, () -> who + ": slot " + me + " LIVE gen " + gen + " (was " + wordLabel(s, me) + ")");
                }
                case 9 -> {                      // CLAIM_BEFORE_LOCK: the lock last
                    if (s[sl(me, S_LOCK)] != 0) return;
                    t[sl(me, S_LOCK)] = p + 1;
                    lookForWaiters(t, p, me);
                    emit(t, () -> who + ": takes the lock of slot " + me);
                }
                case 4 -> {                      // pair "joiner", claimant side: LIVE written, then the bits read
                    int j = s[pr(p, P_IDX)];
                    boolean waits = s[sl(j, S_WAIT)] == 1;
                    if (waits) t[pr(p, P_PC)] = 5;
                    else if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else ringIfTakenOver(t, p, me);
                    emit(t, () -> who + ": slot " + j + (waits ? " waits" : " not waiting"));
                }
                case 5 -> {
                    t[sl(me, S_HINT)] = 1;           // CAS(own word, HINT)
                    ringIfTakenOver(t, p, me);
                    emit(t, () -> who + ": sets its own HINT");
                }
                case 6 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);   // the dead owner's permits came back, or it owed a ring
                    if (after(j, me) == c.slots()) next(t, p);
                    else t[pr(p, P_IDX)] = after(j, me);
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                default -> throw new AssertionError(pc);
            }
        }

        void lookForWaiters(int[] t, int p, int me) {
            if (c.variant == Variant.CLAIM_LOOKS_FOR_NO_WAITER) {
                ringIfTakenOver(t, p, me);
            } else {
                t[pr(p, P_PC)] = 4;
                t[pr(p, P_IDX)] = first(me);
            }
        }

        /**
         * The claim is done, but for the ring it owes if it took over a dead owner's LIVE word, or zeroed the
         * INFLIGHT a dead owner left (a FREE slot's recoverer rang, but a sum may have counted that INFLIGHT
         * once more since).
         */
        void ringIfTakenOver(int[] t, int p, int me) {
            if (t[pr(p, P_K)] == 1 || c.variant == Variant.CLAIM_BEFORE_LOCK) {
                t[pr(p, P_PC)] = 6;
                t[pr(p, P_IDX)] = first(me);
            } else {
                next(t, p);
            }
        }

        /**
         * Claims the gather right ({@link SlotPermits#tryClaimGatherRight}), and while a live process holds
         * it, waits as the semaphore's watch for it does ({@link SharedSlotStore#watch}: the waiting bit, HINT
         * in every other LIVE slot, a look with {@link SlotPermits#gatherRightAvailable}, the doorbell).
         * pc: 0 read GATHER, 1 read the word of the slot it names (gatherHolderLive), 12 recover(j) reads
         *     the word again, 2 tests the slot's lock, 3 CASes the word it read to FREE, 4 rings slot IDX;
         *     5 CAS GATHER to its own; the watch: 6 drain the doorbell, 13 set the waiting bit, 14 set HINT
         *     in slot IDX (if LIVE), 7-9 look
         *     (GATHER, the word, the lock), 10 sleep. The bit stays set once the right is held, as the
         *     semaphore clears it only when its feed is done: the acquire that follows clears it.
         */
        void gather(int[] s, int p) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " claims the gather right";
            if (c.variant == Variant.NO_GATHER_RIGHT) {
                next(t, p);
                emit(t, () -> who + ": (none in this variant)");
                return;
            }
            boolean anyHolderLives = c.variant == Variant.GATHER_RIGHT_KEPT_BY_THE_DEAD;
            switch (pc) {
                case 0, 7 -> {
                    int gs = s[G_GATHER], gg = s[G_GATHER_GEN];
                    t[pr(p, P_GSLOT)] = gs;
                    t[pr(p, P_GGEN)] = gg;
                    boolean mine = gs == me + 1 && gg == s[pr(p, P_GEN)];
                    if (pc == 7) t[pr(p, P_PC)] = gs == 0 || mine ? 0 : 8;   // the look: free, so claim again
                    else if (mine) holdsRight(s, t, p, me);
                    else t[pr(p, P_PC)] = gs == 0 ? 5 : 1;
                    emit(t, () -> who + ": GATHER is " + (gs == 0 ? "free" : "slot " + (gs - 1) + " gen " + gg));
                }
                case 1, 8 -> {                   // gatherHolderLive: LIVE, in the generation GATHER names
                    int j = s[pr(p, P_GSLOT)] - 1;
                    boolean live = anyHolderLives || s[sl(j, S_STATE)] == 1
                            && (c.variant == Variant.GATHER_RIGHT_IGNORES_GENERATION || s[sl(j, S_GEN)] == s[pr(p, P_GGEN)]);
                    t[pr(p, P_PC)] = pc == 1 ? (live ? 12 : 5) : (live ? 9 : 0);
                    emit(t, () -> who + ": its holder's slot " + j + (live ? " is LIVE in that generation" : " is not"));
                }
                case 12 -> {                     // recover(j) reads the word afresh: what its CAS expects
                    int j = s[pr(p, P_GSLOT)] - 1;
                    store(t, pr(p, P_SNAP), pr(p, P_SNAP2), pack(s, j));
                    boolean live = s[sl(j, S_STATE)] == 1 || anyHolderLives;
                    t[pr(p, P_PC)] = live ? 2 : 6;   // FREE now: recover() returns false, and the claim fails
                    emit(t, () -> who + ": recovery reads slot " + j + (live ? "" : ": FREE"));
                }
                case 2, 9 -> {                   // heldByAnother: the holder lives while another holds the lock
                    int j = s[pr(p, P_GSLOT)] - 1;
                    boolean lives = anyHolderLives || s[sl(j, S_LOCK)] != 0 && s[sl(j, S_LOCK)] != p + 1;
                    if (pc == 9) t[pr(p, P_PC)] = lives ? 10 : 0;
                    else t[pr(p, P_PC)] = lives || j == me ? 6 : 3;   // recover(own slot) refuses: the claim fails
                    emit(t, () -> who + ": the lock of slot " + j + (lives ? " is held" : " is free"));
                }
                case 3 -> {                      // recover(j): CAS the word it read to FREE
                    int j = s[pr(p, P_GSLOT)] - 1, snap = load(s, pr(p, P_SNAP), pr(p, P_SNAP2));
                    boolean same = pack(s, j) == snap;
                    if (!same) {                 // a recoverer or claimant was first: the claim fails for now
                        t[pr(p, P_PC)] = 6;
                        emit(t, () -> who + ": recovery CAS of slot " + j + " fails");
                        return;
                    }
                    free(t, j);
                    t[pr(p, P_PC)] = 4;
                    t[pr(p, P_IDX)] = 0;
                    emit(t, () -> who + ": recovers slot " + j + " (returned " + (packedKept(snap) + packedCached(snap)) + ")");
                }
                case 4 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);
                    if (j + 1 == c.slots()) t[pr(p, P_PC)] = 5;
                    else t[pr(p, P_IDX)] = j + 1;
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                case 5 -> {
                    boolean same = c.variant == Variant.GATHER_RIGHT_WRITTEN_NOT_CASED
                            || s[G_GATHER] == s[pr(p, P_GSLOT)] && s[G_GATHER_GEN] == s[pr(p, P_GGEN)];
                    if (same) {
                        t[G_GATHER] = me + 1;
                        t[G_GATHER_GEN] = s[pr(p, P_GEN)];
                        holdsRight(s, t, p, me);
                    } else {
                        t[pr(p, P_PC)] = 0;
                    }
                    emit(t, () -> who + (same ? ": GATHER = slot " + me + ", holds it" : ": CAS of GATHER fails"));
                }
                case 6 -> {
                    t[sl(me, S_BELL)] = 0;       // watch(): rings before this are answered by the look
                    t[pr(p, P_PC)] = 13;
                    emit(t, () -> who + ": drains its doorbell");
                }
                case 13 -> {
                    t[sl(me, S_WAIT)] = 1;       // Dekker pair "doorbell", waiter side: the bits, then the look
                    t[pr(p, P_PC)] = 14;
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": sets its waiting bit");
                }
                case 14 -> {                     // the watch sets HINT in every other LIVE slot, as for permits
                    int j = s[pr(p, P_IDX)];
                    if (hintStep(s, t, p, me)) t[pr(p, P_PC)] = 7;
                    emit(t, () -> who + hintLabel(s, j));
                }
                case 10 -> {
                    if (s[sl(me, S_BELL)] == 0) return;   // parked until the doorbell rings
                    t[sl(me, S_BELL)] = 0;
                    t[pr(p, P_PC)] = 0;
                    emit(t, () -> who + ": woken by its doorbell");
                }
                default -> throw new AssertionError(pc);
            }
        }

        /** The claim succeeded: the process holds the right (its waiting bit, if set, stays set). */
        void holdsRight(int[] s, int[] t, int p, int me) {
            t[pr(p, P_RIGHT)] = 1;
            next(t, p);
        }

        /**
         * Gives the gather right back ({@link SlotPermits#releaseGatherRight}): CAS GATHER from its own
         * to 0, then ring the waiters (Dekker pair "doorbell", releaser side).
         * pc: 0 the CAS, 1 ring slot IDX
         */
        void ungather(int[] s, int p) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " gives the gather right back";
            switch (pc) {
                case 0 -> {
                    boolean mine = s[G_GATHER] == me + 1 && s[G_GATHER_GEN] == s[pr(p, P_GEN)];
                    t[pr(p, P_RIGHT)] = 0;
                    if (mine) {
                        t[G_GATHER] = 0;
                        t[G_GATHER_GEN] = 0;
                    }
                    if (mine && c.variant != Variant.GATHER_RIGHT_RELEASE_RINGS_NOBODY) {
                        t[pr(p, P_PC)] = 1;
                        t[pr(p, P_IDX)] = 0;
                    } else {
                        next(t, p);
                    }
                    emit(t, () -> who + (mine ? ": GATHER = 0" : ": not its own"));
                }
                case 1 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);
                    if (j + 1 == c.slots()) next(t, p);
                    else t[pr(p, P_IDX)] = j + 1;
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                default -> throw new AssertionError(pc);
            }
        }

        // pc: 0 idle (may read a LIVE slot's word), 1 test its lock, 2 CAS it to FREE, 3 scan and ring
        void recoverer(int[] s) {
            int pc = s[rc(R_PC)];
            int j = s[rc(R_SLOT)];
            switch (pc) {
                case 0 -> {
                    for (int slot = 0; slot < c.slots(); slot++) {
                        int k = slot;
                        if (s[sl(k, S_STATE)] != 1) continue;
                        int[] t = s.clone();
                        t[rc(R_PC)] = 1;
                        t[rc(R_SLOT)] = k;
                        store(t, rc(R_W), rc(R_W2), pack(s, k));
                        emit(t, () -> "R reads slot " + k + " (" + wordLabel(s, k) + ")");
                    }
                }
                case 1 -> {
                    int[] t = s.clone();
                    boolean free = s[sl(j, S_LOCK)] == 0;      // F_OFD_GETLK: F_UNLCK means the owner died
                    t[rc(R_PC)] = free ? 2 : 0;
                    if (!free) clearRecoverer(t);
                    emit(t, () -> "R tests the lock of slot " + j + (free ? ": free" : ": held"));
                }
                case 2 -> {
                    int[] t = s.clone();
                    int snap = load(s, rc(R_W), rc(R_W2));
                    int genMask = ~0 << 9;
                    boolean same = c.variant == Variant.RECOVERY_IGNORES_GENERATION
                            ? (pack(s, j) & ~genMask) == (snap & ~genMask) : pack(s, j) == snap;
                    if (!same) {
                        clearRecoverer(t);
                        emit(t, () -> "R: CAS of slot " + j + " fails");
                        return;
                    }
                    // Always ring: the dead process may have died between a release (or a back-off) and its ring.
                    int returned = packedKept(snap) + packedCached(snap);
                    boolean ring = c.variant == Variant.RECOVERY_RINGS_ONLY_IF_HELD
                            ? returned > 0 : c.variant != Variant.RECOVERY_RINGS_NOBODY;
                    free(t, j);
                    t[rc(R_PC)] = ring ? 3 : 0;
                    t[rc(R_IDX)] = 0;
                    store(t, rc(R_W), rc(R_W2), 0);
                    if (t[rc(R_PC)] == 0) clearRecoverer(t);
                    emit(t, () -> "R: slot " + j + " FREE (returned KEPT " + packedKept(snap) + ", CACHED "
                            + packedCached(snap) + ", INFLIGHT " + s[sl(j, S_INFL)] + ")");
                }
                case 3 -> {
                    int k = s[rc(R_IDX)];
                    int[] t = s.clone();
                    boolean ring = ring(s, t, k, -1);
                    if (k + 1 == c.slots()) clearRecoverer(t);
                    else t[rc(R_IDX)] = k + 1;
                    emit(t, () -> "R" + (ring ? " rings slot " + k : ": slot " + k + " not waiting"));
                }
                default -> throw new AssertionError(pc);
            }
        }

        /**
         * A recovery's CAS: slot j's word FREE (its generation kept; KEPT and CACHED gone with it), its
         * doorbell silent (nobody listens on a FREE slot's). Its INFLIGHT word stays as the dead owner left
         * it: nobody counts it while the word is FREE, and a claimant zeroes it before its CAS.
         */
        void free(int[] t, int j) {
            t[sl(j, S_STATE)] = 0;
            t[sl(j, S_WAIT)] = 0;
            t[sl(j, S_HINT)] = 0;
            t[sl(j, S_KEPT)] = 0;
            t[sl(j, S_CACHED)] = 0;
            t[sl(j, S_BELL)] = 0;
        }

        /** Rings slot j's doorbell in t if it waits (and is not {@code me}): one read of its word, one write. */
        boolean ring(int[] s, int[] t, int j, int me) {
            boolean ring = j != me && s[sl(j, S_WAIT)] == 1;
            if (ring) t[sl(j, S_BELL)] = 1;
            return ring;
        }

        /** The turn check moves on from slot {@code j}: to the next slot, or to the add once all are read. */
        void turnScanNext(int[] t, int p, int j, int me) {
            if (after(j, me) < c.slots()) {
                t[pr(p, P_IDX)] = after(j, me);
                t[pr(p, P_PC)] = 20;
            } else {
                t[pr(p, P_PC)] = 10;
            }
        }

        /** The first slot a scan by the owner of {@code me} reads, and the one after {@code j}: its own is skipped. */
        int first(int me) { return me == 0 ? 1 : 0; }
        int after(int j, int me) { return j + 1 == me ? j + 2 : j + 1; }

        void clearRecoverer(int[] t) {
            for (int f = 0; f < REC_W; f++) t[rc(f)] = 0;
        }

        // -------------------------------------------------------------- checks

        void checkInvariants(int[] t, int i) {
            int held = 0;
            for (int p = 0; p < c.processes(); p++) {
                int status = t[pr(p, P_STATUS)];
                if (status != RUNNING && status != DONE) continue;
                held += t[pr(p, P_BELIEF)];
                if (t[pr(p, P_GEN)] == 0) continue;             // a replacement that has not claimed yet
                int j = slotOf(p);
                if (t[sl(j, S_STATE)] != 1 || t[sl(j, S_GEN)] != t[pr(p, P_GEN)]) {
                    violate("slot of a live process is not its own: P" + p, t, i);
                } else if (t[sl(j, S_KEPT)] != t[pr(p, P_BELIEF)] || t[sl(j, S_INFL)] != t[pr(p, P_FLIGHT)]) {
                    violate("slot of a live process keeps " + t[sl(j, S_KEPT)] + " with " + t[sl(j, S_INFL)]
                            + " in flight, but it holds " + t[pr(p, P_BELIEF)] + " with " + t[pr(p, P_FLIGHT)]
                            + " in flight: P" + p, t, i);
                }
            }
            int cached = 0;
            for (int j = 0; j < c.slots(); j++) if (t[sl(j, S_STATE)] == 1) cached += t[sl(j, S_CACHED)];
            if (held + cached > c.initial + t[G_GIFTS]) {
                violate("overcommit: " + held + " held and " + cached + " cached of " + (c.initial + t[G_GIFTS]), t, i);
            }
            int gatherers = 0;
            for (int p = 0; p < c.processes(); p++) {
                int status = t[pr(p, P_STATUS)];
                if ((status == RUNNING || status == DONE) && t[pr(p, P_RIGHT)] == 1) gatherers++;
            }
            if (gatherers > 1) violate("two gatherers hold the gather right", t, i);
            for (int j = 0; j < c.slots(); j++) {
                if (t[sl(j, S_STATE)] == 0 && (t[sl(j, S_KEPT)] != 0 || t[sl(j, S_CACHED)] != 0)) {
                    violate("a FREE slot holds permits", t, i);
                }
            }
        }

        /** The permits free: the pool plus every cache, {@code BASE - Σ (KEPT + INFLIGHT)} over the LIVE slots. */
        int freePermits(int[] s) {
            int free = s[G_BASE];
            for (int j = 0; j < c.slots(); j++) if (s[sl(j, S_STATE)] == 1) free -= s[sl(j, S_KEPT)] + s[sl(j, S_INFL)];
            return free;
        }

        /**
         * Every process done (its cache perhaps full), dead, or asleep with its doorbell silent while fewer
         * permits are free (the pool plus every cache) than it asks for (a semaphore's legitimate wait); no
         * recovery in progress or owed.
         */
        boolean isFinal(int[] s) {
            int free = freePermits(s);
            for (int p = 0; p < c.processes(); p++) {
                int st = s[pr(p, P_STATUS)];
                if (st == RUNNING) {
                    Op[] script = c.scripts[p];
                    int op = s[pr(p, P_OP)];
                    boolean asleep = op < script.length && s[sl(slotOf(p), S_BELL)] == 0;
                    boolean waitsLegitimately = asleep && script[op].kind == 'A' && s[pr(p, P_PC)] == 6 && script[op].n > free
                            || asleep && script[op].kind == 'G' && s[pr(p, P_PC)] == 10 && rightHeldByAnotherLive(s, p);
                    if (!waitsLegitimately) return false;
                    continue;
                }
                if (st == NOT_STARTED && s[pr(0, P_STATUS)] == DEAD) return false;
            }
            if (s[rc(R_PC)] != 0) return false;
            for (int j = 0; j < c.slots(); j++) {
                if (s[sl(j, S_STATE)] == 1 && s[sl(j, S_LOCK)] == 0) return false;   // a dead slot not yet recovered
            }
            return true;
        }

        /** Whether GATHER names a LIVE slot, in its generation, whose lock another process holds. */
        boolean rightHeldByAnotherLive(int[] s, int p) {
            int j = s[G_GATHER] - 1;
            return j >= 0 && s[sl(j, S_STATE)] == 1 && s[sl(j, S_GEN)] == s[G_GATHER_GEN]
                    && s[sl(j, S_LOCK)] != 0 && s[sl(j, S_LOCK)] != p + 1;
        }

        /** Whether process p's current operation is an acquire between its gather right's claim and its return. */
        boolean gathering(int[] s, int p) {
            Op[] script = c.scripts[p];
            int op = s[pr(p, P_OP)];
            if (op >= script.length || script[op].kind != 'A') return false;
            for (int k = op - 1; k >= 0; k--) {
                if (script[k].kind == 'U') return false;
                if (script[k].kind == 'G') return true;
            }
            return false;
        }

        void checkFinal(int[] s) {
            finals++;
            finalStates.add(current);
            int stuckGatherers = 0;
            for (int p = 0; p < c.processes(); p++) {
                if (s[pr(p, P_STATUS)] == RUNNING && gathering(s, p) && s[pr(p, P_BELIEF)] > 0) stuckGatherers++;
            }
            if (stuckGatherers > 1) violateHere("gather deadlock: " + stuckGatherers + " gatherers each hold part of what the others need", s);
            if (s[G_BASE] != c.initial + s[G_GIFTS]) violateHere("final base " + s[G_BASE] + " != " + (c.initial + s[G_GIFTS]), s);
            int holding = 0, held = 0;
            for (int j = 0; j < c.slots(); j++) {
                if (s[sl(j, S_STATE)] != 1) continue;
                if (s[sl(j, S_INFL)] != 0) violateHere("final INFLIGHT " + s[sl(j, S_INFL)] + " in slot " + j, s);
                holding += s[sl(j, S_KEPT)] + s[sl(j, S_CACHED)] + s[sl(j, S_INFL)];
            }
            for (int p = 0; p < c.processes(); p++) {
                int st = s[pr(p, P_STATUS)];
                if (st == RUNNING || st == DONE) held += s[pr(p, P_BELIEF)];
            }
            if (holding > s[G_BASE]) violateHere("final pool overdrawn: " + holding + " kept and cached of " + s[G_BASE], s);
            int kept = 0;
            for (int j = 0; j < c.slots(); j++) if (s[sl(j, S_STATE)] == 1) kept += s[sl(j, S_KEPT)];
            if (kept != held) violateHere("final KEPT " + kept + " != " + held + " held", s);
        }

        final List<Integer> finalStates = new ArrayList<>();

        /** From every reachable state a final state must be reachable. */
        void checkProgress() {
            int n = states.size();
            int[] count = new int[n + 1];
            for (int e = 0; e < edges; e++) if (!edgeDeath[e]) count[edgeTo[e] + 1]++;
            for (int i = 0; i < n; i++) count[i + 1] += count[i];
            int[] rev = new int[edges];
            int[] fill = Arrays.copyOf(count, n);
            for (int e = 0; e < edges; e++) if (!edgeDeath[e]) rev[fill[edgeTo[e]]++] = edgeFrom[e];
            boolean[] good = new boolean[n];
            ArrayDeque<Integer> queue = new ArrayDeque<>();
            for (int f : finalStates) if (!good[f]) { good[f] = true; queue.add(f); }
            while (!queue.isEmpty()) {
                int x = queue.poll();
                for (int k = count[x]; k < count[x + 1]; k++) {
                    int y = rev[k];
                    if (!good[y]) { good[y] = true; queue.add(y); }
                }
            }
            for (int i = 0; i < n; i++) {
                if (!good[i]) {                  // BFS order: the first is one of the shortest
                    violations.putIfAbsent("no final state reachable", trace(i));
                    return;
                }
            }
        }

        void violate(String what, int[] t, int i) {
            String kind = what.replaceAll("[0-9]+", "#");
            if (violations.containsKey(kind)) return;
            if (stopOn != null && kind.startsWith(stopOn)) stopped = true;
            violations.put(kind, trace(current) + "  " + successorLabels.get(i) + "\n  => " + what + "\n");
        }

        void violateHere(String what, int[] s) {
            String kind = what.replaceAll("[0-9]+", "#");
            if (stopOn != null && kind.startsWith(stopOn)) stopped = true;
            violations.putIfAbsent(kind, trace(current) + "  => " + what + "\n");
        }

        String trace(int id) {
            if (!labels) return "";
            List<String> steps = new ArrayList<>();
            for (int x = id; x >= 0; x = parent.get(x)) steps.add(label.get(x));
            StringBuilder sb = new StringBuilder();
            for (int k = steps.size() - 1; k >= 0; k--) sb.append("  ").append(steps.get(k)).append('\n');
            return sb.toString();
        }
    }
}
