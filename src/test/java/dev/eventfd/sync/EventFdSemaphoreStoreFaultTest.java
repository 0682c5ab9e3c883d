package dev.eventfd.sync;

import dev.eventfd.sync.internal.Poller;
import dev.eventfd.sync.internal.store.KernelCounterStore;
import dev.eventfd.sync.internal.store.PermitStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The semaphore against a permit store that fails on demand (a fake wrapping the kernel counter
 * store): every store operation that throws leaves the semaphore consistent. The failure reaches the
 * caller, no permit is created or lost, nothing is left waiting or armed, and once the store works
 * again every operation does too.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EventFdSemaphoreStoreFaultTest {

    /** A store that throws {@link Injected} from the operation named by {@link #failOn}, once armed. */
    static final class FaultyStore implements PermitStore {
        final KernelCounterStore real;
        volatile String failOn = "";

        FaultyStore(long permits) {
            real = KernelCounterStore.create(permits, "FaultyStore");
        }

        private void maybeFail(String op) {
            if (failOn.equals(op)) throw new Injected(op);
        }

        @Override public boolean tryTakeOne() { maybeFail("tryTakeOne"); return real.tryTakeOne(); }
        @Override public boolean tryTake(long n, boolean holding) { maybeFail("tryTake"); return real.tryTake(n, holding); }
        @Override public void give(long n) { maybeFail("give"); real.give(n); }
        @Override public long count() { maybeFail("count"); return real.count(); }
        @Override public long estimate() { return real.estimate(); }
        @Override public boolean tryClaimGatherRight() { maybeFail("tryClaimGatherRight"); return real.tryClaimGatherRight(); }
        @Override public void releaseGatherRight() { maybeFail("releaseGatherRight"); real.releaseGatherRight(); }
        @Override public Poller.Waiter watch(boolean gatherRight, Consumer<Poller.Outcome> callback) {
            maybeFail("watch");
            return real.watch(gatherRight, callback);
        }
        @Override public void closeWhenUnreachable(Object owner) { real.closeWhenUnreachable(owner); }
        @Override public void close() { real.close(); }
    }

    static final class Injected extends RuntimeException {
        Injected(String op) {
            super("injected failure of " + op);
        }
    }

    private FaultyStore store;
    private EventFdSemaphore semaphore;

    private EventFdSemaphore semaphore(int permits) {
        return semaphore(0, permits);
    }

    /** A semaphore with {@code local} permits already in this JVM and {@code inStore} in the store. */
    private EventFdSemaphore semaphore(int local, int inStore) {
        store = new FaultyStore(inStore);
        semaphore = new EventFdSemaphore(local, false, store, store.real);
        return semaphore;
    }

    @AfterEach
    void close() {
        if (semaphore != null) {
            store.failOn = "";
            semaphore.close();
        }
    }

    /** Runs {@code action} in a virtual thread: completes with what it threw, or null. */
    private static CompletableFuture<Throwable> inVirtualThread(ThrowingRunnable action) {
        CompletableFuture<Throwable> outcome = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try {
                action.run();
                outcome.complete(null);
            } catch (Throwable t) {
                outcome.complete(t);
            }
        });
        return outcome;
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void aReleaseTheStoreRefusesThrowsAndAddsNoPermit() throws Exception {
        EventFdSemaphore s = semaphore(1);
        store.failOn = "give";
        assertThrows(Injected.class, () -> s.release(3));
        assertEquals(1, s.availablePermits());
        store.failOn = "";
        s.release(3);
        assertEquals(4, s.availablePermits());
        assertTrue(s.tryAcquire(4));
        assertFalse(s.tryAcquire());
    }

    @Test
    void aFailedTakeOfOnePermitTakesNothing() {
        EventFdSemaphore s = semaphore(2);
        store.failOn = "tryTakeOne";
        assertThrows(Injected.class, s::tryAcquire);
        store.failOn = "";
        assertEquals(2, s.availablePermits());
        assertTrue(s.tryAcquire(2));
    }

    @Test
    void aFailedGatherTakesNothing() {
        EventFdSemaphore s = semaphore(3);
        store.failOn = "tryTake";
        assertThrows(Injected.class, () -> s.tryAcquire(2));
        store.failOn = "";
        assertEquals(3, s.availablePermits(), "a failed gather kept permits");
        assertTrue(s.tryAcquire(3));
        assertEquals(0, s.availablePermits());
    }

    @Test
    void aFailedGatherGivesBackWhatItTookFromThisJvm() {
        // one permit here, two in the store: tryAcquire(2) takes the local one, then fails in the store
        EventFdSemaphore s = semaphore(1, 2);
        store.failOn = "tryTake";
        assertThrows(Injected.class, () -> s.tryAcquire(2));
        store.failOn = "";
        assertEquals(3, s.availablePermits(), "the local permit the gather took was not given back");
        assertTrue(s.tryAcquire(3));
        assertFalse(s.tryAcquire());
    }

    @Test
    void aWaiterWhoseWatchCannotBeArmedGetsTheFailureAndLeavesNothingBehind() throws Exception {
        EventFdSemaphore s = semaphore(0);
        store.failOn = "watch";
        CompletableFuture<Throwable> failed = inVirtualThread(() -> s.acquire());
        assertInstanceOf(Injected.class, failed.get(30, TimeUnit.SECONDS), "the waiter must see the store's failure");
        assertFalse(s.hasQueuedThreads());
        store.failOn = "";
        // nothing is owed to the failed waiter: a release goes to the store, and a new waiter takes it
        s.release();
        assertEquals(1, s.availablePermits());
        CompletableFuture<Throwable> next = inVirtualThread(() -> assertTrue(s.tryAcquire(2, 30, TimeUnit.SECONDS)));
        while (!s.hasQueuedThreads()) Thread.onSpinWait();
        s.release();
        assertEquals(null, next.get(30, TimeUnit.SECONDS), "a later waiter must be served");
        assertEquals(0, s.availablePermits());
    }

    @Test
    void aMultiPermitWaiterWhoseGatherRightCannotBeClaimedGetsTheFailure() throws Exception {
        EventFdSemaphore s = semaphore(1);
        store.failOn = "tryClaimGatherRight";
        CompletableFuture<Throwable> failed = inVirtualThread(() -> s.acquire(2));
        assertInstanceOf(Injected.class, failed.get(30, TimeUnit.SECONDS));
        store.failOn = "";
        assertEquals(1, s.availablePermits(), "the failed waiter kept or lost a permit");
        s.release();
        assertTrue(s.tryAcquire(2, 30, TimeUnit.SECONDS));
        assertEquals(0, s.availablePermits());
    }

    @Test
    void aCountTheStoreCannotTellThrowsAndChangesNothing() {
        EventFdSemaphore s = semaphore(2);
        store.failOn = "count";
        assertThrows(Injected.class, s::availablePermits);
        store.failOn = "";
        assertEquals(2, s.availablePermits());
    }

    @Test
    void closeWithAStoreThatFailsStillClosesAndWakesTheWaiters() throws Exception {
        EventFdSemaphore s = semaphore(0);
        CompletableFuture<Throwable> woken = inVirtualThread(() -> s.acquire(2));
        while (!s.hasQueuedThreads()) Thread.onSpinWait();
        store.failOn = "releaseGatherRight";     // held for the multi-permit waiter: close() gives it back
        assertThrows(Injected.class, s::close, "close() must report the store's failure");
        store.failOn = "";
        assertInstanceOf(ClosedException.class, woken.get(30, TimeUnit.SECONDS), "the waiter was not woken");
        assertTrue(s.isClosed());
        assertThrows(ClosedException.class, s::tryAcquire);
        s.close();                                 // idempotent: nothing left to do
    }
}
