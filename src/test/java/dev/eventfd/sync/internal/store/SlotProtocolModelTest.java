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
 * An explicit-state model checker for the slot protocol of {@link SlotPermits} (its implementation
 * overview states the protocol and its invariant): every interleaving of a few simulated processes
 * doing acquire(n), release(n) (also beyond what they hold), waiting, dying at any step, recovering
 * dead slots and claiming a recovered slot again, explored breadth-first with a visited set.
 *
 * <p><b>The model.</b> Shared memory is what the segment holds: the base word, and per slot the
 * state, waiting bit, generation and held count of its one word, the slot's liveness lock (the OFD
 * lock byte: free, or held by its process until it dies) and its doorbell (an eventfd counter, as a
 * flag: rings coalesce and a read clears it). Each step is one atomic access of the real code (a
 * {@code getAndAdd}, a CAS, a volatile read) or one lock or doorbell operation; memory is sequentially
 * consistent, as Java's volatile and atomic accesses are. A process may die between any two of its
 * steps (its lock is then free and its slot word stays as it was). A recoverer stands for any
 * surviving process: at any time it may read a LIVE slot's word, test its lock, and CAS the word to
 * FREE. A replacement process claims slot 0 once its first owner has died.
 *
 * <p><b>Invariants</b>, in every state: no overcommit (the permits the live processes believe they
 * hold never exceed the initial permits plus the permits given beyond holdings); each live process's
 * slot is LIVE with its generation and holds exactly what the process believes it holds plus what an
 * acquire in progress has added; a FREE slot holds nothing. A final state is one where every process
 * is done, dead, or asleep with a silent doorbell while fewer permits are free than it asks for (a
 * legitimate wait), every dead slot recovered: there the base is the initial permits plus the gifts.
 *
 * <p><b>The gather right.</b> In the gather casts a process claims the right, takes its permits one
 * at a time, and gives the right back, as the semaphore's feed does for a multi-permit waiter. A claim
 * reads GATHER, the word of the slot it names and that slot's lock, recovers a dead holder's slot (which
 * returns what it gathered) and CASes GATHER to its own; while a live process holds the right it sets
 * its waiting bit, looks once more and sleeps on its doorbell, and the holder rings the waiters when it
 * gives the right back. Two more checks: no two processes hold the right at once, and no final state
 * has two gatherers each holding part of what the other needs.
 *
 * <p><b>Turns.</b> In the fair casts every acquire takes a ticket (one step) and publishes it as its
 * slot's turn (another), and each attempt first reads the other slots' turns: one that is smaller, on
 * a LIVE slot whose lock is held, makes it give way (set its waiting bit, or sleep). Once it holds, it
 * clears its turn and rings the waiters. The progress check then also shows that giving way never
 * strands a waiter, and a claimant zeroes the turn a dead owner left.
 * From every reachable state a final state stays reachable <em>without a death</em> (a death is the
 * adversary's move, never the rescue): a state from which none is reachable (a lost wake-up, a permit
 * lost to a death, two waiters each backed off for the other) is reported with its shortest trace.
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
        for (Map.Entry<Variant, String> e : expected.entrySet()) {
            boolean found = false;
            List<String> seen = new ArrayList<>();
            for (Config c : casts(e.getKey())) {
                Result r = check(c);
                System.out.println(r.summary());
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
        /** a waiter that sets its waiting bit sleeps without trying once more. */
        NO_RECHECK_AFTER_WAIT_BIT,
        /** a recovery rings no doorbell. */
        RECOVERY_RINGS_NOBODY,
        /** a recovery rings only when it returned permits (a process can die between its release and its ring). */
        RECOVERY_RINGS_ONLY_IF_HELD,
        /** an acquire that backs off rings nobody (two contenders can each back off for the other and sleep). */
        BACK_OFF_RINGS_NOBODY,
        /** a release rings no doorbell. */
        RELEASE_RINGS_NOBODY,
        /** the recovery CAS compares held, state and waiting bit, not the generation. */
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

    private static List<Config> casts(Variant v) {
        List<Config> list = new ArrayList<>();
        Op a1 = Op.acquire(1), a2 = Op.acquire(2), r1 = Op.release(1), r2 = Op.release(2);
        // Two contenders for two permits, one giving a permit beyond what it holds; a replacement
        // claims the first one's slot after it dies (a recovery racing the claim, stale generations).
        list.add(new Config("2 processes + replacement, 2 permits, " + v, v, 2,
                new Op[][] {{a2, r2}, {a1, r1, r1}, {Op.claim(), a1, r1}}, true, 2, 2_000));
        // Two multi-permit contenders for three permits: each can back off for the other.
        list.add(new Config("2 x acquire(2), 3 permits, " + v, v, 3,
                new Op[][] {{a2, r2}, {a2, r2}}, false, 1, 1_000));
        if (Boolean.getBoolean("model.fullCast")) {
            // Three processes, two multi-permit (millions of states, minutes).
            list.add(new Config("3 processes, 2 permits, " + v, v, 2,
                    new Op[][] {{a2, r2}, {a1, r1}, {a1, r1}}, false, 1, 100_000));
            list.add(new Config("3 processes, 3 permits, " + v, v, 3,
                    new Op[][] {{a2, r2}, {a2, r2}, {a1, r1}}, false, 1, 100_000));
        }
        // One permit, a holder and a waiter; the holder may die holding it.
        list.add(new Config("holder and waiter, 1 permit, " + v, v, 1,
                new Op[][] {{a1, r1}, {a1, r1}}, false, 1, 100));
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
        // Nothing at first: the permit comes only from a release beyond holdings (a gift).
        list.add(new Config("gift to a waiter, 0 permits, " + v, v, 0,
                new Op[][] {{a1}, {r1}}, false, 1, 20));
        return list;
    }

    // ------------------------------------------------------------------ the state

    // Per slot: state (FREE 0, LIVE 1), waiting bit, generation, held, lock (0 free, else process + 1), doorbell,
    // turn (0, or ticket + 1).
    static final int S_STATE = 0, S_WAIT = 1, S_GEN = 2, S_HELD = 3, S_LOCK = 4, S_BELL = 5, S_TURN = 6, SLOT_W = 7;
    // Per process: status, op index, pc, accumulator, index, scratch, belief (permits its threads hold),
    // in flight (added to its slot by an acquire not yet decided), generation it owns.
    // ticket (0 none, else ticket + 1) of the acquire in progress (fair casts).
    static final int P_STATUS = 0, P_OP = 1, P_PC = 2, P_ACC = 3, P_IDX = 4, P_K = 5, P_BELIEF = 6, P_FLIGHT = 7,
            P_GEN = 8, P_TICKET = 9, P_RIGHT = 10, P_GSLOT = 11, P_GGEN = 12, P_SNAP = 13, PROC_W = 14;
    // P_RIGHT: 1 while it believes it holds the gather right; P_GSLOT, P_GGEN: the GATHER value a claim read
    // (slot + 1, generation); P_SNAP: the word of the holder's slot as the claim read it (held * 4 + state * 2 + wait).
    static final int NOT_STARTED = 0, RUNNING = 1, DONE = 2, DEAD = 3;
    // Recoverer: pc, slot, snapshot of the word (state, wait, gen, held), scan index.
    static final int R_PC = 0, R_SLOT = 1, R_STATE = 2, R_WAIT = 3, R_GEN = 4, R_HELD = 5, R_IDX = 6, REC_W = 7;
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
        Result r = new Checker(c, false).run();
        return r.violations.isEmpty() ? r : new Checker(c, true).run();
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

        Checker(Config c, boolean labels) {
            this.c = c;
            this.labels = labels;
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
            while (!queue.isEmpty()) {
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
            checkProgress();
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
        }

        // pc: 0 add, 1 read slot IDX, 2 read base and decide, 3 back off, 8-9 look whether anything is
        //     free now, 7 ring (if so), 4 set waiting bit, 5 clear waiting bit, 6 sleep on the doorbell
        void acquire(int[] s, int p, int n) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " acquire(" + n + ")";
            boolean checkFirst = c.variant == Variant.CHECK_BEFORE_ADD;
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
                    if (earlier) t[pr(p, P_PC)] = s[sl(me, S_WAIT)] == 1 ? 6 : 4;
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
                case 0, 10 -> {
                    if (checkFirst) {            // broken: read first (pc 1, 2), add when deciding
                        t[pr(p, P_PC)] = 1;
                        t[pr(p, P_IDX)] = first(me);
                        t[pr(p, P_ACC)] = s[sl(me, S_HELD)];
                        emit(t, () -> who + " begins");
                        return;
                    }
                    t[sl(me, S_HELD)] += n;      // getAndAdd(own slot, n)
                    t[pr(p, P_FLIGHT)] = n;
                    t[pr(p, P_PC)] = 1;
                    t[pr(p, P_IDX)] = first(me);
                    t[pr(p, P_ACC)] = s[sl(me, S_HELD)] + n;   // its own word: the value getAndAdd returned, + n
                    emit(t, () -> who + ": slot += " + n);
                }
                case 1 -> {
                    int j = s[pr(p, P_IDX)];
                    if (s[sl(j, S_STATE)] == 1) t[pr(p, P_ACC)] += s[sl(j, S_HELD)];
                    t[pr(p, P_IDX)] = after(j, me);
                    if (after(j, me) == c.slots()) t[pr(p, P_PC)] = 2;
                    emit(t, () -> who + ": reads slot " + j + " (held " + s[sl(j, S_HELD)] + ")");
                }
                case 2 -> {
                    int sum = s[pr(p, P_ACC)] + (checkFirst ? n : 0);
                    if (s[G_BASE] - sum >= 0) {
                        if (checkFirst) t[sl(me, S_HELD)] += n;
                        t[pr(p, P_BELIEF)] += n;
                        t[pr(p, P_FLIGHT)] = 0;
                        if (c.fair) t[pr(p, P_PC)] = 32;
                        else if (s[sl(me, S_WAIT)] == 1) t[pr(p, P_PC)] = 5;
                        else next(t, p);
                        emit(t, () -> who + ": base " + s[G_BASE] + " - " + sum + " >= 0, holds");
                    } else {
                        t[pr(p, P_PC)] = checkFirst ? (s[sl(me, S_WAIT)] == 1 ? 6 : 4) : 3;
                        emit(t, () -> who + ": base " + s[G_BASE] + " - " + sum + " < 0");
                    }
                }
                case 3 -> {
                    t[sl(me, S_HELD)] -= n;      // getAndAdd(own slot, -n)
                    t[pr(p, P_FLIGHT)] = 0;
                    boolean look = c.variant != Variant.BACK_OFF_RINGS_NOBODY;
                    t[pr(p, P_PC)] = look ? 8 : s[sl(me, S_WAIT)] == 1 ? 6 : 4;
                    t[pr(p, P_IDX)] = 0;
                    t[pr(p, P_ACC)] = 0;
                    emit(t, () -> who + ": backs off, slot -= " + n);
                }
                case 8 -> {                      // after the back-off, is anything free? read every slot, its own too
                    int j = s[pr(p, P_IDX)];
                    if (s[sl(j, S_STATE)] == 1) t[pr(p, P_ACC)] += s[sl(j, S_HELD)];
                    t[pr(p, P_IDX)] = j + 1;
                    if (j + 1 == c.slots()) t[pr(p, P_PC)] = 9;
                    emit(t, () -> who + ": looks at slot " + j + " (held " + s[sl(j, S_HELD)] + ")");
                }
                case 9 -> {                      // then the base: rings only if a permit is free
                    int free = s[G_BASE] - s[pr(p, P_ACC)];
                    boolean ring = free > 0;
                    t[pr(p, P_PC)] = ring ? 7 : s[sl(me, S_WAIT)] == 1 ? 6 : 4;
                    // The real ring includes the ringer's own doorbell (ringWaiters rings every WAITING slot).
                    // Elsewhere it changes nothing here, but a fair process that backs off may be the one
                    // the others give way to: it must look again itself.
                    if (ring && c.fair && s[sl(me, S_WAIT)] == 1) t[sl(me, S_BELL)] = 1;
                    t[pr(p, P_IDX)] = first(me);
                    t[pr(p, P_ACC)] = 0;
                    emit(t, () -> who + ": " + free + " free after its back-off" + (ring ? ", rings" : ""));
                }
                case 7 -> {                      // a back-off is a release: another contender may have backed off for it
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);
                    if (after(j, me) < c.slots()) t[pr(p, P_IDX)] = after(j, me);
                    else t[pr(p, P_PC)] = s[sl(me, S_WAIT)] == 1 ? 6 : 4;
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                case 4 -> {
                    t[sl(me, S_WAIT)] = 1;       // getAndAdd(own slot, WAITING): Dekker pair "doorbell", waiter side
                    t[pr(p, P_PC)] = c.variant == Variant.NO_RECHECK_AFTER_WAIT_BIT ? 6 : 0;
                    emit(t, () -> who + ": sets its waiting bit");
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

        // pc: 0 take min(n, held) off the slot (CAS), 1 add the rest to the base, 2 scan slot IDX and ring
        void release(int[] s, int p, int n) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " release(" + n + ")";
            boolean giftFirst = c.variant == Variant.GIFT_BEFORE_HELD;
            switch (pc) {
                case 0 -> {
                    int k = Math.min(n, s[sl(me, S_HELD)]);
                    if (giftFirst) {             // broken: the whole n to the base first, the holding later
                        t[G_BASE] += n;
                        t[G_GIFTS] += n - k;
                        t[pr(p, P_K)] = k;
                        t[pr(p, P_PC)] = 1;
                        emit(t, () -> who + ": base += " + n);
                        return;
                    }
                    t[sl(me, S_HELD)] -= k;      // CAS(own slot, w, w - k)
                    t[pr(p, P_BELIEF)] -= k;
                    t[pr(p, P_K)] = n - k;
                    t[pr(p, P_PC)] = n - k > 0 ? 1 : 2;
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": slot -= " + k);
                }
                case 1 -> {
                    int k = s[pr(p, P_K)];
                    if (giftFirst) {
                        t[sl(me, S_HELD)] -= k;
                        t[pr(p, P_BELIEF)] -= k;
                        emit(t, () -> who + ": slot -= " + k);
                    } else {
                        t[G_BASE] += k;          // getAndAdd(base, k): a gift
                        t[G_GIFTS] += k;
                        emit(t, () -> who + ": base += " + k);
                    }
                    t[pr(p, P_PC)] = 2;
                    t[pr(p, P_IDX)] = first(me);
                }
                case 2 -> {
                    int j = s[pr(p, P_IDX)];
                    // Dekker pair "doorbell", releaser side: the slot (or base) written, then the waiting bits read
                    boolean ring = c.variant != Variant.RELEASE_RINGS_NOBODY && ring(s, t, j, me);
                    if (after(j, me) == c.slots()) next(t, p);
                    else t[pr(p, P_IDX)] = after(j, me);
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                default -> throw new AssertionError(pc);
            }
        }

        // pc: 0 take the lock, 1 read the word, 2 CAS it to LIVE(gen + 1, 0), 3 scan slot IDX and ring
        void claim(int[] s, int p) {
            int me = slotOf(p);
            int pc = s[pr(p, P_PC)];
            int[] t = s.clone();
            String who = "P" + p + " claim";
            boolean casFirst = c.variant == Variant.CLAIM_BEFORE_LOCK;
            switch (pc) {
                case 0 -> {
                    if (casFirst) {
                        t[pr(p, P_PC)] = 1;
                        emit(t, () -> who + " begins");
                        return;
                    }
                    if (s[sl(me, S_LOCK)] != 0) return;  // F_OFD_SETLK fails: the owner lives; retried later
                    t[sl(me, S_LOCK)] = p + 1;
                    t[pr(p, P_PC)] = 1;
                    emit(t, () -> who + ": takes the lock of slot " + me);
                }
                case 1 -> {
                    // the snapshot: state, wait, gen, held packed in scratch registers
                    t[pr(p, P_ACC)] = s[sl(me, S_HELD)];
                    t[pr(p, P_K)] = s[sl(me, S_GEN)] * 4 + s[sl(me, S_STATE)] * 2 + s[sl(me, S_WAIT)];
                    t[pr(p, P_PC)] = 2;
                    emit(t, () -> who + ": reads slot " + me);
                }
                case 2 -> {
                    int snap = s[pr(p, P_K)];
                    boolean same = s[sl(me, S_HELD)] == s[pr(p, P_ACC)]
                            && s[sl(me, S_GEN)] * 4 + s[sl(me, S_STATE)] * 2 + s[sl(me, S_WAIT)] == snap;
                    if (!same) {
                        t[pr(p, P_PC)] = 1;
                        emit(t, () -> who + ": CAS fails");
                        return;
                    }
                    int gen = snap / 4 + 1;
                    t[sl(me, S_STATE)] = 1;
                    t[sl(me, S_WAIT)] = 0;
                    t[sl(me, S_GEN)] = gen;
                    t[sl(me, S_HELD)] = 0;
                    t[sl(me, S_BELL)] = 0;           // its own doorbell: rings for the previous owner are not for it
                    if (c.variant != Variant.CLAIM_KEEPS_TURN) t[sl(me, S_TURN)] = 0;   // written before the CAS, as claim() does
                    t[pr(p, P_GEN)] = gen;
                    boolean wasLive = (snap & 2) != 0;
                    t[pr(p, P_PC)] = casFirst ? 4 : wasLive ? 3 : 0;
                    if (!casFirst && !wasLive) next(t, p);   // a FREE slot: whoever freed it has rung
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": slot " + me + " LIVE gen " + gen + " (was held " + s[pr(p, P_ACC)] + ")");
                }
                case 3 -> {
                    int j = s[pr(p, P_IDX)];
                    boolean ring = ring(s, t, j, me);   // the dead owner's permits came back, or it owed a ring
                    if (after(j, me) == c.slots()) next(t, p);
                    else t[pr(p, P_IDX)] = after(j, me);
                    emit(t, () -> who + (ring ? ": rings slot " + j : ": slot " + j + " not waiting"));
                }
                case 4 -> {                      // CLAIM_BEFORE_LOCK: the lock last
                    if (s[sl(me, S_LOCK)] != 0) return;
                    t[sl(me, S_LOCK)] = p + 1;
                    t[pr(p, P_PC)] = 3;
                    t[pr(p, P_IDX)] = first(me);
                    emit(t, () -> who + ": takes the lock of slot " + me);
                }
                default -> throw new AssertionError(pc);
            }
        }

        /**
         * Claims the gather right ({@link SlotPermits#tryClaimGatherRight}), and while a live process holds
         * it, waits as the semaphore's watch for it does ({@link SharedSlotStore#watch}: the waiting bit, a
         * look with {@link SlotPermits#gatherRightAvailable}, the doorbell).
         * pc: 0 read GATHER, 1 read the word of the slot it names (gatherHolderLive), 12 recover(j) reads
         *     the word again, 2 tests the slot's lock, 3 CASes the word it read to FREE, 4 rings slot IDX;
         *     5 CAS GATHER to its own; the watch: 6 drain the doorbell, 13 set the waiting bit, 7-9 look
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
                    t[pr(p, P_SNAP)] = s[sl(j, S_GEN)] * 16 + s[sl(j, S_HELD)] * 4 + s[sl(j, S_STATE)] * 2 + s[sl(j, S_WAIT)];
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
                    int j = s[pr(p, P_GSLOT)] - 1, snap = s[pr(p, P_SNAP)];
                    boolean same = s[sl(j, S_GEN)] * 16 + s[sl(j, S_HELD)] * 4 + s[sl(j, S_STATE)] * 2 + s[sl(j, S_WAIT)] == snap;
                    if (!same) {                 // a recoverer or claimant was first: the claim fails for now
                        t[pr(p, P_PC)] = 6;
                        emit(t, () -> who + ": recovery CAS of slot " + j + " fails");
                        return;
                    }
                    free(t, j);
                    t[pr(p, P_PC)] = 4;
                    t[pr(p, P_IDX)] = 0;
                    emit(t, () -> who + ": recovers slot " + j + " (returned " + (snap / 4 % 4) + ")");
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
                    t[sl(me, S_WAIT)] = 1;       // Dekker pair "doorbell", waiter side: the bit, then the look
                    t[pr(p, P_PC)] = 7;
                    emit(t, () -> who + ": sets its waiting bit");
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
                        t[rc(R_STATE)] = s[sl(k, S_STATE)];
                        t[rc(R_WAIT)] = s[sl(k, S_WAIT)];
                        t[rc(R_GEN)] = s[sl(k, S_GEN)];
                        t[rc(R_HELD)] = s[sl(k, S_HELD)];
                        emit(t, () -> "R reads slot " + k);
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
                    boolean same = s[sl(j, S_STATE)] == s[rc(R_STATE)] && s[sl(j, S_WAIT)] == s[rc(R_WAIT)]
                            && s[sl(j, S_HELD)] == s[rc(R_HELD)]
                            && (c.variant == Variant.RECOVERY_IGNORES_GENERATION || s[sl(j, S_GEN)] == s[rc(R_GEN)]);
                    if (!same) {
                        clearRecoverer(t);
                        emit(t, () -> "R: CAS of slot " + j + " fails");
                        return;
                    }
                    // Always ring: the dead process may have died between a release (or a back-off) and its ring.
                    boolean ring = c.variant == Variant.RECOVERY_RINGS_ONLY_IF_HELD
                            ? s[rc(R_HELD)] > 0 : c.variant != Variant.RECOVERY_RINGS_NOBODY;
                    free(t, j);
                    t[rc(R_PC)] = ring ? 3 : 0;
                    t[rc(R_IDX)] = 0;
                    if (t[rc(R_PC)] == 0) clearRecoverer(t);
                    emit(t, () -> "R: slot " + j + " FREE (returned " + s[rc(R_HELD)] + ")");
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

        /** A recovery's CAS: slot j FREE, holding nothing, its doorbell silent (nobody listens on a FREE slot's). */
        void free(int[] t, int j) {
            t[sl(j, S_STATE)] = 0;
            t[sl(j, S_WAIT)] = 0;
            t[sl(j, S_HELD)] = 0;
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
                } else if (t[sl(j, S_HELD)] != t[pr(p, P_BELIEF)] + t[pr(p, P_FLIGHT)]) {
                    violate("slot of a live process holds " + t[sl(j, S_HELD)] + " but it holds "
                            + (t[pr(p, P_BELIEF)] + t[pr(p, P_FLIGHT)]), t, i);
                }
            }
            if (held > c.initial + t[G_GIFTS]) violate("overcommit: " + held + " held of " + (c.initial + t[G_GIFTS]), t, i);
            int gatherers = 0;
            for (int p = 0; p < c.processes(); p++) {
                int status = t[pr(p, P_STATUS)];
                if ((status == RUNNING || status == DONE) && t[pr(p, P_RIGHT)] == 1) gatherers++;
            }
            if (gatherers > 1) violate("two gatherers hold the gather right", t, i);
            for (int j = 0; j < c.slots(); j++) {
                if (t[sl(j, S_STATE)] == 0 && t[sl(j, S_HELD)] != 0) violate("a FREE slot holds permits", t, i);
            }
        }

        /**
         * Every process done, dead, or asleep with its doorbell silent while fewer permits are free
         * than it asks for (a semaphore's legitimate wait); no recovery in progress or owed.
         */
        boolean isFinal(int[] s) {
            int free = s[G_BASE];
            for (int j = 0; j < c.slots(); j++) if (s[sl(j, S_STATE)] == 1) free -= s[sl(j, S_HELD)];
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
            violations.put(kind, trace(current) + "  " + successorLabels.get(i) + "\n  => " + what + "\n");
        }

        void violateHere(String what, int[] s) {
            String kind = what.replaceAll("[0-9]+", "#");
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
