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

    /** Spins until {@code flag} reads true through the supplied volatile read. */
    static void spinUntil(java.util.function.BooleanSupplier flag) {
        while (!flag.getAsBoolean()) Thread.onSpinWait();
    }
}
