package dev.eventfd.sync;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * An explicit-state model checker for the close protocol of {@link EventFdSemaphore} (see the
 * "Closing" part of its implementation overview): every interleaving of a small model of the code is
 * explored breadth-first with a visited set, and the protocol's invariants are checked on every
 * transition and in every final state. No real semaphore is created.
 *
 * <p><b>The model.</b> Each thread is a program counter over the atomic steps the real code takes:
 * each getAndAdd/CAS/volatile read or write of {@code ctl}, {@code demand}, {@code multiWaiters},
 * {@code pending}, {@code closer}, {@code keptAfterClose}; each AQS operation on L (the superclass's
 * count: a CAS acquire, a release with the j.u.c. overflow check, {@code drainPermits} as one
 * get-and-set); each store operation on K (the kernel counter) and on the turnstile; the lock's
 * lock/tryLock/unlock; park/unpark (a permit, no spurious wake-ups). An AQS acquire
 * ({@code acquireUninterruptibly(n)}) is one step, enabled only while {@code L >= n} (a non-fair
 * semaphore; the AQS queue itself is assumed correct). {@code requestFeed()}, {@code feedLocked()},
 * {@code gather()}, {@code afterChange()}, {@code finishClose()} and {@code returnAfterClose()} are
 * modelled step by step. {@code Integer.MAX_VALUE} is a small {@code MAX} and {@code WAKE_POOL = MAX};
 * no negative permits (L is never negative, so the {@code availablePermits() < 0} reads are omitted),
 * one process (the gather right is always free to claim), no interrupts, no timeouts, no crashes.
 *
 * <p><b>Threads</b>: the closer ({@code close()}); W1, {@code acquireUninterruptibly(1)}; W2,
 * {@code acquireUninterruptibly(2)} (a multi-permit waiter: {@code gather}, the gather right);
 * a barger, {@code tryAcquire(1)}; a releaser, {@code release(1)} (to L when it sees demand, else to
 * K), which can grant W1 or W2 real permits at the instant of closing; and, in some configurations,
 * the poller (its watch callback: {@code tryEnter(); requestFeed(); leave()}, fired when a watch is
 * armed and K &gt; 0) with the feeder virtual thread it starts.
 *
 * <p><b>Invariants</b>, on every step: no store operation after {@code store.close()}; no permit
 * moved in L after {@code finishClose()} drained it; the AQS release of the wake pool (and every other
 * release) never overflows; no fast path takes a pool permit; no waiter gives pool permits to the
 * store; {@code finishClose()} drains L only once every waiter has left and finds every pool permit
 * back ({@code L + keptAfterClose >= WAKE_POOL}); the turnstile count stays 0 or 1. In every final
 * state (all threads done): {@code finishClose()} ran exactly once; L is 0; K plus the permits held
 * by threads that returned normally equals the initial permits plus those released; the turnstile is
 * free and not owned; no thread returned normally holding pool permits. And from every reachable
 * state a final state stays reachable (so no deadlock, no livelock): a state where a thread waits
 * and nothing can move is reported with its shortest trace.
 *
 * <p><b>What it found</b> (and what the variant {@link Variant#FULL_WAKE_POOL} still shows). When
 * close() released a fixed WAKE_POOL, a waiter granted a real permit just before close() (W1: its AQS
 * acquire has returned, its {@code c = ctl} in await's finally not yet run) could read ctl after
 * close() had set POOL but before the pool went in. It then took the POOL branch of
 * returnAfterClose and gave its permit back to L: L = 1. close()'s {@code super.release(WAKE_POOL)}
 * then overflowed and threw {@code Error("Maximum permit count exceeded")}: the wake pool never went
 * in, so any other waiter waited forever, and, if that waiter was the only one, finishClose computed
 * {@code real = 1 + 0 - WAKE_POOL < 0} and the real permit was lost. close() now fills L up to
 * WAKE_POOL and finishClose subtracts what it added.
 */
class CloseProtocolModelTest {

    // ------------------------------------------------------------------ the tests

    /**
     * The faithful model: every invariant must hold in every interleaving of every cast. A failure
     * shows the shortest trace of each kind of violation.
     */
    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void faithfulModelOfTheCloseProtocolHasNoViolation() {
        long total = 0;
        StringBuilder summaries = new StringBuilder();
        Map<String, String> shortest = new LinkedHashMap<>();     // each kind once, its shortest trace
        for (Config c : casts(Variant.FAITHFUL)) {
            Result r = check(c);
            System.out.println(r.summary());
            summaries.append(r.summary()).append('\n');
            total += r.states;
            assertTrue(r.states > c.sanityFloor, c.name + ": only " + r.states + " states explored");
            assertTrue(r.finals > 0, c.name + ": no final state reached");
            for (Map.Entry<String, String> e : r.violations.entrySet()) {
                String t = "[" + c.name + "]\n" + e.getValue();
                shortest.merge(e.getKey(), t, (a, b) -> a.lines().count() <= b.lines().count() ? a : b);
            }
        }
        System.out.println("faithful model: " + total + " states explored in all");
        assertTrue(total > 500_000, "only " + total + " states explored");
        if (!shortest.isEmpty()) {
            StringBuilder sb = new StringBuilder("The close protocol model has violations:\n").append(summaries);
            shortest.forEach((k, t) -> sb.append("\n").append(k).append("\nshortest trace ").append(t));
            fail(sb.toString());
        }
    }

    /**
     * Broken variants of the same model, on a cast where the faithful model has no violation: the
     * checker must find each variant's defect.
     */
    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void checkerFindsTheDefectOfEveryBrokenVariant() {
        Result control = check(controlCast(Variant.FAITHFUL));
        System.out.println(control.summary());
        assertTrue(control.states > 10_000, "only " + control.states + " states explored");
        assertTrue(control.violations.isEmpty(), "the control cast must be clean: " + control.report());
        Map<Variant, String> expected = new LinkedHashMap<>();
        expected.put(Variant.CLOSE_SKIPS_ACTIVE_WAIT, "");
        expected.put(Variant.POOL_PERMITS_TO_STORE, "permit created");
        expected.put(Variant.WAITER_KEEPS_POOL_PERMITS, "pool permits missing");
        expected.put(Variant.CTL_READ_BEFORE_ACQUIRE, "returned normally holding pool permits");
        expected.put(Variant.POOL_BIT_AFTER_POOL, "gave pool permits to the store");
        expected.put(Variant.NO_WAKE_POOL, "deadlock");
        expected.put(Variant.FULL_WAKE_POOL, "Maximum permit count exceeded");
        for (Map.Entry<Variant, String> e : expected.entrySet()) {
            // The control cast has no real permit for a waiter to give back: FULL_WAKE_POOL needs one.
            Config c = e.getKey() == Variant.FULL_WAKE_POOL ? smallestCast(e.getKey()) : controlCast(e.getKey());
            Result r = check(c);
            System.out.println(r.summary());
            assertTrue(r.states > 1_000, c.name + ": only " + r.states + " states explored");
            assertFalse(r.violations.isEmpty(), c.name + ": the checker found no violation in a broken model");
            assertTrue(r.violations.keySet().stream().anyMatch(k -> k.contains(e.getValue())),
                    c.name + ": expected a violation '" + e.getValue() + "', found " + r.violations.keySet());
        }
    }

    /**
     * The casts explored. Every cast has the closer; together they cover every pair and most triples
     * of the other threads. All five threads at once (about 1.7 million states with K0 = 0, 4.8 million
     * with K0 = 1) run only with {@code -Dmodel.fullCast=true}.
     */
    private static List<Config> casts(Variant v) {
        List<Config> list = new ArrayList<>();
        // Both waiters and the releaser, K0 = 1: either waiter can be granted real permits at the
        // instant of closing (W2 all 2), and two waiters give back to a full L (the room logic).
        list.add(new Config("closer W1 W2 releaser, K0=1, " + v, v, 3, 1, new int[] {1, 2}, false, true, false, 200_000));
        // Both waiters and the barger, K0 = 1: the feed's grant raced by a barging take.
        list.add(new Config("closer W1 W2 barger, K0=1, " + v, v, 3, 1, new int[] {1, 2}, true, false, false, 50_000));
        // The multi-permit waiter (gather, the gather right) with the barger and the releaser.
        list.add(new Config("closer W2 barger releaser, K0=1, " + v, v, 3, 1, new int[] {2}, true, true, false, 80_000));
        // The single-permit waiter with the barger and the releaser, no permit but the released one.
        list.add(new Config("closer W1 barger releaser, K0=0, " + v, v, 3, 0, new int[] {1}, true, true, false, 20_000));
        // With the poller's watch and the feeder it starts.
        list.add(new Config("closer W1 barger releaser poller feeder, K0=0, " + v, v, 3, 0, new int[] {1}, true, true, true, 100_000));
        list.add(new Config("closer W2 releaser poller feeder, K0=1, " + v, v, 3, 1, new int[] {2}, false, true, true, 20_000));
        list.add(smallestCast(v));
        if (Boolean.getBoolean("model.fullCast")) {
            list.add(new Config("closer W1 W2 barger releaser, K0=0, " + v, v, 3, 0, new int[] {1, 2}, true, true, false, 1_000_000));
            list.add(new Config("closer W1 W2 barger releaser, K0=1, " + v, v, 3, 1, new int[] {1, 2}, true, true, false, 2_000_000));
        }
        return list;
    }

    /** The smallest cast where a waiter granted a real permit at the instant of closing gives it back to L. */
    private static Config smallestCast(Variant v) {
        return new Config("closer W1 releaser, K0=0, " + v, v, 3, 0, new int[] {1}, false, true, false, 3_000);
    }

    /** A cast where the FULL_WAKE_POOL defect cannot occur (W2's 2 permits cannot be real: only 1 exists). */
    private static Config controlCast(Variant v) {
        return new Config("closer W2 barger releaser, K0=0, " + v, v, 3, 0, new int[] {2}, true, true, false, 10_000);
    }

    // ------------------------------------------------------------------ configuration

    enum Variant {
        /** The code as it is. */
        FAITHFUL,
        /** Broken: close() does not wait for ACTIVE to reach 0 before draining L and releasing the pool. */
        CLOSE_SKIPS_ACTIVE_WAIT,
        /** Broken: returnAfterClose ignores POOL and gives every permit to the store. */
        POOL_PERMITS_TO_STORE,
        /** Broken: a waiter woken by close() keeps its permits (gives nothing back). */
        WAITER_KEEPS_POOL_PERMITS,
        /** Broken: await reads ctl before the AQS acquire instead of after it. */
        CTL_READ_BEFORE_ACQUIRE,
        /** Broken: close() releases the pool into L before it sets POOL. */
        POOL_BIT_AFTER_POOL,
        /** Broken: close() sets POOL but releases no wake pool. */
        NO_WAKE_POOL,
        /**
         * Broken (the code before the fix): close() releases WAKE_POOL itself, assuming L is 0, and
         * finishClose() subtracts WAKE_POOL, where the code adds {@code WAKE_POOL - L} (reading L,
         * then releasing; on the overflow Error of a give-back in between, reading again) and
         * subtracts what it added.
         */
        FULL_WAKE_POOL
    }

    record Config(String name, Variant variant, int max, int initialK, int[] waiters, boolean barger,
                  boolean releaser, boolean poller, long sanityFloor) {}

    enum Kind { CLOSER, WAITER, BARGER, RELEASER, POLLER, FEEDER }

    // ------------------------------------------------------------------ program counters

    // Shared subroutines (the thread's RET field holds the continuation).
    static final int DONE = 0, LEAVE = 1, AC = 2, FC0 = 3, FC1 = 4, FC2 = 5, FC3 = 6, FC4 = 7, FC5 = 8,
            RF_SET = 9, RF_CHECK = 10, RF_TRY = 11, RF_CLR = 12, RF_UNLOCK = 13, RF_POLLCHK = 14, RF_STARTF = 15,
            F0 = 16, F1 = 17, F2 = 18, F3 = 19, F4 = 20, F5 = 21, F6 = 22, F7 = 23, F8 = 24, F9 = 25,
            F10 = 26, F11 = 27, F12 = 28;
    // The closer.
    static final int C0 = 30, C1 = 31, C2 = 32, C3 = 33, C5 = 35, C6 = 36, C7 = 37, C8 = 38,
            C9 = 39, C10 = 40, C10B = 41, C11 = 42, C12 = 43;
    // A waiter: acquire0, take/gather, await, returnAfterClose.
    static final int W_ENTER = 50, W_TAKE1 = 51, W_TK_DEM = 52, W_TK_K = 53, W_FAST_OK = 54,
            G0 = 55, G1 = 56, G2 = 57, G3ONE = 58, G3TURN = 59, G3CNT = 60, G3TAKE = 61, G3GIVE = 62, G3REL = 63,
            G4 = 64, G5 = 65, G5B = 66, G6 = 67, G7 = 68, G8 = 69,
            A0 = 70, A1 = 71, A2 = 72, A3 = 73, A4 = 74, A5 = 75, A6S = 76, R0 = 77, R1 = 78, R2 = 79,
            A7 = 80, A8 = 81, A9A = 82, A9B = 83, A9C = 84, A9D = 85, A10 = 86, A5PRE = 87;
    // The barger, the releaser, the poller, the feeder.
    static final int B0 = 90, B1 = 91, B2 = 92, B3 = 93, B_LEAVE = 94,
            E0 = 95, E1 = 96, E2 = 97, E3 = 98, E4 = 99, E5 = 100, E5B = 101, E6 = 102, E_LEAVE = 103,
            P_IDLE = 104, P_ENTER = 105, P_LEAVE = 106, FD_IDLE = 107, FD_START = 108, FD_ENTER = 109, FD_LEAVE = 110;
    static final int PC_LIMIT = 128;

    static final String[] PC_NAME = new String[PC_LIMIT];
    static {
        String[][] names = {
            {"" + DONE, "done"},
            {"" + LEAVE, "leave(): afterChange(CTL.getAndAdd(-ACTIVE) - ACTIVE)"},
            {"" + AC, "afterChange: unpark(closer) / CAS(CLOSED|POOL -> |FINISHED)"},
            {"" + FC0, "finishClose: lock.lock()"},
            {"" + FC1, "finishClose: super.drainPermits()"},
            {"" + FC2, "finishClose: + keptAfterClose - WAKE_POOL"},
            {"" + FC3, "finishClose: if (real > 0) store.give(real)"},
            {"" + FC4, "finishClose: lock.unlock()"},
            {"" + FC5, "finishClose: store.close()"},
            {"" + RF_SET, "requestFeed: pending = true"},
            {"" + RF_CHECK, "requestFeed: while (pending"},
            {"" + RF_TRY, "requestFeed: && lock.tryLock())"},
            {"" + RF_CLR, "requestFeed: pending = false"},
            {"" + RF_UNLOCK, "requestFeed: lock.unlock()"},
            {"" + RF_POLLCHK, "requestFeed: if (onPoller && pending)"},
            {"" + RF_STARTF, "startFeeder: CAS feederStarted"},
            {"" + F0, "feedLocked: if ((ctl & CLOSED) != 0) return"},
            {"" + F1, "feedLocked: wanted = demand"},
            {"" + F2, "feedLocked: local = L"},
            {"" + F3, "giveBack: super.tryAcquire(n)"},
            {"" + F4, "giveBack: store.give(n)"},
            {"" + F5, "feedLocked: if (multiWaiters == 0)"},
            {"" + F6, "feedLocked: ownsGatherRight = false; store.releaseGatherRight()"},
            {"" + F7, "feedLocked: store.tryClaimGatherRight()"},
            {"" + F8, "feedLocked loop: demand"},
            {"" + F9, "feedLocked loop: > L"},
            {"" + F10, "feedLocked: store.tryTakeOne() (else arm)"},
            {"" + F11, "feedLocked: super.release(1)"},
            {"" + F12, "feedLocked: disarm()"},
            {"" + C0, "close: CAS ctl |= CLOSED"},
            {"" + C1, "close: closer = currentThread"},
            {"" + C2, "close: while ((ctl & ACTIVE_MASK) != 0); closer = null"},
            {"" + C3, "close: LockSupport.park"},
            {"" + C5, "close: lock.lock()"},
            {"" + C6, "close: disarm(); held = super.drainPermits()"},
            {"" + C7, "close: store.give(held)"},
            {"" + C8, "close: ownsGatherRight = false; store.releaseGatherRight()"},
            {"" + C9, "close: after = CTL.getAndAdd(POOL) + POOL"},
            {"" + C10, "close: releaseWakePool(): room = WAKE_POOL - L (FULL_WAKE_POOL: super.release(WAKE_POOL))"},
            {"" + C10B, "close: releaseWakePool(): super.release(WAKE_POOL - L)"},
            {"" + C11, "close: lock.unlock()"},
            {"" + C12, "close: afterChange(after)"},
            {"" + W_ENTER, "acquire0: enter(): CTL.getAndAdd(ACTIVE)"},
            {"" + W_TAKE1, "take: super.tryAcquire() (CAS on L)"},
            {"" + W_TK_DEM, "take: if (demand > 0) requestFeed()"},
            {"" + W_TK_K, "take: store.tryTakeOne()"},
            {"" + W_FAST_OK, "acquire0: return true; finally leave()"},
            {"" + G0, "gather: lock.lock()"},
            {"" + G1, "gather: fromLocal = min(permits, L)"},
            {"" + G2, "gather: super.tryAcquire(fromLocal)"},
            {"" + G3ONE, "gather: store.tryTake(1) = tryTakeOne()"},
            {"" + G3TURN, "store.tryTake: turnstile.tryRead()"},
            {"" + G3CNT, "store.tryTake: count() < n"},
            {"" + G3TAKE, "store.tryTake: tryTakeOne()"},
            {"" + G3GIVE, "store.tryTake: give(taken)"},
            {"" + G3REL, "store.tryTake: turnstile.tryWrite(1)"},
            {"" + G4, "gather: if (!taken) super.release(fromLocal)"},
            {"" + G5, "gather: taken && fromLocal > 0 && demand > 0"},
            {"" + G5B, "gather: pending = true"},
            {"" + G6, "gather: unlock(): lock.unlock()"},
            {"" + G7, "gather: unlock(): if (pending) requestFeed()"},
            {"" + G8, "acquire0: taken?"},
            {"" + A0, "await: DEMAND.getAndAdd(permits)"},
            {"" + A1, "await: MULTI_WAITERS.getAndAdd(1)"},
            {"" + A2, "await: afterChange(CTL.getAndAdd(WAITING - ACTIVE) ...)"},
            {"" + A3, "await: requestFeed()"},
            {"" + A4, "await: super.acquireUninterruptibly(permits)"},
            {"" + A5, "await finally: c = ctl"},
            {"" + A5PRE, "(broken) await: c = ctl before the acquire"},
            {"" + A6S, "returnAfterClose: store.give(permits)  [CLOSED, no POOL]"},
            {"" + R0, "returnAfterClose: room = MAX - L"},
            {"" + R1, "returnAfterClose: super.release(n)"},
            {"" + R2, "returnAfterClose: KEPT.getAndAdd(left)"},
            {"" + A7, "await: MULTI_WAITERS.getAndAdd(-1)"},
            {"" + A8, "await: DEMAND.getAndAdd(-permits)"},
            {"" + A9A, "await exit: L"},
            {"" + A9B, "await exit: > demand"},
            {"" + A9C, "await exit: multiWaiters == 0"},
            {"" + A9D, "await exit: && ownsGatherRight"},
            {"" + A10, "await: afterChange(CTL.getAndAdd(-WAITING) - WAITING)"},
            {"" + B0, "tryAcquire: enter()"},
            {"" + B1, "take: super.tryAcquire() (CAS on L)"},
            {"" + B2, "take: if (demand > 0) requestFeed()"},
            {"" + B3, "take: store.tryTakeOne()"},
            {"" + B_LEAVE, "tryAcquire: finally leave()"},
            {"" + E0, "release: enter()"},
            {"" + E1, "release: if (demand > 0"},
            {"" + E2, "release: super.release(1)  [to L]"},
            {"" + E3, "release: L"},
            {"" + E4, "release: > demand"},
            {"" + E5, "release: multiWaiters > 0"},
            {"" + E6, "release: store.give(1)  [to K]"},
            {"" + E5B, "release: && !ownsGatherRight"},
            {"" + E_LEAVE, "release: finally leave()"},
            {"" + P_IDLE, "poller: watch fires (armed, K > 0)"},
            {"" + P_ENTER, "Watch.accept: tryEnter()"},
            {"" + P_LEAVE, "Watch.accept: finally leave()"},
            {"" + FD_IDLE, "feeder: not started"},
            {"" + FD_START, "feeder: feederStarted = false"},
            {"" + FD_ENTER, "feeder: tryEnter()"},
            {"" + FD_LEAVE, "feeder: finally leave()"},
        };
        for (String[] n : names) PC_NAME[Integer.parseInt(n[0])] = n[1];
    }

    // ------------------------------------------------------------------ the model

    /** Global fields of a state. Feed and gather locals (FW..GOK) belong to the lock holder. */
    static final int CL = 0, PO = 1, FI = 2, ACT = 3, WAIT = 4, L = 5, K = 6, DEM = 7, KEPT = 8, PEND = 9,
            LOCK = 10, CLOSERV = 11, PERMIT = 12, ARMED = 13, SCLOSED = 14, FINCNT = 15, POOLREL = 16, MW = 17,
            OWNS = 18, T = 19, FSTART = 20, FW = 21, FL = 22, FN = 23, GF = 24, GT = 25, GCLAIM = 26, GOK = 27,
            POOLSIZE = 28, DRAINED = 29, RELEASED = 30;
    static final int G = 31;
    static final int[] G_BITS = {1, 1, 1, 3, 2, 4, 4, 3, 4, 1, 3, 1, 1, 1, 1, 2, 1, 2, 1, 2, 1, 3, 4, 4, 2, 2, 1, 1, 4, 1, 2};
    /** Per-thread fields. Waiter: A = c had CLOSED, B = c had POOL, C = acquired while the pool was in L,
     *  X = left, Y = n or a read of L, TK = gather took. Closer: X = held, A = after == CLOSED|POOL. */
    static final int PC = 0, RET = 1, ACODE = 2, FA = 3, FB = 4, FC = 5, X = 6, Y = 7, OUT = 8, GONE = 9, TK = 10;
    static final int PT = 11;
    static final int[] T_BITS = {7, 7, 2, 1, 1, 1, 4, 4, 2, 1, 1};
    static final int OUT_NORMAL = 1, OUT_FALSE = 2, OUT_THREW = 3;
    static final int AC_UNPARK = 1, AC_FINISH = 2;

    static final class Model {
        final Config cfg;
        final Variant v;
        final int max;
        final Kind[] kinds;
        final int[] req;
        final String[] names;
        final int n;
        final int len;
        final int[] offset, width;
        final int words;
        /** The violation the last step found, or null. */
        String viol;
        /** While a trace is replayed: the program counters a step passes (a step may fold control flow). */
        StringBuilder trail;

        Model(Config cfg) {
            this.cfg = cfg;
            this.v = cfg.variant;
            this.max = cfg.max;
            List<Kind> k = new ArrayList<>();
            List<Integer> r = new ArrayList<>();
            List<String> nm = new ArrayList<>();
            k.add(Kind.CLOSER); r.add(0); nm.add("closer");
            for (int i = 0; i < cfg.waiters.length; i++) {
                k.add(Kind.WAITER); r.add(cfg.waiters[i]); nm.add("W" + cfg.waiters[i] + "(acq " + cfg.waiters[i] + ")");
            }
            if (cfg.barger) { k.add(Kind.BARGER); r.add(1); nm.add("barger"); }
            if (cfg.releaser) { k.add(Kind.RELEASER); r.add(1); nm.add("releaser"); }
            if (cfg.poller) {
                k.add(Kind.POLLER); r.add(0); nm.add("poller");
                k.add(Kind.FEEDER); r.add(0); nm.add("feeder");
            }
            kinds = k.toArray(new Kind[0]);
            req = r.stream().mapToInt(Integer::intValue).toArray();
            names = nm.toArray(new String[0]);
            n = kinds.length;
            len = G + n * PT;
            offset = new int[len];
            width = new int[len];
            int bit = 0;
            for (int i = 0; i < len; i++) {
                int w = i < G ? G_BITS[i] : T_BITS[(i - G) % PT];
                // Pack fields so that none straddles a word.
                if (bit / 64 != (bit + w - 1) / 64) bit = (bit / 64 + 1) * 64;
                offset[i] = bit;
                width[i] = w;
                bit += w;
            }
            words = (bit + 63) / 64;
        }

        int b(int t) { return G + t * PT; }

        int[] initial() {
            int[] s = new int[len];
            s[K] = cfg.initialK;
            s[T] = 1;
            for (int t = 0; t < n; t++) {
                s[b(t) + PC] = switch (kinds[t]) {
                    case CLOSER -> C0;
                    case WAITER -> W_ENTER;
                    case BARGER -> B0;
                    case RELEASER -> E0;
                    case POLLER -> P_IDLE;
                    case FEEDER -> FD_IDLE;
                };
            }
            return s;
        }

        long[] pack(int[] s) {
            long[] key = new long[words];
            for (int i = 0; i < len; i++) {
                int val = s[i];
                if (val < 0 || val >= (1 << width[i])) {
                    throw new IllegalStateException("model field " + i + " out of range: " + val + " in " + Arrays.toString(s));
                }
                key[offset[i] >>> 6] |= ((long) val) << (offset[i] & 63);
            }
            return key;
        }

        void unpack(long[] keys, int at, int[] s) {
            for (int i = 0; i < len; i++) {
                s[i] = (int) ((keys[at + (offset[i] >>> 6)] >>> (offset[i] & 63)) & ((1L << width[i]) - 1));
            }
        }

        boolean isDaemon(int t) { return kinds[t] == Kind.POLLER || kinds[t] == Kind.FEEDER; }

        boolean isFinal(int[] s) {
            for (int t = 0; t < n; t++) {
                int pc = s[b(t) + PC];
                if (kinds[t] == Kind.POLLER ? pc != P_IDLE : kinds[t] == Kind.FEEDER ? pc != FD_IDLE : pc != DONE) return false;
            }
            return true;
        }

        private void violate(String kind) {
            if (viol == null) viol = kind;
        }

        private boolean exactClosedPool(int[] s) {
            return s[CL] == 1 && s[PO] == 1 && s[FI] == 0 && s[ACT] == 0 && s[WAIT] == 0;
        }

        private void ret(int[] s, int b) {
            s[b + PC] = s[b + RET];
            s[b + RET] = 0;
        }

        private void call(int[] s, int b, int entry, int ret) {
            s[b + RET] = ret;
            s[b + PC] = entry;
        }

        /** afterChange(c) on the value ctl now has (the step that changed it is this one), then ret. */
        private void afterChange(int[] s, int b) {
            int action = 0;
            if (s[CL] == 1) {
                if (s[PO] == 0) {
                    if (s[ACT] == 0) action = AC_UNPARK;
                } else if (exactClosedPool(s)) {
                    action = AC_FINISH;
                }
            }
            if (action == 0) {
                ret(s, b);
            } else {
                s[b + ACODE] = action;
                s[b + PC] = AC;
            }
        }

        private void store(int[] s, String what) {
            if (s[SCLOSED] == 1) violate("store used after store.close(): " + what);
        }

        private void touchL(int[] s) {
            if (s[DRAINED] == 1) violate("L changed after finishClose drained it");
        }

        /** An AQS release of n into L; false (and L unchanged) if it throws the overflow Error. */
        private boolean releaseL(int[] s, int n) {
            touchL(s);
            if (s[L] + n > max) return false;
            s[L] += n;
            return true;
        }

        private boolean acquireL(int[] s, int n) {
            if (s[L] < n) return false;
            touchL(s);
            s[L] -= n;
            return true;
        }

        private void clearLockLocals(int[] s) {
            s[FW] = s[FL] = s[FN] = s[GF] = s[GT] = s[GCLAIM] = s[GOK] = 0;
        }

        private boolean lockFree(int[] s, int t) {
            if (s[LOCK] == t + 1) violate("a thread takes the lock it already holds");
            return s[LOCK] == 0;
        }

        /** Executes thread t's next step on s; false if t cannot move (done or blocked). */
        boolean step(int[] s, int t) {
            int b = b(t);
            int pc = s[b + PC];
            int r = req[t];
            if (trail != null) trail.append(trail.isEmpty() ? "" : " > ").append(PC_NAME[pc]);
            switch (pc) {
                // ---------------------------------------------------------- shared subroutines
                case DONE: return false;
                case LEAVE:
                    s[ACT]--;
                    if (s[ACT] < 0) throw new IllegalStateException("ACTIVE < 0");
                    if (s[b + RET] == DONE) s[b + GONE] = 1;
                    afterChange(s, b);
                    return true;
                case AC:
                    if (s[b + ACODE] == AC_UNPARK) {
                        s[b + ACODE] = 0;
                        if (s[CLOSERV] == 1) s[PERMIT] = 1;     // t = closer; LockSupport.unpark(t)
                        ret(s, b);
                    } else {
                        s[b + ACODE] = 0;
                        if (exactClosedPool(s)) {               // CAS(CLOSED|POOL, CLOSED|POOL|FINISHED)
                            s[FI] = 1;
                            s[b + PC] = FC0;
                        } else {
                            ret(s, b);
                        }
                    }
                    return true;
                case FC0:
                    if (!lockFree(s, t)) return false;
                    s[LOCK] = t + 1;
                    s[b + PC] = FC1;
                    return true;
                case FC1:
                    for (int u = 0; u < n; u++) {
                        if (kinds[u] == Kind.WAITER && s[b(u) + GONE] == 0 && s[b(u) + PC] != W_ENTER) {  // entered, not left
                            violate("finishClose drains L before every waiter has left");
                        }
                    }
                    s[FN] = s[L];
                    s[L] = 0;
                    s[DRAINED] = 1;
                    s[b + PC] = FC2;
                    return true;
                case FC2: {
                    int pool = v == Variant.FULL_WAKE_POOL ? max : s[POOLSIZE];
                    int real = s[FN] + s[KEPT] - pool;
                    if (real < 0) violate("finishClose: L + keptAfterClose < the wake pool (pool permits missing)");
                    s[FN] = Math.max(real, 0);
                    s[b + PC] = FC3;
                    return true;
                }
                case FC3:
                    if (s[FN] > 0) {
                        store(s, "finishClose give");
                        s[K] += s[FN];
                    }
                    s[b + PC] = FC4;
                    return true;
                case FC4:
                    s[LOCK] = 0;
                    clearLockLocals(s);
                    s[b + PC] = FC5;
                    return true;
                case FC5:
                    s[SCLOSED] = 1;
                    s[FINCNT]++;
                    if (s[FINCNT] > 1) violate("finishClose ran more than once");
                    ret(s, b);
                    return true;

                case RF_SET:
                    s[PEND] = 1;
                    s[b + PC] = RF_CHECK;
                    return true;
                case RF_CHECK:
                    if (s[PEND] == 0) ret(s, b); else s[b + PC] = RF_TRY;
                    return true;
                case RF_TRY:
                    if (lockFree(s, t)) {
                        s[LOCK] = t + 1;
                        s[b + PC] = RF_CLR;
                    } else {
                        ret(s, b);
                    }
                    return true;
                case RF_CLR:
                    s[PEND] = 0;
                    s[b + PC] = F0;
                    return true;
                case RF_UNLOCK:
                    s[LOCK] = 0;
                    clearLockLocals(s);
                    s[b + PC] = kinds[t] == Kind.POLLER ? RF_POLLCHK : RF_CHECK;
                    return true;
                case RF_POLLCHK:
                    s[b + PC] = s[PEND] == 1 ? RF_STARTF : RF_CHECK;
                    return true;
                case RF_STARTF:
                    if (s[FSTART] == 0) {
                        s[FSTART] = 1;
                        int f = feeder();
                        if (s[b(f) + PC] != FD_IDLE) throw new IllegalStateException("two feeders");
                        s[b(f) + PC] = FD_START;
                    }
                    ret(s, b);
                    return true;

                case F0:
                    s[b + PC] = s[CL] == 1 ? RF_UNLOCK : F1;
                    return true;
                case F1:
                    s[FW] = s[DEM];
                    s[b + PC] = F2;
                    return true;
                case F2:
                    s[FL] = s[L];
                    if (s[FL] > s[FW]) {
                        s[FN] = s[FL] - s[FW];
                        s[b + PC] = F3;
                    } else {
                        s[b + PC] = F5;
                    }
                    return true;
                case F3:
                    s[b + PC] = acquireL(s, s[FN]) ? F4 : F5;
                    return true;
                case F4:
                    store(s, "giveBack");
                    s[K] += s[FN];
                    s[FN] = 0;
                    s[b + PC] = F5;
                    return true;
                case F5:
                    s[FW] = s[FL] = s[FN] = 0;
                    if (s[MW] == 0) s[b + PC] = s[OWNS] == 1 ? F6 : F8;
                    else s[b + PC] = s[OWNS] == 1 ? F8 : F7;
                    return true;
                case F6:
                    s[OWNS] = 0;
                    s[T]++;
                    if (s[T] > 1) violate("turnstile released twice");
                    s[b + PC] = F8;
                    return true;
                case F7:
                    store(s, "tryClaimGatherRight");
                    if (s[T] > 0) {
                        s[T] = 0;
                        s[OWNS] = 1;
                        s[b + PC] = F8;
                    } else {
                        violate("the gather right is taken though no other process exists");
                        s[b + PC] = RF_UNLOCK;
                    }
                    return true;
                case F8:
                    s[FW] = s[DEM];
                    s[b + PC] = F9;
                    return true;
                case F9:
                    // demand > L && L < MAX: both reads of L merged (L < MAX whenever a feed runs).
                    s[b + PC] = s[FW] > s[L] && s[L] < max ? F10 : F12;
                    s[FW] = 0;
                    return true;
                case F10:
                    store(s, "feed tryTakeOne");
                    if (s[K] > 0) {
                        s[K]--;
                        s[b + PC] = F11;
                    } else {
                        if (cfg.poller) s[ARMED] = 1;           // arm(false); without a poller, nothing reads it
                        s[b + PC] = RF_UNLOCK;
                    }
                    return true;
                case F11:
                    if (!releaseL(s, 1)) violate("feed: super.release(1) overflowed");
                    s[b + PC] = F8;
                    return true;
                case F12:
                    s[ARMED] = 0;                               // disarm()
                    s[b + PC] = RF_UNLOCK;
                    return true;

                // ---------------------------------------------------------- the closer
                case C0:
                    s[CL] = 1;
                    s[b + PC] = v == Variant.CLOSE_SKIPS_ACTIVE_WAIT ? C5 : C1;
                    return true;
                case C1:
                    s[CLOSERV] = 1;
                    s[b + PC] = C2;
                    return true;
                case C2:
                    if (s[ACT] != 0) {
                        s[b + PC] = C3;
                    } else {
                        // closer = null folded in: an unpark after this read has no effect, since the
                        // closer never parks again (so the stale permit is dropped too).
                        s[CLOSERV] = 0;
                        s[PERMIT] = 0;
                        s[b + PC] = C5;
                    }
                    return true;
                case C3:
                    if (s[PERMIT] == 0) return false;           // parked
                    s[PERMIT] = 0;
                    s[b + PC] = C2;
                    return true;
                case C5:
                    if (!lockFree(s, t)) return false;
                    s[LOCK] = t + 1;
                    s[b + PC] = C6;
                    return true;
                case C6:
                    s[ARMED] = 0;                               // disarm()
                    touchL(s);
                    s[b + X] = s[L];                            // drainPermits (L >= 0 here)
                    s[L] = 0;
                    s[b + PC] = s[b + X] > 0 ? C7 : (s[OWNS] == 1 ? C8 : afterDrain());
                    return true;
                case C7:
                    store(s, "close give(held)");
                    s[K] += s[b + X];
                    s[b + X] = 0;
                    s[b + PC] = s[OWNS] == 1 ? C8 : afterDrain();
                    return true;
                case C8:
                    s[OWNS] = 0;
                    s[T]++;
                    if (s[T] > 1) violate("turnstile released twice");
                    s[b + PC] = afterDrain();
                    return true;
                case C9:
                    s[PO] = 1;
                    s[b + FA] = exactClosedPool(s) ? 1 : 0;     // after == CLOSED | POOL
                    s[b + PC] = switch (v) {
                        case POOL_BIT_AFTER_POOL -> C11;
                        case NO_WAKE_POOL -> C11;
                        default -> C10;
                    };
                    return true;
                case C10:
                    if (v != Variant.FULL_WAKE_POOL) {
                        s[b + Y] = max - s[L];                   // room = WAKE_POOL - L
                        s[b + PC] = C10B;
                        return true;
                    }
                    if (releaseL(s, max)) {
                        s[POOLREL] = 1;
                    } else {
                        violate("close(): super.release(WAKE_POOL) throws Error(\"Maximum permit count exceeded\"): L is not 0"
                                + " when the wake pool goes in, and the pool is never released");
                        s[b + OUT] = OUT_THREW;
                    }
                    s[b + PC] = v == Variant.POOL_BIT_AFTER_POOL ? C9 : C11;
                    return true;
                case C10B:
                    if (releaseL(s, s[b + Y])) {
                        s[POOLSIZE] = s[b + Y];
                        s[POOLREL] = 1;
                        s[b + Y] = 0;
                        s[b + PC] = v == Variant.POOL_BIT_AFTER_POOL ? C9 : C11;
                    } else {
                        s[b + PC] = C10;                        // a waiter gave back meanwhile: look again
                    }
                    return true;
                case C11:
                    s[LOCK] = 0;
                    s[b + PC] = C12;
                    return true;
                case C12:
                    if (s[b + OUT] == 0) s[b + OUT] = OUT_NORMAL;
                    s[b + GONE] = 1;
                    if (s[b + FA] == 1) {
                        s[b + FA] = 0;
                        s[b + ACODE] = AC_FINISH;
                        call(s, b, AC, DONE);
                        return true;
                    }
                    s[b + PC] = DONE;
                    return true;

                // ---------------------------------------------------------- a waiter
                case W_ENTER:
                    s[ACT]++;
                    if (s[CL] == 1) {
                        s[b + OUT] = OUT_THREW;
                        s[b + GONE] = 1;                        // never waited, never touches a permit
                        call(s, b, LEAVE, DONE);
                    } else {
                        s[b + PC] = r == 1 ? W_TAKE1 : G0;
                    }
                    return true;
                case W_TAKE1:
                    if (acquireL(s, 1)) {
                        if (s[POOLREL] == 1) violate("a fast path took a pool permit");
                        s[b + PC] = W_TK_DEM;
                    } else {
                        s[b + PC] = W_TK_K;
                    }
                    return true;
                case W_TK_DEM:
                    if (s[DEM] > 0) call(s, b, RF_SET, W_FAST_OK); else s[b + PC] = W_FAST_OK;
                    return true;
                case W_TK_K:
                    store(s, "take tryTakeOne");
                    if (s[K] > 0) {
                        s[K]--;
                        s[b + PC] = W_FAST_OK;
                    } else {
                        s[b + PC] = A0;
                    }
                    return true;
                case W_FAST_OK:                                 // not a step of its own: the leave() is
                    s[b + OUT] = OUT_NORMAL;
                    s[ACT]--;
                    s[b + GONE] = 1;
                    s[b + RET] = DONE;
                    afterChange(s, b);
                    return true;
                case G0:
                    if (!lockFree(s, t)) return false;
                    s[LOCK] = t + 1;
                    s[b + PC] = G1;
                    return true;
                case G1:
                    s[GF] = Math.min(r, s[L]);
                    s[b + PC] = s[GF] > 0 ? G2 : gatherStore(s, r);
                    return true;
                case G2:
                    if (!acquireL(s, s[GF])) s[GF] = 0;
                    s[b + PC] = gatherStore(s, r);
                    return true;
                case G3ONE:
                    store(s, "gather tryTakeOne");
                    if (s[K] > 0) {
                        s[K]--;
                        s[GOK] = 1;
                    }
                    s[b + PC] = s[GOK] == 1 ? G5 : G4;
                    return true;
                case G3TURN:
                    store(s, "tryTake turnstile");
                    if (s[T] > 0) {
                        s[T] = 0;
                        s[GCLAIM] = 1;
                        s[b + PC] = G3CNT;
                    } else {
                        s[b + PC] = G4;
                    }
                    return true;
                case G3CNT:
                    store(s, "tryTake count");
                    s[b + PC] = s[K] < r - s[GF] ? G3REL : G3TAKE;
                    return true;
                case G3TAKE:
                    store(s, "tryTake tryTakeOne");
                    if (s[K] > 0) {
                        s[K]--;
                        s[GT]++;
                        if (s[GT] == r - s[GF]) {
                            s[GOK] = 1;
                            s[b + PC] = G3REL;
                        }
                    } else {
                        s[b + PC] = s[GT] > 0 ? G3GIVE : G3REL;
                    }
                    return true;
                case G3GIVE:
                    store(s, "tryTake give back");
                    s[K] += s[GT];
                    s[GT] = 0;
                    s[b + PC] = G3REL;
                    return true;
                case G3REL:
                    if (s[GCLAIM] == 1) {
                        s[T]++;
                        if (s[T] > 1) violate("turnstile released twice");
                        s[GCLAIM] = 0;
                        s[GT] = 0;
                        s[b + PC] = s[GOK] == 1 ? G5 : G4;
                        return true;
                    }
                    s[GT] = 0;
                    s[b + PC] = s[GOK] == 1 ? G5 : G4;
                    return step(s, t);                          // no turnstile to give back: not a step
                case G4:                                        // not taken
                    if (s[GF] > 0) {
                        if (!releaseL(s, s[GF])) violate("gather: super.release(fromLocal) overflowed");
                        s[GF] = 0;
                        s[b + PC] = G6;
                        return true;
                    }
                    s[b + PC] = G6;
                    return step(s, t);
                case G5:                                        // taken
                    s[b + TK] = 1;
                    if (s[POOLREL] == 1) violate("a fast path took a pool permit");
                    if (s[GF] > 0) {
                        s[b + PC] = s[DEM] > 0 ? G5B : G6;
                        return true;
                    }
                    s[b + PC] = G6;
                    return step(s, t);
                case G5B:
                    s[PEND] = 1;
                    s[b + PC] = G6;
                    return true;
                case G6:
                    s[LOCK] = 0;
                    clearLockLocals(s);
                    s[b + PC] = G7;
                    return true;
                case G7:
                    if (s[PEND] == 1) call(s, b, RF_SET, G8); else s[b + PC] = G8;
                    return true;
                case G8:                                        // control flow only, folded into the next step
                    if (s[b + TK] == 1) {
                        s[b + TK] = 0;
                        s[b + PC] = W_FAST_OK;
                    } else {
                        s[b + PC] = A0;
                    }
                    return step(s, t);
                case A0:
                    s[DEM] += r;
                    s[b + PC] = r > 1 ? A1 : A2;
                    return true;
                case A1:
                    s[MW]++;
                    s[b + PC] = A2;
                    return true;
                case A2:
                    s[WAIT]++;
                    s[ACT]--;
                    s[b + RET] = v == Variant.CTL_READ_BEFORE_ACQUIRE ? A5PRE : A3;
                    afterChange(s, b);
                    return true;
                case A5PRE:                                     // broken variant only
                    s[b + FA] = s[CL];
                    s[b + FB] = s[PO];
                    s[b + PC] = A3;
                    return true;
                case A3:
                    call(s, b, RF_SET, A4);
                    return step(s, t);                          // the call itself is not a step
                case A4:
                    if (!acquireL(s, r)) return false;          // blocks until L >= permits
                    s[b + FC] = s[POOLREL];
                    if (v == Variant.CTL_READ_BEFORE_ACQUIRE) {
                        s[b + PC] = afterCtlRead(s, b, r);
                        s[b + FB] = 0;
                    } else {
                        s[b + PC] = A5;
                    }
                    return true;
                case A5:
                    s[b + FA] = s[CL];
                    s[b + FB] = s[PO];
                    s[b + PC] = afterCtlRead(s, b, r);
                    s[b + FB] = 0;                              // dead from here
                    return true;
                case A6S:
                    if (s[b + FC] == 1) violate("a waiter gave pool permits to the store");
                    store(s, "returnAfterClose give");
                    s[K] += r;
                    s[b + PC] = r > 1 ? A7 : A8;
                    return true;
                case R0: {
                    int room = max - s[L];
                    if (room <= 0) {
                        s[b + PC] = R2;
                    } else {
                        s[b + Y] = Math.min(s[b + X], room);
                        s[b + PC] = R1;
                    }
                    return true;
                }
                case R1:
                    if (releaseL(s, s[b + Y])) {
                        s[b + X] -= s[b + Y];
                    }                                           // else: the Error is caught, look again
                    s[b + Y] = 0;
                    s[b + PC] = s[b + X] > 0 ? R0 : (r > 1 ? A7 : A8);
                    return true;
                case R2:
                    s[KEPT] += s[b + X];
                    s[b + X] = 0;
                    s[b + PC] = r > 1 ? A7 : A8;
                    return true;
                case A7:
                    s[MW]--;
                    s[b + PC] = A8;
                    return true;
                case A8:
                    s[DEM] -= r;
                    s[b + PC] = s[b + FA] == 0 ? A9A : A10;
                    return true;
                case A9A:
                    s[b + Y] = s[L];
                    s[b + PC] = A9B;
                    return true;
                case A9B:
                    if (s[b + Y] > s[DEM]) {
                        s[b + Y] = 0;
                        call(s, b, RF_SET, A10);
                    } else {
                        s[b + Y] = 0;
                        s[b + PC] = A9C;
                    }
                    return true;
                case A9C:
                    s[b + PC] = s[MW] == 0 ? A9D : A10;
                    return true;
                case A9D:
                    if (s[OWNS] == 1) call(s, b, RF_SET, A10); else s[b + PC] = A10;
                    return true;
                case A10:
                    s[WAIT]--;
                    s[b + GONE] = 1;
                    if (s[b + FA] == 1) {
                        s[b + OUT] = OUT_THREW;
                    } else {
                        s[b + OUT] = OUT_NORMAL;
                        if (s[b + FC] == 1) violate("a waiter returned normally holding pool permits");
                    }
                    s[b + FA] = s[b + FB] = s[b + FC] = 0;
                    s[b + RET] = DONE;
                    afterChange(s, b);
                    return true;

                // ---------------------------------------------------------- the barger: tryAcquire(1)
                case B0:
                    s[ACT]++;
                    if (s[CL] == 1) {
                        s[b + OUT] = OUT_THREW;
                        call(s, b, LEAVE, DONE);
                    } else {
                        s[b + PC] = B1;
                    }
                    return true;
                case B1:
                    if (acquireL(s, 1)) {
                        if (s[POOLREL] == 1) violate("the barger took a pool permit");
                        s[b + OUT] = OUT_NORMAL;
                        s[b + PC] = B2;
                    } else {
                        s[b + PC] = B3;
                    }
                    return true;
                case B2:
                    if (s[DEM] > 0) call(s, b, RF_SET, B_LEAVE); else s[b + PC] = B_LEAVE;
                    return true;
                case B3:
                    store(s, "barger tryTakeOne");
                    if (s[K] > 0) {
                        s[K]--;
                        s[b + OUT] = OUT_NORMAL;
                    } else {
                        s[b + OUT] = OUT_FALSE;
                    }
                    s[b + PC] = B_LEAVE;
                    return true;
                case B_LEAVE:
                    call(s, b, LEAVE, DONE);
                    return step(s, t);

                // ---------------------------------------------------------- the releaser: release(1)
                case E0:
                    s[ACT]++;
                    if (s[CL] == 1) {
                        s[b + OUT] = OUT_THREW;
                        call(s, b, LEAVE, DONE);
                    } else {
                        s[b + PC] = E1;
                    }
                    return true;
                case E1:
                    s[b + PC] = s[DEM] > 0 ? E2 : E6;
                    return true;
                case E2:
                    if (releaseL(s, 1)) s[RELEASED]++;
                    else violate("release: super.release(1) overflowed");
                    s[b + PC] = E3;
                    return true;
                case E3:
                    s[b + Y] = s[L];
                    s[b + PC] = E4;
                    return true;
                case E4:
                    if (s[b + Y] > s[DEM]) {
                        s[b + Y] = 0;
                        call(s, b, RF_SET, E_LEAVE);
                    } else {
                        s[b + Y] = 0;
                        s[b + PC] = E5;
                    }
                    return true;
                case E5:
                    s[b + PC] = s[MW] > 0 ? E5B : E_LEAVE;
                    return true;
                case E5B:
                    if (s[OWNS] == 0) call(s, b, RF_SET, E_LEAVE); else s[b + PC] = E_LEAVE;
                    return true;
                case E6:
                    store(s, "release give");
                    s[K]++;
                    s[RELEASED]++;
                    s[b + PC] = E_LEAVE;
                    return true;
                case E_LEAVE:
                    s[b + OUT] = OUT_NORMAL;
                    call(s, b, LEAVE, DONE);
                    return step(s, t);

                // ---------------------------------------------------------- the poller and the feeder
                case P_IDLE:
                    if (s[ARMED] == 0 || s[K] == 0 || s[SCLOSED] == 1) return false;
                    s[ARMED] = 0;                               // one-shot
                    s[b + PC] = P_ENTER;
                    return true;
                case P_ENTER:
                case FD_ENTER:
                    s[ACT]++;
                    if (s[CL] == 1) call(s, b, LEAVE, pc == P_ENTER ? P_IDLE : FD_IDLE);
                    else call(s, b, RF_SET, pc == P_ENTER ? P_LEAVE : FD_LEAVE);
                    return true;
                case P_LEAVE:
                case FD_LEAVE:
                    call(s, b, LEAVE, pc == P_LEAVE ? P_IDLE : FD_IDLE);
                    return step(s, t);
                case FD_IDLE:
                    return false;
                case FD_START:
                    s[FSTART] = 0;
                    s[b + PC] = FD_ENTER;
                    return true;
                default:
                    throw new IllegalStateException("no such pc " + pc);
            }
        }

        private int afterDrain() {
            return v == Variant.POOL_BIT_AFTER_POOL ? C10 : C9;
        }

        private int feeder() {
            for (int t = 0; t < n; t++) if (kinds[t] == Kind.FEEDER) return t;
            throw new IllegalStateException("no feeder");
        }

        /** gather: taken = fromLocal == permits || store.tryTake(permits - fromLocal, ownsGatherRight). */
        private int gatherStore(int[] s, int r) {
            int need = r - s[GF];
            if (need == 0) {
                s[GOK] = 1;
                return G5;
            }
            if (need == 1) return G3ONE;
            return s[OWNS] == 1 ? G3CNT : G3TURN;
        }

        /** The branch await's finally takes on c (FA = CLOSED, FB = POOL). */
        private int afterCtlRead(int[] s, int b, int r) {
            if (s[b + FA] == 0) return r > 1 ? A7 : A8;
            return switch (v) {
                case POOL_PERMITS_TO_STORE -> A6S;
                case WAITER_KEEPS_POOL_PERMITS -> s[b + FB] == 1 ? (r > 1 ? A7 : A8) : A6S;
                default -> {
                    if (s[b + FB] == 0) yield A6S;
                    s[b + X] = r;
                    yield R0;
                }
            };
        }

        /** The invariants of a final state: null if they hold, else the violation, then " :: " and details. */
        String finalViolation(int[] s) {
            if (s[FINCNT] != 1) return "finishClose did not run exactly once :: it ran " + s[FINCNT] + " times";
            if (s[L] != 0) return "permits left in L after finishClose";
            int held = 0;
            for (int t = 0; t < n; t++) {
                if ((kinds[t] == Kind.WAITER || kinds[t] == Kind.BARGER) && s[b(t) + OUT] == OUT_NORMAL) held += req[t];
            }
            int expected = cfg.initialK + s[RELEASED];
            if (s[K] + held != expected) {
                return (s[K] + held > expected ? "permit created" : "permit lost")
                        + " :: K + held by normal returns = " + s[K] + " + " + held + " != initial + released = " + expected;
            }
            if (s[T] != 1 || s[OWNS] != 0) return "turnstile not given back";
            if (s[DEM] != 0 || s[MW] != 0 || s[WAIT] != 0 || s[ACT] != 0) return "demand or ctl counts not 0 at the end";
            return null;
        }

        String describe(int[] s) {
            StringBuilder sb = new StringBuilder();
            sb.append("ctl=").append(s[CL] == 1 ? "C" : "-").append(s[PO] == 1 ? "P" : "-").append(s[FI] == 1 ? "F" : "-")
                    .append(" active=").append(s[ACT]).append(" waiting=").append(s[WAIT])
                    .append(" | L=").append(s[L]).append(" K=").append(s[K]).append(" demand=").append(s[DEM])
                    .append(" kept=").append(s[KEPT]).append(" released=").append(s[RELEASED]);
            if (s[LOCK] != 0) sb.append(" lock=").append(names[s[LOCK] - 1]);
            if (s[PEND] == 1) sb.append(" pending");
            if (s[ARMED] == 1) sb.append(" armed");
            if (s[OWNS] == 1) sb.append(" ownsGatherRight");
            if (s[POOLREL] == 1) sb.append(" pool-in");
            if (s[SCLOSED] == 1) sb.append(" store-closed");
            return sb.toString();
        }

        String where(int[] s) {
            StringBuilder sb = new StringBuilder();
            for (int t = 0; t < n; t++) {
                if (t > 0) sb.append("; ");
                sb.append(names[t]).append(" at ").append(PC_NAME[s[b(t) + PC]]);
            }
            return sb.toString();
        }
    }

    // ------------------------------------------------------------------ the checker

    static final class Result {
        final Config cfg;
        long states, edges, finals;
        final Map<String, String> violations = new LinkedHashMap<>();

        Result(Config cfg) { this.cfg = cfg; }

        String summary() {
            return String.format("%-52s %9d states %10d transitions %7d final states, %s", cfg.name, states, edges, finals,
                    violations.isEmpty() ? "no violation" : violations.size() + " kinds of violation: " + violations.keySet());
        }

        String report() {
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, String> e : violations.entrySet()) {
                sb.append("\n[").append(cfg.name).append("] ").append(e.getKey()).append("\nshortest trace:\n").append(e.getValue());
            }
            return sb.toString();
        }
    }

    /** A hash set of packed states that numbers them in insertion order. */
    static final class StateTable {
        final int w;
        long[] keys = new long[1 << 16];
        int[] slots = new int[1 << 16];   // index + 1, 0 = empty
        int size;

        StateTable(int w) { this.w = w; keys = new long[w << 16]; }

        private static int hash(long[] k) {
            long h = 0x9E3779B97F4A7C15L;
            for (long x : k) h = Long.rotateLeft((h ^ x) * 0x9E3779B97F4A7C15L, 29);
            h ^= h >>> 33;                       // murmur3's finalizer
            h *= 0xFF51AFD7ED558CCDL;
            h ^= h >>> 33;
            h *= 0xC4CEB9FE1A85EC53L;
            h ^= h >>> 33;
            return (int) h;
        }

        private boolean same(int idx, long[] k) {
            int at = idx * w;
            for (int i = 0; i < w; i++) if (keys[at + i] != k[i]) return false;
            return true;
        }

        /** The index of k; adds it (index = size) if new. */
        int addOrGet(long[] k) {
            if ((size + 1) * 2 > slots.length) grow();
            int mask = slots.length - 1;
            for (int i = hash(k) & mask; ; i = (i + 1) & mask) {
                int e = slots[i];
                if (e == 0) {
                    if ((size + 1) * w > keys.length) keys = Arrays.copyOf(keys, keys.length * 2);
                    System.arraycopy(k, 0, keys, size * w, w);
                    slots[i] = ++size;
                    return size - 1;
                }
                if (same(e - 1, k)) return e - 1;
            }
        }

        private void grow() {
            int[] old = slots;
            slots = new int[old.length * 2];
            int mask = slots.length - 1;
            long[] k = new long[w];
            for (int e : old) {
                if (e == 0) continue;
                System.arraycopy(keys, (e - 1) * w, k, 0, w);
                int i = hash(k) & mask;
                while (slots[i] != 0) i = (i + 1) & mask;
                slots[i] = e;
            }
        }
    }

    static final class IntList {
        int[] a = new int[1 << 16];
        int size;

        void add(int x) {
            if (size == a.length) a = Arrays.copyOf(a, a.length * 2);
            a[size++] = x;
        }
    }

    static Result check(Config cfg) {
        Model m = new Model(cfg);
        Result res = new Result(cfg);
        StateTable table = new StateTable(m.words);
        IntList parent = new IntList(), mover = new IntList(), succ = new IntList(), succStart = new IntList();
        IntList finals = new IntList();
        Map<String, int[]> firstSeen = new LinkedHashMap<>();   // kind -> {state, thread or -1}
        Map<String, String> details = new LinkedHashMap<>();
        table.addOrGet(m.pack(m.initial()));
        parent.add(-1);
        mover.add(-1);
        int[] cur = new int[m.len], next = new int[m.len];
        for (int i = 0; i < table.size; i++) {
            m.unpack(table.keys, i * m.words, cur);
            succStart.add(succ.size);
            boolean moved = false;
            for (int t = 0; t < m.n; t++) {
                System.arraycopy(cur, 0, next, 0, m.len);
                m.viol = null;
                if (!m.step(next, t)) continue;
                moved = true;
                int before = table.size;
                int j = table.addOrGet(m.pack(next));
                if (j == before) {
                    parent.add(i);
                    mover.add(t);
                }
                succ.add(j);
                if (m.viol != null) firstSeen.putIfAbsent(m.viol, new int[] {i, t});
            }
            if (m.isFinal(cur)) {
                finals.add(i);
                String fv = m.finalViolation(cur);
                if (fv != null) {
                    String[] kd = fv.split(" :: ", 2);
                    if (firstSeen.putIfAbsent("final state: " + kd[0], new int[] {i, -1}) == null && kd.length > 1) {
                        details.put("final state: " + kd[0], kd[1]);
                    }
                }
            } else if (!moved) {
                firstSeen.putIfAbsent("deadlock: a thread waits and no thread can move", new int[] {i, -1});
            }
        }
        succStart.add(succ.size);
        res.states = table.size;
        res.edges = succ.size;
        res.finals = finals.size;

        // From every state, a final state must stay reachable: backwards search from the final states.
        int nStates = table.size;
        int[] revStart = new int[nStates + 1];
        for (int e = 0; e < succ.size; e++) revStart[succ.a[e] + 1]++;
        for (int i = 0; i < nStates; i++) revStart[i + 1] += revStart[i];
        int[] rev = new int[succ.size];
        int[] fill = Arrays.copyOf(revStart, nStates);
        for (int i = 0; i < nStates; i++) {
            for (int e = succStart.a[i]; e < succStart.a[i + 1]; e++) rev[fill[succ.a[e]]++] = i;
        }
        boolean[] canFinish = new boolean[nStates];
        int[] queue = new int[nStates];
        int qh = 0, qt = 0;
        for (int f = 0; f < finals.size; f++) {
            canFinish[finals.a[f]] = true;
            queue[qt++] = finals.a[f];
        }
        while (qh < qt) {
            int j = queue[qh++];
            for (int e = revStart[j]; e < revStart[j + 1]; e++) {
                int i = rev[e];
                if (!canFinish[i]) {
                    canFinish[i] = true;
                    queue[qt++] = i;
                }
            }
        }
        for (int i = 0; i < nStates; i++) {
            if (!canFinish[i]) {
                firstSeen.putIfAbsent("no final state reachable (deadlock or livelock)", new int[] {i, -1});
                break;
            }
        }

        for (Map.Entry<String, int[]> e : firstSeen.entrySet()) {
            String tr = trace(m, table, parent, mover, e.getValue()[0], e.getValue()[1]);
            if (details.containsKey(e.getKey())) tr += "   " + details.get(e.getKey()) + "\n";
            res.violations.put(e.getKey(), tr);
        }
        return res;
    }

    /** Replays the shortest path to state {@code target}, then thread {@code last}'s step if last >= 0. */
    static String trace(Model m, StateTable table, IntList parent, IntList mover, int target, int last) {
        List<Integer> path = new ArrayList<>();
        for (int i = target; i > 0; i = parent.a[i]) path.add(mover.a[i]);
        java.util.Collections.reverse(path);
        if (last >= 0) path.add(last);
        int[] s = m.initial();
        StringBuilder sb = new StringBuilder();
        sb.append("   initial: ").append(m.describe(s)).append('\n');
        int k = 1;
        for (int t : path) {
            m.viol = null;
            m.trail = new StringBuilder();
            if (!m.step(s, t)) throw new IllegalStateException("trace replay: thread cannot move");
            String what = m.trail.toString();
            m.trail = null;
            sb.append(String.format("%4d %-14s %-62s -> %s%n", k++, m.names[t], what, m.describe(s)));
            if (m.viol != null) sb.append("     !!! ").append(m.viol).append('\n');
        }
        sb.append("   threads: ").append(m.where(s)).append('\n');
        return sb.toString();
    }
}
