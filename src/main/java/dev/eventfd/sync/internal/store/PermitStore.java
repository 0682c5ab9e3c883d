package dev.eventfd.sync.internal.store;

import dev.eventfd.sync.internal.Poller;

import java.util.function.Consumer;

/**
 * Where a semaphore's shared permits live: the permits every process sharing the semaphore can take.
 * {@link dev.eventfd.sync.EventFdSemaphore} keeps the {@link java.util.concurrent.Semaphore} policy
 * (its queue, fairness, interrupts, timeouts, negative counts) and moves permits between its local
 * count and a store through this interface; the store owns the mechanics of sharing them.
 *
 * <p>Every method is non-blocking and safe to call from any thread. A store whose multi-permit takes
 * are not atomic across processes has a <em>gather right</em>: only its holder may hold some of the
 * permits a multi-permit request needs while waiting for the rest, so two gatherers can never each
 * hold part of what the other needs. A store whose takes are atomic grants the right at once.
 *
 * <p>Memory consistency effects: actions in a thread prior to {@link #give} happen-before actions
 * subsequent to a successful take of one of those permits in another thread of the same JVM.
 */
public interface PermitStore {

    /** Takes one permit. @return {@code false} if none is free (nothing is taken) */
    boolean tryTakeOne();

    /**
     * Takes {@code n} permits from this process's cache, if the store keeps one and no process
     * waits: a barging take that is safe to run outside the semaphore's close gate (it fails, changing
     * nothing, once the store is closed) and makes no system call.
     *
     * @return whether they were taken; if not, nothing changed
     */
    default boolean tryTakeCached(int n) {
        return false;
    }

    /**
     * Returns {@code n} permits this process's threads hold to its cache, if the store keeps one and
     * no process waits (so nobody needs a ring); safe outside the close gate, as {@link #tryTakeCached}.
     *
     * @return whether they were returned; if not, nothing changed
     */
    default boolean tryGiveCached(int n) {
        return false;
    }

    /**
     * Takes one permit for a thread that has not waited (a barger). A store shared by processes
     * refuses it while another process waits, so that no process starves the others; this JVM's
     * waiters then compete through the store like every other process's.
     *
     * @return {@code false} if none is free, or others wait (nothing is taken)
     */
    default boolean tryBargeOne() {
        return tryTakeOne();
    }

    /** Whether another process waits for this store's permits (a release then goes to the store). */
    default boolean othersWaiting() {
        return false;
    }

    /**
     * Takes {@code n} permits, all or none. A store with a gather right borrows it for the call
     * unless {@code holdingGatherRight}, and fails if another process holds it.
     *
     * @param n at least 1
     * @return whether all {@code n} were taken
     */
    boolean tryTake(long n, boolean holdingGatherRight);

    /**
     * Returns {@code n} permits to the store, where any process may take them.
     *
     * @throws Error if the store cannot hold that many more; it is then unchanged
     */
    void give(long n);

    /**
     * Whether {@link #give} itself refuses to take the permits free in the store past
     * {@link Integer#MAX_VALUE}, whether they are returned or given beyond what this JVM holds,
     * throwing {@code Error("Maximum permit count exceeded")} with the store unchanged (but for a
     * gift racing another at the limit), so that a semaphore holding no local permits need not check
     * the limit before it gives.
     */
    default boolean givesCheckTheLimit() {
        return false;
    }

    /** The permits in the store now (a system call for a kernel counter); saturates at {@code Long.MAX_VALUE}. */
    long count();

    /**
     * What this JVM last knew of {@link #count()}, kept current by its own takes and gives: exact
     * while no other process changes the store. Costs no system call.
     */
    long estimate();

    /** Claims the gather right. @return whether this JVM holds it now */
    boolean tryClaimGatherRight();

    /** Gives back the gather right claimed by {@link #tryClaimGatherRight()}. */
    void releaseGatherRight();

    /**
     * Runs {@code callback} once, on the poller thread, when a permit may be free ({@code gatherRight}
     * false) or the gather right may be free ({@code gatherRight} true). The callback must only
     * signal. The store is armed at once if the condition already holds.
     *
     * @return the registration, to cancel
     */
    Poller.Waiter watch(boolean gatherRight, Consumer<Poller.Outcome> callback);

    /**
     * Says that the semaphore no longer waits on the watch it armed last (cancelled, or fired and
     * handled): a store may stop asking other processes to ring it. Called under the semaphore's lock,
     * so it never races a newer {@link #watch}; a callback must not do this itself, since it may run
     * after a newer watch was armed.
     */
    default void unwatch() {
    }

    /**
     * Adds {@code delta} to the count of this JVM's threads waiting on the store, where other processes
     * can see it ({@link #holders}); a store that shows no holders ignores it.
     */
    default void waiters(int delta) {
    }

    /**
     * A ticket for a fair waiter that begins to wait, ordered across every process that shares the
     * store (see {@link SlotPermits#newTicket}); -1 if the store keeps no order between processes.
     */
    default long newTicket() {
        return -1;
    }

    /**
     * Publishes the smallest ticket among this JVM's fair waiters (-1: none), so that processes whose
     * waiters began later let them take first (see {@link SlotPermits#publishTurn}). Calls must be
     * serialized; a store without tickets ignores it.
     */
    default void turn(long ticket) {
    }

    /**
     * Whether a process died holding permits since this was last asked (by any process), and marks
     * that death told; see {@link SlotPermits#takeDeathReport}. A store that cannot tell says {@code false}.
     */
    default boolean takeDeathReport() {
        return false;
    }

    /**
     * The processes that hold permits or wait, with their pids as this process numbers them (-1 where
     * it cannot).
     *
     * @throws UnsupportedOperationException if the store does not know who holds its permits
     */
    default java.util.List<Holding> holders() {
        throw new UnsupportedOperationException("the kernel-counter store does not know who holds its permits: "
                + "holders are shown by named semaphores on the shared-memory store");
    }

    /**
     * A process that holds permits or has threads waiting: its pid as the caller numbers it (-1 if it
     * cannot), the permits it holds, since when (ms since the epoch; 0 if it holds none) and how many
     * of its threads wait.
     */
    record Holding(long pid, long permits, long sinceMillis, long waiting) {}

    /**
     * Makes the store's resources (descriptors) go when {@code owner} becomes unreachable; the cleaning
     * action holds no reference to the owner.
     */
    void closeWhenUnreachable(Object owner);

    /** Releases the store's resources. Idempotent; later takes and gives throw {@link dev.eventfd.sync.ClosedException}. */
    void close();
}
