package dev.eventfd.sync.internal.store;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * A crash-exact count of permits in memory shared by several processes: each process records what it
 * holds in a slot of its own, so when it dies its permits are exactly what its slot says.
 *
 * <h2>Implementation overview</h2>
 *
 * <p><b>Layout</b> (version 4). 64-bit words, each group written by different processes on its own
 * 64-byte line:
 * <pre>
 *   line 0  MAGIC_VERSION, SLOT_COUNT, HIGH_WATER (how many slots were ever claimed; only grows),
 *           GATHER (0, or the slot + 1 and generation of the process holding the gather right),
 *           TICKETS (the next ticket of a fair waiter; only grows)
 *   line 1  BASE: the initial permits plus every permit given beyond its giver's holding; only grows
 *   line 2+ one line per slot, written by its owner (and by whoever recovers or claims the slot, and,
 *           in the slot word, by a process that waits (HINT) or takes a cache (CACHED)):
 *           +0  the slot word: LIVE (bit 63) | WAITING (bit 62) | HINT (bit 61) |
 *               generation (bits 45..60) | CACHED (bits 34..44) | KEPT (bits 0..33)
 *           +8  INFLIGHT: what takes from the pool in progress have added (see the steps)
 *           +16 SINCE: when KEPT last rose from 0 (ms since the epoch, from {@link CoarseClock}: up to
 *               a tick early); meaningful while KEPT &gt; 0
 *           +24 WAITERS: how many of the owner's threads wait
 *           +32 PID, +40 PID_NS: the owner's pid in its own PID namespace, and that namespace's inode
 *           +48 DIED: generation | KEPT of the last generation that died holding permits, and
 *               REPORTED (bit 63) once an acquirer has been told
 *           +56 TURN: 0, or 1 + the smallest ticket among the owner's fair waiters
 * </pre>
 * KEPT is what the owner's threads hold. CACHED is a cache: permits the owner's releases kept in
 * its slot instead of the pool, which its next acquires take with one CAS of its own word and which
 * any process may take back to the pool (a CAS to CACHED = 0) whenever it needs them. WAITING says
 * that the owner's threads wait; HINT, that another process may wait (a waiter sets it in every
 * live slot but its own, the owner clears it), so the owner's next release goes to the pool and
 * rings. Layout version 3 kept the threads' holding in a word of its own (OWNED) and had no cache.
 * A process that never publishes a turn (a non-fair one, or the C peer) leaves its TURN zero, and
 * every claimant zeroes the TURN a dead owner left.
 * Only the slot words, INFLIGHT and BASE take part in the permit count; the other words say who
 * holds what ({@link #holders}) and whether a holder died ({@link #takeDeathReport}).
 * Each change is one atomic instruction ({@code lock xadd}, {@code lock cmpxchg}), atomic between
 * processes that map the same page.
 *
 * <p><b>Invariant.</b> Let the holding of a LIVE slot be {@code KEPT + CACHED + INFLIGHT}; a FREE
 * slot holds nothing. The pool, {@code BASE - Σ holding(LIVE slots)}, is what is free outside the
 * caches; the permits free are the pool plus every cache ({@link #available}). A LIVE slot's KEPT is
 * exactly what its owner's threads hold; its INFLIGHT is what takes in progress have added and not
 * yet moved to KEPT or backed off. No set of holdings exceeds {@code BASE}: of any holdings whose sum
 * would, the one added last read all the others while they were there (each taker adds to its own
 * INFLIGHT, then reads every other slot: sequentially consistent accesses, Dekker pair "sum"). A
 * reader of a slot reads INFLIGHT before the word, and a take moves its permits to KEPT before it
 * takes them off INFLIGHT, so a reader may count a take twice, never zero times.
 *
 * <p><b>Steps</b>, and why a death after any of them loses nothing and creates nothing:
 * <ul>
 *   <li>{@link #tryTakeCached} (the common acquire, no system call, no sum): one CAS of the own word
 *       from a LIVE word of the own generation with WAITING and HINT clear and {@code CACHED >= n}
 *       to {@code CACHED - n, KEPT + n}. The holding does not change, so nobody else needs to look.
 *   <li>{@link #tryGiveCached} (the common release): one CAS of the own word from such a word with
 *       {@code KEPT >= n} and room in CACHED to {@code KEPT - n, CACHED + n}. It rings nobody, and
 *       needs not: a process that begins to wait sets HINT in this word and only then looks at it
 *       (Dekker pair "hint": the waiter's CAS, then its look; this CAS, whose expected word has
 *       HINT clear), so either the look sees the cached permits and takes them, or this CAS fails
 *       and the release goes the general way, to the pool, with a ring.
 *   <li>{@link #tryTake} (from the pool): first return the own cache to the pool (a CAS to
 *       CACHED = 0); add n to the own INFLIGHT; read every LIVE slot below HIGH_WATER (INFLIGHT,
 *       then the word) and BASE; if the pool is not overdrawn, move the n to KEPT (a CAS of the own
 *       word), then take them off INFLIGHT, and ring the waiters if a permit is free (between the two
 *       the n count twice, so a contender that backed off then may have found none free and rung
 *       nobody); else take every cache back to the pool (a CAS of each
 *       word with CACHED &gt; 0) and read again (twice at most), and failing that, subtract n from
 *       INFLIGHT, look again whether a permit is free (every slot, then BASE), and if one is, ring the
 *       waiters: a back-off is then a release, since another contender may have failed because of
 *       this one's add and backed off before it. Of contenders that fail for each other, the last to
 *       back off sees the others' back-offs, so it rings; a back-off under a real shortage rings
 *       nobody. A death after the add leaves n in INFLIGHT, which the recovery drops with the rest
 *       of the slot.
 *   <li>{@link #give} (to the pool): take {@code k = min(n, KEPT)} off KEPT, and the whole cache with
 *       it if WAITING or HINT is set (one CAS of the own word), then add {@code n - k} to BASE (a
 *       gift, kept when the giver dies), then ring the waiters. A death between the two is the same
 *       as a death before the release: the recovery returns the k permits anyway, and the gift was
 *       never made. The other order would create permits for a moment (and for good if the giver
 *       died in between). A give that finds HINT set and no other process waiting clears HINT (a
 *       CAS), then looks at the WAITING bits again and sets it again if one is set (Dekker pair
 *       "hint" with a waiter that sets its WAITING bit and then HINT).
 *   <li>Waiting: set the own WAITING bit, then HINT in every other LIVE slot below HIGH_WATER, try
 *       once more, and only then sleep on the own doorbell (Dekker pair "doorbell": the waiter writes
 *       its bits, then reads the slots; a releaser to the pool writes a slot or BASE, then reads the
 *       WAITING bits), so either the retry sees the release or the releaser sees the bit and rings. A
 *       cache-only release cannot be missed either (pair "hint" above).
 *   <li>{@link #claim}: take the slot's liveness lock (an OFD lock, which the kernel drops when the
 *       process dies), raise HIGH_WATER above it, zero INFLIGHT and the other words, then CAS the word
 *       to {@code LIVE | gen + 1 | 0}, then read every other slot's WAITING bit and set the own HINT if
 *       one is set (Dekker pair "joiner": the claimant writes LIVE, then reads the bits; a waiter
 *       writes its bit, then reads LIVE to set HINT, so one of them sees the other). The lock comes
 *       first: a LIVE word whose lock is free belongs to a dead process. If the word was LIVE, the
 *       claimant has recovered it and rings (its dead owner may have owed a ring). It also rings if the
 *       INFLIGHT it reset was not 0 (a dead owner's, left by its recovery: a sum that read it before
 *       the reset and the LIVE word after counted it once more, and its back-off may have rung
 *       nobody). HIGH_WATER is
 *       raised before the slot can hold anything (pair "high water": the claimant raises it and
 *       then adds; a taker adds and then reads it), so every sum includes every slot that could
 *       matter.
 *   <li>{@link #recover}: read a LIVE word, find its lock free, CAS it to FREE keeping its generation
 *       (KEPT, CACHED and INFLIGHT all come back at once), then ring every waiter, whatever the slot
 *       held (its owner may have died between a release and its ring). The CAS fails if the word
 *       changed, so two recoverers, or a recoverer and a claimant that already took the slot over
 *       (a new generation), cannot both act. A recoverer's own death leaves the word as it was, or
 *       FREE.
 *   <li>{@link #close}: set the own HINT, then CAS the own word to FREE (returning what the process
 *       held and cached; marked as a death if KEPT &gt; 0), ring, then drop the lock. A cached take or
 *       give that runs concurrently fails its CAS once HINT is set (it expects HINT clear and a LIVE
 *       word of the own generation), so the semaphore lets those two run outside its close gate; and
 *       KEPT, which only they and this process's gated steps change, stays as the mark read it.
 *   <li>The gather right ({@link #tryClaimGatherRight}): the one process whose threads may hold part
 *       of a multi-permit request while they wait for the rest (see {@code PermitStore}). GATHER names
 *       its holder's slot and generation, and is valid only while that slot is LIVE with that
 *       generation and its lock is held: a claimant that finds it naming a dead owner recovers the
 *       slot (which returns the gathered permits too) and CASes GATHER to itself; one naming a FREE
 *       or taken-over slot is free already. So a death while gathering, or between a recovery and
 *       anything after it, never leaves the right taken. Releasing it CASes GATHER to 0 and rings
 *       (Dekker pair "doorbell" again: a waiter for the right sets its bit, then reads GATHER).
 * </ul>
 * What a dead process had given beyond its holdings stays given; what it held or cached comes back.
 * (System V's {@code SEM_UNDO} undoes both, and clamps at 0.) A process's threads hold at most
 * {@value #MAX_KEPT} permits at once (a take beyond it throws), and a cache holds at most
 * {@value #MAX_CACHED}.
 *
 * <p><b>Death reports.</b> A recoverer (or a claimant taking over a dead slot) that finds the dead
 * owner's KEPT above 0 writes DIED = its generation | KEPT (of the word it is about to free) before
 * the CAS that frees the slot, so the mark is of exactly the word the CAS frees. A generation is
 * marked at most once: DIED is replaced only by a newer generation's mark, so a recoverer that
 * stalled cannot mark a death again once it has been reported. Since the mark precedes the free, an
 * acquirer that got a dead holder's permits finds it; {@link #takeDeathReport} sets REPORTED, so one
 * acquirer is told. For a lock (one permit) this is exact: the first holder after the death is
 * told, and nobody else. A death between a take's add to INFLIGHT and its move to KEPT is reported
 * as a death not holding the permits in flight; permits only cached were held by no thread, and are
 * not reported. A process that leaves ({@link #close}) holding permits is marked as one that died
 * holding them. A barging take that finds a WAITING bit checks that its owner lives (recovering it
 * if not) before it backs off for it.
 *
 * <p>{@code SlotProtocolModelTest} explores every
 * interleaving of this protocol with deaths at every step (turns and the gather right included), and
 * each of sixteen broken variants of it.
 *
 * <p>"Ring the waiters" means every process whose WAITING bit is set, the ringing one included: a
 * process has many threads, and the one that sleeps on its doorbell is not the one that releases. (The
 * model's processes are single-threaded, so there a process never rings itself.)
 *
 * <p><b>No process starves the others.</b> A barging take ({@code tryTake(n, true)}: a thread that
 * has not waited) also backs off when its scan finds another process's WAITING bit, and the
 * semaphore releases through the store (not to its own waiters) while another process waits; the
 * release rings every waiting process, the releaser's own included, and their waiters' takes race
 * on equal terms. (Without it, one JVM whose threads handed permits to each other got 99.6% of
 * the grants of four.) Caches keep this: a waiting process sets HINT in every other slot, which
 * stops their cached takes and gives, and its own look takes their caches back to the pool. A back-off for a waiting process is a back-off like any other: it rings if a
 * permit is free.
 *
 * <p><b>FIFO between fair processes: turns.</b> A fair semaphore's waiter takes a ticket
 * ({@link #newTicket}: one {@code lock xadd} on TICKETS, so tickets are ordered as the waits
 * began) and its process publishes the smallest ticket among its waiters as its slot's TURN
 * ({@link #publishTurn}). A take for waiters ({@code tryTake(n)}, not a barging one) by a process
 * with a TURN first reads every other LIVE slot's TURN, and gives up at once, changing nothing,
 * if one is smaller and its owner lives: it reads the TURN, the word (LIVE), the lock (held), and
 * the TURN again, since a claimant zeroes the TURN a dead owner left before the CAS that makes the
 * word its own, and rings nobody when the slot it claims was FREE. A dead owner's slot is
 * recovered, and its TURN counts for nothing. So the process whose waiter waits longest takes
 * first; the others wait on their doorbells: a process that would give way is not ready to take
 * ({@link #mayTake}), so its watch sleeps until a release, a recovery or a turn change rings it.
 * The holder of the gather right takes whatever its turn: a process with an earlier turn that
 * needs several permits waits for the right anyway, and would otherwise wait for the holder,
 * which waited for it. A back-off under contention that leaves a permit free
 * rings the waiters, the backing-off process's own doorbell included: the process the others give
 * way to must look again itself. Nothing is lost by giving up: the permit stays free, the process with the
 * smaller turn is rung by the release that freed it like every waiter, and a process whose TURN
 * rises or clears (its waiter got the permit, timed out or was interrupted) rings the waiters, so
 * those that gave up for it look again. The process with the smallest live TURN never gives up for
 * a turn, so some process always makes progress. A death at any step keeps this: TURN is read
 * only through LIVE words whose lock is held, and no permit is held while a turn is checked.
 * Barging takes are unchanged: in both modes a thread that has not waited already backs off for
 * any waiting process, which is what a fair {@code Semaphore} asks of a newcomer. The order is
 * that of the tickets: two waits that began one after the other (the first seen waiting before
 * the second started) are served in that order, and a wait whose turn is not yet published can
 * be passed by one that began a moment later. A non-fair process publishes no turn: the fair ones
 * do not wait for it, and it takes its chance as before.
 *
 * <p><b>What it does not do.</b> Contenders without turns can each back off for the other and
 * retry: each rings the other, so neither sleeps for good, but no order among them is kept.
 * Waiting itself (the doorbells and the poller) and the liveness locks are the caller's; this
 * class only tells whom to ring.
 */
public final class SlotPermits {

    /** Rings the doorbell of the process that owns a slot. */
    public interface Doorbells {
        void ring(int slot);

        /** This process freed slot {@code slot} of a dead owner (pid and namespace as it recorded them), whose threads held {@code permits}. */
        default void recovered(int slot, long pid, long pidNamespace, long permits) {}
    }

    /** The slots' liveness locks: held by a slot's owner while it lives, dropped by the kernel when it dies. */
    public interface Liveness {
        /** Takes slot's lock for this process, without waiting. @return {@code false} if another holds it */
        boolean tryLock(int slot);

        /** Drops this process's lock of slot. */
        void unlock(int slot);

        /** Whether another process holds slot's lock (so its owner lives). */
        boolean heldByAnother(int slot);
    }

    public static final int LINE = 64;
    /** "EFDSLOT" and layout version 4. */
    static final long MAGIC_VERSION = 0x45464453_4c4f5404L;
    private static final long SLOT_COUNT = 8, HIGH_WATER = 16, GATHER = 24, TICKETS = 32, BASE = LINE, SLOTS = 2L * LINE;

    /** The words of a slot's line after its slot word; see the layout. */
    private static final long INFLIGHT = 8, SINCE = 16, WAITERS = 24, PID = 32, PID_NS = 40, DIED = 48, TURN = 56;
    static final long LIVE = 1L << 63, WAITING = 1L << 62, HINT = 1L << 61, REPORTED = 1L << 63;
    static final int GEN_SHIFT = 45, CACHED_SHIFT = 34;
    static final long KEPT_MASK = (1L << CACHED_SHIFT) - 1;
    static final long CACHED_MASK = ((1L << (GEN_SHIFT - CACHED_SHIFT)) - 1) << CACHED_SHIFT;
    static final long GEN_MASK = ((1L << (61 - GEN_SHIFT)) - 1) << GEN_SHIFT;
    /** The most permits free or held at once: a semaphore's count is an {@code int}. */
    public static final long MAX_PERMITS = Integer.MAX_VALUE;
    /** The most permits one process's threads can hold at once. */
    public static final long MAX_KEPT = KEPT_MASK;
    /** The most permits a cache holds. */
    public static final long MAX_CACHED = CACHED_MASK >>> CACHED_SHIFT;
    /** The bits of the own word that a cached take or give needs as {@link #ownLive} has them: LIVE, the own generation, WAITING and HINT clear. */
    private static final long CACHE_GATE = LIVE | WAITING | HINT | GEN_MASK;

    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment memory;
    private final int slotCount;
    private final Doorbells doorbells;
    private final Liveness liveness;
    private volatile int slot = -1;     // the own slot once claimed; -1 again after close()
    /**
     * LIVE | the own generation, and the own word's offset: written before {@link #slot} publishes the
     * claim, never changed after (a cached step after {@link #close} fails on the FREE word instead).
     */
    private long ownLive, ownAt = -1;
    /**
     * The own word as this process's last cached step left it: the expected value of the next one's
     * CAS, so that the common case is one access of the shared word, not two. A guess (plain, racy):
     * a wrong one costs a failed CAS, which returns the word as it is.
     */
    private long guess;
    /** The SINCE value this process wrote last (racy by design: a stale value only costs a write). */
    private long lastStamp;

    private SlotPermits(MemorySegment memory, int slotCount, Doorbells doorbells, Liveness liveness) {
        this.memory = memory;
        this.slotCount = slotCount;
        this.doorbells = doorbells;
        this.liveness = liveness;
    }

    /** Bytes of shared memory for {@code slots} processes. */
    public static long bytesFor(int slots) {
        return SLOTS + (long) slots * LINE;
    }

    /**
     * Lays out fresh, zeroed memory for {@code slots} processes and {@code initial} permits, and
     * claims a slot in it for this process.
     */
    public static SlotPermits create(MemorySegment memory, int slots, long initial, Doorbells doorbells, Liveness liveness) {
        layOut(memory, slots, initial);
        return attach(memory, doorbells, liveness);
    }

    /** Lays out fresh, zeroed memory for {@code slots} processes and {@code initial} permits; claims nothing. */
    public static void layOut(MemorySegment memory, int slots, long initial) {
        if (slots < 1 || memory.byteSize() < bytesFor(slots)) {
            throw new IllegalArgumentException(memory.byteSize() + " bytes cannot hold " + slots + " slots");
        }
        if (initial < 0 || initial > MAX_PERMITS) {
            throw new IllegalArgumentException("initial permits " + initial + " not in [0, " + MAX_PERMITS + "]");
        }
        WORD.setVolatile(memory, SLOT_COUNT, (long) slots);
        WORD.setVolatile(memory, BASE, initial);
        WORD.setVolatile(memory, 0L, MAGIC_VERSION);   // last: a reader that sees the magic sees the rest
    }

    /** Joins memory laid out by {@link #create} and claims a slot in it for this process. */
    public static SlotPermits attach(MemorySegment memory, Doorbells doorbells, Liveness liveness) {
        if (memory.byteSize() < SLOTS || (long) WORD.getVolatile(memory, 0L) != MAGIC_VERSION) {
            throw new IllegalStateException("not a permit segment of layout version 4");
        }
        long slots = (long) WORD.getVolatile(memory, SLOT_COUNT);
        if (slots < 1 || memory.byteSize() < bytesFor((int) Math.min(slots, Integer.MAX_VALUE))) {
            throw new IllegalStateException("permit segment of " + memory.byteSize() + " bytes claims " + slots + " slots");
        }
        SlotPermits p = new SlotPermits(memory, (int) slots, doorbells, liveness);
        p.claim();
        return p;
    }

    private static long slotOffset(int slot) {
        return SLOTS + (long) slot * LINE;
    }

    private long word(int slot) {
        return (long) WORD.getVolatile(memory, slotOffset(slot));
    }

    private long inflight(int slot) {
        return (long) WORD.getVolatile(memory, slotOffset(slot) + INFLIGHT);
    }

    static long kept(long word) {
        return word & KEPT_MASK;
    }

    static long cached(long word) {
        return (word & CACHED_MASK) >>> CACHED_SHIFT;
    }

    /** What a slot word itself holds for the permit count: KEPT and CACHED. */
    static long held(long word) {
        return kept(word) + cached(word);
    }

    /** How many slots other than this process's are LIVE now (owners alive, or dead and not yet recovered). */
    public int liveOthers() {
        int live = 0, high = highWater();
        for (int j = 0; j < high; j++) if (j != slot && (word(j) & LIVE) != 0) live++;
        return live;
    }

    /** How many slots the segment has. */
    public int slotCount() {
        return slotCount;
    }

    /** The own slot's index. */
    public int slot() {
        return slot;
    }

    /** Claims a free slot, or the slot of a dead process (recovering it); see the overview. */
    private void claim() {
        for (int j = 0; j < slotCount; j++) {
            if (!liveness.tryLock(j)) continue;          // another process owns it, or is claiming it
            raiseHighWater(j + 1);                       // pair "high water", claimant side: raised, then the slot can hold
            long line = slotOffset(j);
            for (;;) {
                long w = word(j);
                if ((w & LIVE) != 0) markDeath(j, w);
                // for the report of a recovery: the dead owner's words, before they are reset
                long pid = (long) WORD.getVolatile(memory, line + PID), pidNs = (long) WORD.getVolatile(memory, line + PID_NS);
                long stale = (long) WORD.getAndSet(memory, line + INFLIGHT, 0L);   // a dead owner's takes in flight end with it
                WORD.setVolatile(memory, line + WAITERS, 0L);
                WORD.setVolatile(memory, line + PID, OWN_PID);
                WORD.setVolatile(memory, line + PID_NS, OWN_PID_NAMESPACE);
                WORD.setVolatile(memory, line + TURN, 0L);       // a dead owner's turn is not the claimant's
                long gen = ((w & GEN_MASK) + (1L << GEN_SHIFT)) & GEN_MASK;
                if (WORD.compareAndSet(memory, line, w, LIVE | gen)) {
                    ownLive = LIVE | gen;
                    ownAt = line;
                    guess = LIVE | gen;
                    slot = j;
                    // Dekker pair "joiner", claimant side: the word made LIVE, then the WAITING bits read
                    // (a waiter sets its bit, then HINT in every LIVE word). Also: no cache while BASE
                    // is above the maximum (see give).
                    if (othersWaiting() || (long) WORD.getVolatile(memory, BASE) > MAX_PERMITS) setHint(j);
                    if ((w & LIVE) != 0) {               // a dead owner's permits came back, or it owed a ring
                        ringWaiters();
                        doorbells.recovered(j, pid, pidNs, kept(w));
                    } else if (stale != 0) {
                        // A dead owner's INFLIGHT, left by its recovery, counted once more by a sum that read
                        // it before the reset and this LIVE word after: its back-off may have rung nobody.
                        ringWaiters();
                    }
                    return;
                }
                // a recoverer freed it, or a waiter or taker changed HINT or CACHED under us: read again
            }
        }
        throw new IllegalStateException("all " + slotCount + " slots of the permit segment are in use by live processes");
    }

    private void raiseHighWater(int atLeast) {
        for (long h; (h = (long) WORD.getVolatile(memory, HIGH_WATER)) < atLeast; ) {
            if (WORD.compareAndSet(memory, HIGH_WATER, h, (long) atLeast)) return;
        }
    }

    /**
     * Takes {@code n} permits from this process's cache: one CAS of the own word, no sum and no
     * system call. A barging take: it fails while any process waits (HINT or WAITING set).
     *
     * @return whether they were taken; if not, nothing changed, and {@link #tryTake} is the general way
     */
    public boolean tryTakeCached(long n) {
        return cachedStep(n, true);
    }

    /**
     * Returns {@code n} permits this process's threads hold to its cache: one CAS of the own word, no
     * system call. Fails while any process waits (HINT or WAITING set), so no waiter misses them.
     *
     * @return whether they were returned; if not, nothing changed, and {@link #give} is the general way
     */
    public boolean tryGiveCached(long n) {
        return cachedStep(n, false);
    }

    /**
     * A cached take ({@code take}: CACHED to KEPT) or give (KEPT to CACHED) of {@code n}: one CAS of
     * the own word, from the guess if it fits, else from the word as read. The caller's constant
     * {@code take} lets the JIT fold each call into its own small loop.
     */
    private boolean cachedStep(long n, boolean take) {
        long own = ownAt, gate = ownLive, c = n << CACHED_SHIFT;
        if (own < 0 || n < 1 || n > MAX_CACHED) return false;
        long w = guess;
        if (!fits(w, gate, c, n, take)) w = (long) WORD.getVolatile(memory, own);
        while (fits(w, gate, c, n, take)) {
            // Memory consistency: this CAS is a volatile read and write of the own word, so a thread's
            // cached give happens-before the cached take (by any thread of this process) that reads its value.
            // A take: the holding (KEPT + CACHED) stays as it was, so nobody else needs to look.
            // A give: Dekker pair "hint", owner side: a CAS from a word with HINT clear. A waiter sets
            // HINT here and then looks at this slot, so either it sees these permits cached (and takes
            // them back to the pool), or this CAS fails and the release goes to the pool, with a ring.
            long next = take ? w - c + n : w - n + c, found = (long) WORD.compareAndExchange(memory, own, w, next);
            if (found == w) {
                guess = next;
                if (take && (w & KEPT_MASK) == 0) stamp(own);
                return true;
            }
            w = found;
        }
        return false;
    }

    /** Whether own word {@code w} allows the cached step: LIVE, own generation, nobody waiting, and room. */
    private static boolean fits(long w, long gate, long c, long n, boolean take) {
        if ((w & CACHE_GATE) != gate) return false;
        return take ? (w & CACHED_MASK) >= c && (w & KEPT_MASK) <= MAX_KEPT - n
                    : (w & KEPT_MASK) >= n && (w & CACHED_MASK) <= CACHED_MASK - c;
    }

    /** Writes SINCE for a rise of KEPT from 0, unless this process wrote that very stamp last. */
    private void stamp(long own) {
        long t = CoarseClock.millis();
        if (t == lastStamp) return;
        WORD.setRelease(memory, own + SINCE, t);
        lastStamp = t;
    }

    /** Takes {@code n} permits from the pool, all or none: {@code tryTake(n, false)}. */
    public boolean tryTake(long n) {
        return tryTake(n, false);
    }

    /**
     * Takes {@code n} permits from the pool (the own cache first returned to it, and other caches
     * taken back if the pool is short), all or none; a barging take (a thread that has not waited)
     * also backs off when another process waits, so that a process whose threads keep taking cannot
     * starve the others (it reads every slot anyway).
     *
     * @return whether they were taken; if not, nothing is held, and the waiters were rung if the
     *         take backed off with a permit free (a take that gave way to an earlier turn changed
     *         nothing and rings nobody)
     * @throws IllegalStateException if this process's threads would hold more than {@link #MAX_KEPT}
     */
    public boolean tryTake(long n, boolean barging) {
        int s = ownSlot(n);
        long own = slotOffset(s);
        if (!barging && !myTurn(own)) return false;      // a process whose waiter waits longer takes first
        takeBack(s);                                     // the own cache to the pool, where the sum sees it
        // Dekker pair "sum", taker side: the own INFLIGHT written (a full fence on x86: lock xadd), then every slot read.
        WORD.getAndAdd(memory, own + INFLIGHT, n);
        for (int round = 0; ; round++) {
            long sum = 0, caches = 0;
            int waiter = -1;                             // another process whose WAITING bit is set, if any
            int high = highWater();      // pair "high water", taker side: INFLIGHT written, then HIGH_WATER read
            for (int j = 0; j < high; j++) {
                long f = inflight(j);                    // INFLIGHT before the word: see the invariant
                long w = word(j);
                if ((w & LIVE) == 0) continue;
                sum += held(w) + f;
                caches += cached(w);
                if (j != s && (w & WAITING) != 0) waiter = j;
            }
            boolean free = (long) WORD.getVolatile(memory, BASE) - sum >= 0;   // BASE only grows: read last
            if (free && (waiter < 0 || !barging || !anotherWaiterLives())) {   // a dead waiter waits for nothing
                keep(s, n);
                return true;
            }
            if (free || caches == 0 || round == 2) break;
            for (int j = 0; j < high; j++) takeBack(j);  // the pool is short: every cache back to it, then look again
        }
        backOff(own, n);
        return false;
    }

    /**
     * Moves a take's {@code n} permits from INFLIGHT to KEPT (in that order of effects: KEPT first),
     * stamping SINCE when KEPT rises from 0; settles the own HINT if it is set.
     */
    private void keep(int s, long n) {
        long own = slotOffset(s);
        for (long w; ; ) {
            w = word(s);
            if ((w & LIVE) == 0) throw new IllegalStateException("this process has left the permit segment");
            if ((w & KEPT_MASK) > MAX_KEPT - n) {
                backOff(own, n);
                throw new IllegalStateException("this process's threads would hold more than " + MAX_KEPT + " permits");
            }
            if (WORD.compareAndSet(memory, own, w, w + n)) {
                WORD.getAndAdd(memory, own + INFLIGHT, -n);   // after the move: a reader counts the n at least once
                if ((w & KEPT_MASK) == 0) stamp(own);
                // Between the two the n counted twice: a contender that backed off then may have found no
                // permit free and rung nobody. Look now, as its back-off would have.
                ringIfAPermitIsFree();
                if ((w & HINT) != 0) settleHint(s);
                return;
            }
        }
    }

    /** Takes a failed take's {@code n} off the own INFLIGHT (at {@code own}): a back-off is a release when a permit is free. */
    private void backOff(long own, long n) {
        WORD.getAndAdd(memory, own + INFLIGHT, -n);
        ringIfAPermitIsFree();
    }

    /**
     * Rings the waiters if a permit is free: after a back-off, or a take whose permits counted twice for
     * a moment (in INFLIGHT and in KEPT), either of which may have made a contender back off and ring
     * nobody (see the overview).
     */
    private void ringIfAPermitIsFree() {
        if (available() > 0) ringWaiters();
    }

    /** Takes slot {@code j}'s cache back to the pool (a CAS to CACHED = 0), if it is LIVE and has one. */
    private void takeBack(int j) {
        long at = slotOffset(j);
        for (long w; ((w = (long) WORD.getVolatile(memory, at)) & LIVE) != 0 && (w & CACHED_MASK) != 0; ) {
            if (WORD.compareAndSet(memory, at, w, w & ~CACHED_MASK)) return;
        }
    }

    /**
     * Returns {@code n} permits to the pool: those this process's threads hold, and the rest as a
     * gift to every process.
     *
     * @throws Error "Maximum permit count exceeded" if the {@code n} would take the free permits past
     *               {@link #MAX_PERMITS}, nothing changed; if another process's gift raced a gift,
     *               what this process held of the {@code n} is returned all the same
     */
    public void give(long n) {
        int s = ownSlot(n);
        long own = slotOffset(s);
        long w, next, k;
        for (;;) {
            w = word(s);
            if ((w & LIVE) == 0) throw new IllegalStateException("this process has left the permit segment");
            k = Math.min(n, kept(w));
            // Refuse n that would take the free permits (BASE - the sum of KEPT and INFLIGHT) past the
            // maximum, before changing anything (addGift re-checks against a racing gift; only that race
            // can leave the k held permits returned when it throws). Free is at most BASE, so a return
            // alone can pass it only while BASE is above it (gifts made while permits were held): the
            // sum is taken only for a gift or then.
            long b = (long) WORD.getVolatile(memory, BASE);
            if ((n > k || b > MAX_PERMITS) && b - heldByAll() + n > MAX_PERMITS) {
                throw new Error("Maximum permit count exceeded");
            }
            next = w - k;
            if ((w & (WAITING | HINT)) != 0) next &= ~CACHED_MASK;   // someone waits: the cache goes to the pool too
            if (next == w || WORD.compareAndSet(memory, own, w, next)) break;
        }
        // Dekker pair "doorbell", releaser side: the slot (or BASE) written, then the WAITING bits read
        // (after a return alone, the own bit as the CAS above found it).
        if (n > k) {
            addGift(n - k, k);
            ringWaiters();
        } else {
            ringWaiters(s, next);
        }
        if ((w & HINT) != 0) settleHint(s);
    }

    /**
     * Clears the own HINT once no other process waits (and BASE is within the maximum), so that the
     * own releases may cache again; then looks at the WAITING bits again (Dekker pair "hint", owner
     * side, with a waiter that sets its bit and then HINT here), and if one is set, sets HINT again and
     * rings: a release between the two may have found HINT clear and cached.
     */
    private void settleHint(int s) {
        if (othersWaiting() || (long) WORD.getVolatile(memory, BASE) > MAX_PERMITS) return;
        long at = slotOffset(s);
        for (long w; ((w = (long) WORD.getVolatile(memory, at)) & HINT) != 0; ) {
            if (WORD.compareAndSet(memory, at, w, w & ~HINT)) break;
        }
        if (othersWaiting()) {
            setHint(s);
            takeBack(s);
            ringWaiters();
        }
    }

    /** Sets HINT in slot {@code j}'s word if it is LIVE. */
    private void setHint(int j) {
        long at = slotOffset(j);
        for (long w; ((w = (long) WORD.getVolatile(memory, at)) & (LIVE | HINT)) == LIVE; ) {
            if (WORD.compareAndSet(memory, at, w, w | HINT)) return;
        }
    }

    /**
     * Adds {@code gift} to BASE, the part of a give beyond what the process held; {@code returned}
     * permits of the give were returned already. A BASE above the maximum sets HINT everywhere: no
     * process caches then, since a cached release does not check the maximum.
     *
     * @throws Error "Maximum permit count exceeded" if another process's gift took the free permits
     *               so near the maximum that this one would pass it (the returned ones stay returned,
     *               and their waiters are rung)
     */
    private void addGift(long gift, long returned) {
        for (long b; ; ) {
            b = (long) WORD.getVolatile(memory, BASE);
            if (b + gift > MAX_PERMITS + heldByAll()) {
                if (returned > 0) ringWaiters();
                throw new Error("Maximum permit count exceeded");
            }
            if (WORD.compareAndSet(memory, BASE, b, b + gift)) {
                if (b + gift > MAX_PERMITS) {
                    int high = highWater();
                    for (int j = 0; j < high; j++) setHint(j);
                }
                return;
            }
        }
    }

    /** The sum of KEPT and INFLIGHT over the LIVE slots: held, or being taken (caches count as free). */
    private long heldByAll() {
        long sum = 0;
        int high = highWater();
        for (int j = 0; j < high; j++) {
            long f = inflight(j);                        // INFLIGHT before the word: see the invariant
            long w = word(j);
            if ((w & LIVE) != 0) sum += kept(w) + f;
        }
        return sum;
    }

    /**
     * Whether no other live process has a smaller turn than this one's (true if this one has none):
     * see "FIFO between fair processes". Recovers the slots of dead owners it finds with one.
     */
    private boolean myTurn(long own) {
        // Dekker pair "turn", taker side: the own WAITING bit was written (by the watch) before the
        // turns are read here; a publisher writes its TURN, then reads the WAITING bits (publishTurn).
        long mine = (long) WORD.getVolatile(memory, own + TURN);
        if (mine == 0) return true;
        if ((long) WORD.getVolatile(memory, GATHER) == ownGather()) return true;   // the gather right's holder goes
        int high = highWater();
        for (int j = 0; j < high; j++) {
            if (j == slot) continue;
            long line = slotOffset(j);
            long turn = (long) WORD.getVolatile(memory, line + TURN);
            if (turn == 0 || Long.compareUnsigned(turn, mine) >= 0 || (word(j) & LIVE) == 0) continue;
            if (!liveness.heldByAnother(j)) {
                recover(j);                              // it died: its turn is nobody's
                continue;
            }
            // Read again: the lock may be a claimant's, which zeroed the dead owner's turn before its CAS
            // made the word LIVE (and rings nobody when it claims a FREE slot).
            turn = (long) WORD.getVolatile(memory, line + TURN);
            if (turn != 0 && Long.compareUnsigned(turn, mine) < 0) return false;   // it lives, and its waiter waits longer
        }
        return true;
    }

    /**
     * Whether a take for this process's waiters could succeed now: a permit is free and no live
     * process has an earlier turn. A watch that finds this false sleeps until it is rung.
     */
    public boolean mayTake() {
        return available() > 0 && myTurn(ownOffset(1));
    }

    /** A ticket for a fair waiter that begins to wait: larger than every ticket taken before it. */
    public long newTicket() {
        return (long) WORD.getAndAdd(memory, TICKETS, 1L);
    }

    /**
     * Publishes the smallest ticket among this process's fair waiters as its turn, or none
     * ({@code ticket < 0}); rings the waiters when the turn rises or clears, since processes that
     * gave up for it may go now. The caller serializes its calls.
     */
    public void publishTurn(long ticket) {
        long own = ownOffset(1);
        long turn = ticket < 0 ? 0 : ticket + 1;
        // Dekker pair "turn", publisher side: TURN written (lock xchg), then the WAITING bits read by the ring.
        long before = (long) WORD.getAndSet(memory, own + TURN, turn);
        if (before != 0 && (turn == 0 || Long.compareUnsigned(turn, before) > 0)) ringWaiters();
    }

    /**
     * Sets or clears the own WAITING bit; setting it also sets HINT in every other LIVE slot. Set it,
     * then {@link #tryTake} once more, before sleeping.
     */
    public void waiting(boolean on) {
        int s = ownSlot(1);
        long own = slotOffset(s);
        for (long w; ((w = word(s)) & WAITING) != 0 != on; ) {
            // Dekker pair "doorbell", waiter side: the bit written (lock cmpxchg), then the slots read by the retry.
            if (WORD.compareAndSet(memory, own, w, w ^ WAITING)) break;
        }
        if (!on) return;
        // Dekker pair "hint", waiter side: HINT written in every other LIVE word, then the retry reads
        // them (a cached give expects HINT clear). Pair "joiner", waiter side: the bit, then LIVE read.
        int high = highWater();
        for (int j = 0; j < high; j++) if (j != s) setHint(j);
    }

    /**
     * Whether another process that waits is alive (a lock test per waiting slot); recovers the slots
     * of waiters that have died, so that their WAITING bits stop turning barging takes away.
     */
    private boolean anotherWaiterLives() {
        boolean lives = false;
        int high = highWater();
        for (int j = 0; j < high; j++) {
            if (j == slot || (word(j) & (LIVE | WAITING)) != (LIVE | WAITING)) continue;
            if (liveness.heldByAnother(j)) lives = true;
            else recover(j);
        }
        return lives;
    }

    /** Whether a process other than this one waits (its WAITING bit is set). */
    public boolean othersWaiting() {
        int high = highWater();
        for (int j = 0; j < high; j++) {
            if (j != slot && (word(j) & (LIVE | WAITING)) == (LIVE | WAITING)) return true;
        }
        return false;
    }

    /** The own slot's offset, checking {@code n} and that this process has not left. */
    private long ownOffset(long n) {
        return slotOffset(ownSlot(n));
    }

    /** The own slot, checking {@code n} and that this process has not left. */
    private int ownSlot(long n) {
        if (n < 1 || n > MAX_PERMITS) throw new IllegalArgumentException("permits " + n + " not in [1, " + MAX_PERMITS + "]");
        int s = slot;
        if (s < 0) throw new IllegalStateException("this process has left the permit segment");
        return s;
    }

    /**
     * Rings every process whose WAITING bit is set, this one included: a process has many threads, and
     * the one that waits is not the one that released (or backed off, or recovered).
     */
    private void ringWaiters() {
        ringWaiters(-1, 0L);
    }

    /**
     * {@link #ringWaiters()}, with the own slot {@code s}'s word taken as {@code ownWord} (none if
     * {@code s < 0}), as the atomic update of it that this ring follows returned it: a watch sets the own
     * WAITING bit by CAS on that word, so either the update saw the bit, or the watch's retry sees the
     * update (Dekker pair "doorbell", releaser side: the slot, or BASE, written, then the bits read).
     */
    private void ringWaiters(int s, long ownWord) {
        int high = highWater();
        for (int j = 0; j < high; j++) {
            long w = j == s ? ownWord : word(j);
            if ((w & (LIVE | WAITING)) == (LIVE | WAITING)) doorbells.ring(j);
        }
    }

    /**
     * Frees slot {@code j} if its owner has died, returning what it held, and rings every waiter.
     *
     * @return whether this call freed it
     */
    public boolean recover(int j) {
        if (j < 0 || j >= slotCount) throw new IndexOutOfBoundsException("slot " + j + " of " + slotCount);
        if (j == slot) return false;
        long w = word(j);
        long line = slotOffset(j);
        // for the report only; read before the lock test, so that a claimant (which writes them once it
        // holds the lock) cannot have changed them yet if the test finds the lock free
        long pid = (long) WORD.getVolatile(memory, line + PID), pidNs = (long) WORD.getVolatile(memory, line + PID_NS);
        if ((w & LIVE) == 0 || liveness.heldByAnother(j)) return false;
        long gen = w & GEN_MASK;
        do {
            markDeath(j, w);
            // a dead word still changes while waiters set HINT and takers take its cache: retry for
            // as long as it is the same generation's; a claimant (a new generation) or a recoverer
            // that freed it first makes this one do nothing
            if (WORD.compareAndSet(memory, line, w, gen)) {
                ringWaiters();                           // whatever it held: it may have owed a ring
                doorbells.recovered(j, pid, pidNs, kept(w));
                return true;
            }
            w = word(j);
        } while ((w & (LIVE | GEN_MASK)) == (LIVE | gen));
        return false;
    }

    /** Recovers every slot whose owner has died. @return how many this call freed */
    public int recoverAll() {
        int freed = 0;
        int high = highWater();
        for (int j = 0; j < high; j++) if (recover(j)) freed++;
        return freed;
    }

    /** Claims the gather right for this process (see the overview). @return whether it holds it now */
    public boolean tryClaimGatherRight() {
        long mine = ownGather();
        for (;;) {
            long g = (long) WORD.getVolatile(memory, GATHER);
            if (g == mine) return true;
            if (g != 0 && gatherHolderLive(g)) {
                int j = (int) (g & KEPT_MASK) - 1;
                if (!recover(j)) return false;           // its holder lives (or a recoverer was first, and rang)
            }
            if (WORD.compareAndSet(memory, GATHER, g, mine)) return true;
        }
    }

    /** Gives back the gather right; rings the waiters. */
    public void releaseGatherRight() {
        // Dekker pair "doorbell", releaser side: GATHER written, then the WAITING bits read.
        if (WORD.compareAndSet(memory, GATHER, ownGather(), 0L)) ringWaiters();
    }

    /** Whether the gather right is free or held by this process (its holder may be dead: a lock test). */
    public boolean gatherRightAvailable() {
        long g = (long) WORD.getVolatile(memory, GATHER);
        if (g == 0 || g == ownGather() || !gatherHolderLive(g)) return true;
        return !liveness.heldByAnother((int) (g & KEPT_MASK) - 1);
    }

    private long ownGather() {
        int s = slot;
        if (s < 0) throw new IllegalStateException("this process has left the permit segment");
        return (s + 1) | (word(s) & GEN_MASK);
    }

    /** Whether GATHER value {@code g} names a slot that is still LIVE in the generation it names. */
    private boolean gatherHolderLive(long g) {
        long j = (g & KEPT_MASK) - 1;
        if (j < 0 || j >= slotCount) return false;
        long w = word((int) j);
        return (w & LIVE) != 0 && (w & GEN_MASK) == (g & GEN_MASK);
    }

    /** The permits free now, in the pool and in every cache (a sum over the slots, not a snapshot). */
    public long available() {
        long held = heldByAll();
        return (long) WORD.getVolatile(memory, BASE) - held;    // the slots, then BASE (which only grows)
    }

    /** The permits this process's threads hold (not counting takes in progress). */
    public long held() {
        int s = slot;
        return s < 0 ? 0 : kept(word(s));
    }

    /**
     * Marks the death of the owner of slot {@code j}'s generation in {@code w}, if it held permits;
     * called before the CAS that frees the slot (see "Death reports").
     */
    private void markDeath(int j, long w) {
        if (kept(w) > 0) mark(j, w & GEN_MASK, kept(w));   // only its owner changes KEPT: the dead one's is final
    }

    /** Writes DIED for generation {@code gen} of slot {@code j}, unless it or a newer one is marked. */
    private void mark(int j, long gen, long held) {
        long line = slotOffset(j);
        long mark = gen | Math.min(held, KEPT_MASK);
        for (long d; ; ) {
            d = (long) WORD.getVolatile(memory, line + DIED);
            long age = ((gen - (d & GEN_MASK)) & GEN_MASK) >>> GEN_SHIFT;   // generations since the last mark
            if (d != 0 && (age == 0 || age > (GEN_MASK >>> GEN_SHIFT) / 2)) return;   // marked already, or a newer death is
            if (WORD.compareAndSet(memory, line + DIED, d, mark)) return;
        }
    }

    /**
     * Tells whether a process died (or left) holding permits since the last report, and marks every
     * such death reported: for a lock, the first holder after a holder's death is told, and nobody else.
     */
    public boolean takeDeathReport() {
        boolean died = false;
        int high = highWater();
        for (int j = 0; j < high; j++) {           // every mark: two deaths before one report are one report
            long at = slotOffset(j) + DIED;
            for (long d; (d = (long) WORD.getVolatile(memory, at)) != 0 && (d & REPORTED) == 0; ) {
                if (WORD.compareAndSet(memory, at, d, d | REPORTED)) died = true;
            }
        }
        return died;
    }

    /** Adds {@code delta} to the number of this process's threads that wait, which {@link #holders} shows. */
    public void waiters(int delta) {
        int s = slot;
        if (s >= 0) WORD.getAndAdd(memory, slotOffset(s) + WAITERS, (long) delta);
    }

    /**
     * A LIVE slot whose owner holds permits or has threads waiting: its owner's pid in its own PID
     * namespace, that namespace's inode, the permits held, since when (ms since the epoch, 0 if none
     * held) and the waiting threads.
     */
    public record Slot(int slot, long pid, long pidNamespace, long permits, long sinceMillis, long waiting) {}

    /** The processes that hold permits or wait, slot by slot (a scan, not a snapshot). */
    public java.util.List<Slot> holders() {
        java.util.List<Slot> all = new java.util.ArrayList<>();
        int high = highWater();
        for (int j = 0; j < high; j++) {
            long line = slotOffset(j);
            long w = word(j);
            if ((w & LIVE) == 0) continue;
            long held = kept(w);
            long waiting = (long) WORD.getVolatile(memory, line + WAITERS);
            if (held <= 0 && waiting <= 0) continue;
            long since = held > 0 ? (long) WORD.getVolatile(memory, line + SINCE) : 0;
            all.add(new Slot(j, (long) WORD.getVolatile(memory, line + PID),
                    (long) WORD.getVolatile(memory, line + PID_NS), Math.max(held, 0), since, Math.max(waiting, 0)));
        }
        return all;
    }

    /** This process's pid, as it numbers itself. */
    static final long OWN_PID = ProcessHandle.current().pid();
    /** The inode of this process's PID namespace ({@code /proc/self/ns/pid}), or 0 if it cannot be read. */
    public static final long OWN_PID_NAMESPACE = pidNamespace();

    private static long pidNamespace() {
        try {
            String link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/ns/pid")).toString();
            return Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));   // "pid:[4026531836]"
        } catch (java.io.IOException | RuntimeException e) {
            return 0;
        }
    }

    /** What slot {@code j} holds, and whether it is LIVE and waiting: for status and tests. */
    public long slotWord(int j) {
        return word(j);
    }

    /** How many slots were ever claimed: every slot a sum or a scan must read. */
    private int highWater() {
        return (int) Math.min((long) WORD.getVolatile(memory, HIGH_WATER), slotCount);
    }

    /**
     * Leaves: returns everything this process holds, rings the waiters and drops the slot's lock. The
     * caller makes sure no take from the pool or give to it runs concurrently with or after it (a take
     * that added to the FREE word afterwards would hold permits no sum counts), as the semaphore's
     * close protocol keeps every such store operation before the store's close. Cached takes and gives
     * may run concurrently: each is before the leave, or fails.
     */
    public void close() {
        if (slot < 0) return;
        long own = slotOffset(slot);
        // HINT first: no cached take or give passes from now on (each expects HINT clear), and no other
        // step of this process runs (see above), so KEPT stays what the mark reads. (A cached give
        // between the mark and the CAS would leave a report of a leave holding permits that the give
        // had returned before the leave.)
        setHint(slot);
        long w = word(slot);
        if (kept(w) > 0) mark(slot, w & GEN_MASK, kept(w));   // leaving holding is as dying holding
        // FREE: KEPT, CACHED and INFLIGHT stop counting at once. The CAS fails only while other processes
        // take the cache back or set HINT: KEPT, the generation and LIVE stay as read.
        while (!WORD.compareAndSet(memory, own, w, w & GEN_MASK)) w = word(slot);
        ringWaiters();
        liveness.unlock(slot);
        slot = -1;
    }
}
