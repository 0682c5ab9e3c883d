package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdSemaphore;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Helpers shared by the tests. Not a test. */
final class Stale {
    private Stale() {
    }

    /**
     * Generous bound for waits that must succeed in a correct implementation (Continuous tests): a
     * wait that runs out is reported as a FORBIDDEN result instead of hanging the whole run. 10 s by
     * default; {@code -Deventfd.jcstress.boundMillis=N} (through {@code -jvmArgsPrepend}) shortens it
     * for runs against a deliberately broken library, where every wait would run out.
     */
    static final long BOUND_MILLIS = Long.getLong("eventfd.jcstress.boundMillis", 10_000L);

    /**
     * Never returns. A Termination test calls this on any wrong ending (returned normally instead of
     * throwing, wrong exception, interrupt status left set...), so that the only way to TERMINATED is
     * the right one and every wrong behaviour shows up as STALE, which the tests mark FORBIDDEN.
     */
    static void forever() {
        for (;;) {
            Thread.interrupted();
            LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
        }
    }

    /**
     * Timed tryAcquire within {@link #BOUND_MILLIS}, for Continuous actors (which may not throw
     * checked exceptions). Nobody interrupts a jcstress actor; if it happened, it counts as a failure.
     */
    static boolean boundedAcquire(EventFdSemaphore s) {
        try {
            return s.tryAcquire(BOUND_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException unexpected) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Timed await within {@code millis}; an (unexpected) interrupt counts as a failure. */
    static boolean boundedAwait(EventFdLatch latch, long millis) {
        try {
            return latch.await(millis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException unexpected) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * The blocked party of a Termination test as a virtual thread: runs {@code endedProperly} in a new
     * virtual thread, hands the thread to {@code publish} (for a signal that must interrupt it),
     * waits for it, and stalls {@link #forever()} unless it returned true.
     */
    static void inVirtualThread(java.util.function.Consumer<Thread> publish,
                                java.util.function.BooleanSupplier endedProperly) throws InterruptedException {
        boolean[] ok = new boolean[1];          // written by the virtual thread, read after join()
        Thread vt = Thread.ofVirtual().start(() -> ok[0] = endedProperly.getAsBoolean());
        publish.accept(vt);
        vt.join();
        if (!ok[0]) forever();
    }

    /** What {@link #inVirtualThreadBounded} returns when the virtual thread did not end in time. */
    static final int HUNG = -2;
    /** What {@link #inVirtualThreadBounded} returns when the body threw. */
    static final int THREW = -3;

    /**
     * The acquiring party of a Continuous test as a virtual thread: runs {@code body} in a new virtual
     * thread and joins it with a bounded wait (twice {@link #BOUND_MILLIS}: the body's own waits are
     * bounded by it, or are ended by the arbiter's {@code close()}). Returns the body's result, or
     * {@link #HUNG} if the thread had not ended by then (or the join was interrupted), or {@link #THREW}
     * if the body threw: the tests mark both FORBIDDEN.
     */
    static int inVirtualThreadBounded(java.util.function.IntSupplier body) {
        int[] result = {HUNG};                  // written by the virtual thread, read after a successful join
        Thread vt = Thread.ofVirtual().start(() -> {
            try {
                result[0] = body.getAsInt();
            } catch (Throwable unexpected) {
                result[0] = THREW;
            }
        });
        try {
            if (!vt.join(java.time.Duration.ofMillis(2 * BOUND_MILLIS))) return HUNG;
        } catch (InterruptedException unexpected) {
            Thread.currentThread().interrupt();
            return HUNG;
        }
        return result[0];
    }

    /**
     * Timed tryAcquire(permits) within {@link #BOUND_MILLIS}, for Continuous actors; an (unexpected)
     * interrupt counts as a failure.
     */
    static boolean boundedAcquire(EventFdSemaphore s, int permits) {
        try {
            return s.tryAcquire(permits, BOUND_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException unexpected) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * Spins (yielding, so that a virtual thread the caller waits for gets a carrier) until {@code flag}
     * reads true, for at most {@link #BOUND_MILLIS}. @return whether it did
     */
    static boolean boundedSpinUntil(java.util.function.BooleanSupplier flag) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BOUND_MILLIS);
        while (!flag.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) return false;
            Thread.yield();
        }
        return true;
    }

    /**
     * Holds the caller (spinning, yielding) until a thread is queued on {@code s} or {@code otherDone}
     * reads true, for at most {@link #BOUND_MILLIS}. Called by the party that holds the permits (or is
     * about to release them) so that the other party really parks and is woken by the release: the
     * waiting path, not a lucky fast path, is what the test then exercises.
     */
    static void holdUntilQueued(EventFdSemaphore s, java.util.function.BooleanSupplier otherDone) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BOUND_MILLIS);
        while (!s.hasQueuedThreads() && !otherDone.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) return;
            Thread.yield();
        }
    }

    /** Spins until {@code flag} reads true through the supplied volatile read. */
    static void spinUntil(java.util.function.BooleanSupplier flag) {
        while (!flag.getAsBoolean()) Thread.onSpinWait();
    }
}
