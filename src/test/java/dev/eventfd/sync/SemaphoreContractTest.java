package dev.eventfd.sync;

import static java.util.concurrent.TimeUnit.DAYS;
import static java.util.concurrent.TimeUnit.MICROSECONDS;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@link java.util.concurrent.Semaphore} contract, written once and run against every implementation that
 * claims to be a drop-in replacement. Concrete subclasses supply the factories and expose the two protected
 * {@code Semaphore} methods the contract talks about ({@code reducePermits}, {@code getQueuedThreads}).
 *
 * <p>Ground rules: no sleeping as synchronization (a blocked thread is detected through the queue queries, which
 * are part of the contract), every wait is bounded, every assertion is a behaviour of the JDK's own
 * {@code Semaphore}, and timing assertions are lower bounds only.
 *
 * <p>Each test runs in the fairness mode given by {@link #fair()}; fair-only and non-fair-only tests are skipped
 * (JUnit assumptions) in the other mode.
 */
@Timeout(value = 60)
abstract class SemaphoreContractTest {

    /** Longest any helper waits for something that must eventually happen. */
    static final Duration AWAIT = Duration.ofSeconds(10);
    /** Timeout handed to timed acquires that are expected to succeed or be interrupted long before it. */
    static final long LONG_WAIT_MS = 120_000;
    static final String OVERFLOW_MESSAGE = "Maximum permit count exceeded";
    static final String UNDERFLOW_MESSAGE = "Permit count underflow";

    // ------------------------------------------------------------------------------------------------------------
    // Hooks for the implementation under test
    // ------------------------------------------------------------------------------------------------------------

    /** Like {@code new Semaphore(permits)}: must be non-fair. */
    protected abstract Semaphore create(int permits);

    /** Like {@code new Semaphore(permits, fair)}. */
    protected abstract Semaphore create(int permits, boolean fair);

    /** The fairness mode this run of the suite uses. */
    protected abstract boolean fair();

    /** Calls the protected {@code Semaphore.reducePermits(n)} of {@code s}. */
    protected abstract void reducePermits(Semaphore s, int n);

    /** Calls the protected {@code Semaphore.getQueuedThreads()} of {@code s}. */
    protected abstract Collection<Thread> queuedThreads(Semaphore s);

    /**
     * A subclass of the implementation under test, written the way an application subclasses
     * {@code Semaphore}: it widens the protected {@code reducePermits} to public and adds serializable state of its
     * own (a label fixed at construction and a counter that changes). The JDK's own overflow and serialization
     * checks are made on such a subclass, not only on the class itself.
     */
    interface UserSubclass {
        /** The widened {@code Semaphore.reducePermits}. */
        void reducePermits(int reduction);

        String label();

        int marks();

        void mark();
    }

    /**
     * Like {@code new Sub(permits, fair, label)} for a {@link UserSubclass} {@code Sub} of the implementation under
     * test. It must not override anything but {@code reducePermits}: it stands for a subclass whose author knows
     * only the {@code Semaphore} contract.
     */
    protected abstract Semaphore createSubclass(int permits, boolean fair, String label);

    /**
     * Checks that two semaphores, one deserialized from the other, share no resource behind the Java object (for an
     * implementation backed by operating-system objects: no descriptor). Nothing to check for plain Java objects.
     */
    protected void assertSeparateResources(Semaphore original, Semaphore copy) {
    }

    // ------------------------------------------------------------------------------------------------------------
    // Resource tracking
    // ------------------------------------------------------------------------------------------------------------

    private final List<Semaphore> created = Collections.synchronizedList(new ArrayList<>());
    private final Set<Worker> liveWorkers = ConcurrentHashMap.newKeySet();

    /** Registers {@code s} so that it is closed after the test if it is {@link AutoCloseable}. */
    protected final <S extends Semaphore> S track(S s) {
        created.add(s);
        return s;
    }

    /** The only way tests obtain a semaphore with explicit fairness: created through the hook and tracked. */
    protected final Semaphore newSemaphore(int permits, boolean fair) {
        return track(create(permits, fair));
    }

    /** A semaphore from the one-argument (non-fair) factory, tracked. */
    protected final Semaphore newSemaphore(int permits) {
        return track(create(permits));
    }

    /** A semaphore in this run's fairness mode. */
    protected final Semaphore sem(int permits) {
        return newSemaphore(permits, fair());
    }

    /** A {@link UserSubclass} of the implementation under test, tracked. */
    protected final Semaphore newSubclass(int permits, boolean fair, String label) {
        Semaphore s = track(createSubclass(permits, fair, label));
        assertInstanceOf(UserSubclass.class, s);
        return s;
    }

    static UserSubclass user(Semaphore s) {
        return (UserSubclass) s;
    }

    /** Closes a tracked semaphore now (if it is {@link AutoCloseable}) and forgets it; nothing may still use it. */
    protected final void dispose(Semaphore s) throws Exception {
        boolean removed;
        synchronized (created) {
            removed = created.removeIf(c -> c == s);
        }
        if (removed && s instanceof AutoCloseable c) {
            c.close();
        }
    }

    @AfterEach
    final void releaseTestResources() throws Exception {
        // Threads left behind by a failed test: wake what can be woken (uninterruptible waiters are daemons).
        for (Worker w : liveWorkers) {
            w.thread.interrupt();
        }
        List<Semaphore> toClose;
        synchronized (created) {
            toClose = new ArrayList<>(created);
            created.clear();
        }
        Collections.reverse(toClose);
        Exception failure = null;
        for (Semaphore s : toClose) {
            if (s instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    if (failure == null) {
                        failure = e;
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        for (Worker w : liveWorkers) {
            w.thread.join(Duration.ofSeconds(2));
        }
        liveWorkers.clear();
        if (failure != null) {
            throw failure;
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Threads
    // ------------------------------------------------------------------------------------------------------------

    /** The kinds of thread every blocking scenario runs on. */
    enum ThreadKind {
        PLATFORM, VIRTUAL;

        private static final AtomicLong SEQUENCE = new AtomicLong();

        Thread newThread(Runnable body) {
            String name = "contract-" + name().toLowerCase() + "-" + SEQUENCE.incrementAndGet();
            return this == PLATFORM
                    ? Thread.ofPlatform().daemon(true).name(name).unstarted(body)
                    : Thread.ofVirtual().name(name).unstarted(body);
        }

        ThreadKind other() {
            return this == PLATFORM ? VIRTUAL : PLATFORM;
        }
    }

    @FunctionalInterface
    interface ThrowingRunnable {
        void run() throws Throwable;
    }

    /** A thread running a test body; whatever the body throws is rethrown by {@link #joinAndCheck()}. */
    protected final class Worker {
        final Thread thread;
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Worker(ThreadKind kind, ThrowingRunnable body) {
            this.thread = kind.newThread(() -> {
                try {
                    body.run();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
        }

        Worker start() {
            liveWorkers.add(this);
            thread.start();
            return this;
        }

        boolean alive() {
            return thread.isAlive();
        }

        void joinAndCheck() throws InterruptedException {
            joinAndCheck(AWAIT);
        }

        void joinAndCheck(Duration limit) throws InterruptedException {
            if (!thread.join(limit)) {
                AssertionError e = new AssertionError(thread.getName() + " did not terminate within " + limit
                        + " (state " + thread.getState() + ")");
                e.setStackTrace(thread.getStackTrace());
                throw e;
            }
            liveWorkers.remove(this);
            Throwable t = failure.get();
            if (t != null) {
                throw new AssertionError(thread.getName() + " failed: " + t, t);
            }
        }
    }

    /** Creates and starts a worker of the given kind. */
    protected final Worker start(ThreadKind kind, ThrowingRunnable body) {
        return new Worker(kind, body).start();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Bounded waiting (polling, never sleeping)
    // ------------------------------------------------------------------------------------------------------------

    /**
     * Spins (yielding) until {@code condition} holds. Fails after {@link #AWAIT}, or at once if one of the
     * {@code watched} workers has already terminated (it can then never reach the awaited state).
     */
    static void awaitCondition(Supplier<String> what, BooleanSupplier condition, Worker... watched) {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (!condition.getAsBoolean()) {
            for (Worker w : watched) {
                if (!w.alive() && !condition.getAsBoolean()) {
                    Throwable t = w.failure.get();
                    throw new AssertionError(w.thread.getName() + " terminated before " + what.get()
                            + (t == null ? "" : ": " + t), t);
                }
            }
            if (System.nanoTime() - deadline > 0) {
                fail("timed out after " + AWAIT + " waiting until " + what.get());
            }
            if (Thread.currentThread().isInterrupted()) {
                fail("interrupted while waiting until " + what.get());
            }
            Thread.yield();
        }
    }

    /** Waits until {@code s.getQueueLength() == n}. */
    static void awaitQueueLength(Semaphore s, int n, Worker... watched) {
        awaitCondition(() -> "queue length is " + n + " (it is " + s.getQueueLength() + ")",
                () -> s.getQueueLength() == n, watched);
    }

    /** Waits until each worker's thread shows up in {@code getQueuedThreads()}, i.e. it is blocked on {@code s}. */
    final void awaitQueued(Semaphore s, Worker... workers) {
        awaitCondition(() -> "queued: " + names(workers) + " (queued now: " + queuedThreads(s) + ")", () -> {
            Collection<Thread> queued = queuedThreads(s);
            for (Worker w : workers) {
                if (!queued.contains(w.thread)) {
                    return false;
                }
            }
            return true;
        }, workers);
    }

    private static String names(Worker... workers) {
        return Arrays.stream(workers).map(w -> w.thread.getName()).toList().toString();
    }

    /** Asserts that the queue queries agree that nothing waits on {@code s}. */
    final void assertNoWaiters(Semaphore s) {
        assertFalse(s.hasQueuedThreads(), "hasQueuedThreads");
        assertEquals(0, s.getQueueLength(), "getQueueLength");
        assertTrue(queuedThreads(s).isEmpty(), () -> "getQueuedThreads: " + queuedThreads(s));
    }

    /** Waits until nothing waits on {@code s}, then checks all three queue queries agree. */
    final void awaitNoWaiters(Semaphore s) {
        awaitCondition(() -> "no thread is queued (queue length " + s.getQueueLength() + ")",
                () -> !s.hasQueuedThreads());
        assertNoWaiters(s);
    }

    static void assertPermitsString(Semaphore s, int permits) {
        String text = s.toString();
        assertTrue(text.endsWith("[Permits = " + permits + "]"), () -> "toString: " + text);
    }

    // ------------------------------------------------------------------------------------------------------------
    // The ways of acquiring
    // ------------------------------------------------------------------------------------------------------------

    /** Every acquiring method of {@code Semaphore}. Single-permit methods acquire {@code n} permits one by one. */
    enum Acquire {
        ACQUIRE(true, false, true),
        ACQUIRE_N(true, true, true),
        TRY_ACQUIRE_TIMED(true, false, true),
        TRY_ACQUIRE_N_TIMED(true, true, true),
        ACQUIRE_UNINTERRUPTIBLY(false, false, true),
        ACQUIRE_UNINTERRUPTIBLY_N(false, true, true),
        TRY_ACQUIRE(false, false, false),
        TRY_ACQUIRE_N(false, true, false);

        final boolean interruptible;
        final boolean multi;
        final boolean blocking;

        Acquire(boolean interruptible, boolean multi, boolean blocking) {
            this.interruptible = interruptible;
            this.multi = multi;
            this.blocking = blocking;
        }

        /** Acquires {@code permits} permits (a timed or untimed try that fails is an assertion failure). */
        void acquire(Semaphore s, int permits) throws InterruptedException {
            if (multi) {
                once(s, permits);
            } else {
                for (int i = 0; i < permits; i++) {
                    once(s, 1);
                }
            }
        }

        private void once(Semaphore s, int n) throws InterruptedException {
            switch (this) {
                case ACQUIRE -> s.acquire();
                case ACQUIRE_N -> s.acquire(n);
                case TRY_ACQUIRE_TIMED -> assertTrue(s.tryAcquire(LONG_WAIT_MS, MILLISECONDS), "tryAcquire timed out");
                case TRY_ACQUIRE_N_TIMED ->
                        assertTrue(s.tryAcquire(n, LONG_WAIT_MS, MILLISECONDS), "tryAcquire(n) timed out");
                case ACQUIRE_UNINTERRUPTIBLY -> s.acquireUninterruptibly();
                case ACQUIRE_UNINTERRUPTIBLY_N -> s.acquireUninterruptibly(n);
                case TRY_ACQUIRE -> assertTrue(s.tryAcquire(), "tryAcquire()");
                case TRY_ACQUIRE_N -> assertTrue(s.tryAcquire(n), "tryAcquire(n)");
            }
        }
    }

    static Stream<Acquire> acquires(boolean blocking, Boolean interruptible) {
        return Arrays.stream(Acquire.values())
                .filter(a -> !blocking || a.blocking)
                .filter(a -> interruptible == null || (a.blocking && a.interruptible == interruptible));
    }

    static Stream<Arguments> onEachKind(Stream<Acquire> acquires) {
        return acquires.flatMap(a -> Arrays.stream(ThreadKind.values()).map(k -> Arguments.of(a, k)));
    }

    static Stream<Arguments> interruptibleAcquiresOnEachKind() {
        return onEachKind(acquires(true, true));
    }

    static Stream<Arguments> interruptibleAcquiresOnEachKindWithAndWithoutPermits() {
        return interruptibleAcquiresOnEachKind()
                .flatMap(a -> Stream.of(true, false).map(p -> Arguments.of(a.get()[0], a.get()[1], p)));
    }

    static Stream<Arguments> uninterruptibleAcquiresOnEachKind() {
        return onEachKind(acquires(true, false));
    }

    static Stream<Arguments> blockingAcquiresOnEachKind() {
        return onEachKind(acquires(true, null));
    }

    // ============================================================================================================
    // Construction, toString, fairness
    // ============================================================================================================

    @ParameterizedTest(name = "permits = {0}")
    @ValueSource(ints = {-42, -1, 0, 1, 42})
    void constructorSetsPermitsFairnessAndToString(int permits) {
        Semaphore s = sem(permits);
        assertEquals(permits, s.availablePermits());
        assertEquals(fair(), s.isFair());
        assertPermitsString(s, permits);
        assertNoWaiters(s);
    }

    @ParameterizedTest(name = "permits = {0}")
    @ValueSource(ints = {-42, -1, 0, 1, 42})
    void oneArgumentConstructorIsNonFair(int permits) {
        Semaphore s = newSemaphore(permits);
        assertFalse(s.isFair());
        assertEquals(permits, s.availablePermits());
        assertPermitsString(s, permits);
        assertNoWaiters(s);
    }

    @Test
    void fairnessArgumentIsHonouredBothWays() {
        assertTrue(newSemaphore(3, true).isFair());
        assertFalse(newSemaphore(3, false).isFair());
    }

    @Test
    void toStringFollowsReleasesAndReductionsBelowZero() throws InterruptedException {
        Semaphore s = sem(0);
        assertPermitsString(s, 0);
        s.release();
        assertPermitsString(s, 1);
        s.release(2);
        assertPermitsString(s, 3);
        reducePermits(s, 5);
        assertPermitsString(s, -2);
        s.release();
        assertPermitsString(s, -1);
        reducePermits(s, 40);
        assertPermitsString(s, -41);
        s.release(43);
        assertPermitsString(s, 2);
        s.acquire(2);
        assertPermitsString(s, 0);
    }

    // ============================================================================================================
    // Single-thread acquire / release
    // ============================================================================================================

    @Test
    void tryAcquireInOneThreadUntilExhausted() {
        Semaphore s = sem(2);
        assertTrue(s.tryAcquire());
        assertEquals(1, s.availablePermits());
        assertTrue(s.tryAcquire());
        assertEquals(0, s.availablePermits());
        assertFalse(s.tryAcquire());
        assertFalse(s.tryAcquire(1));
        assertEquals(0, s.availablePermits());
        assertPermitsString(s, 0);
    }

    @Test
    void tryAcquireNInOneThreadUntilExhausted() {
        Semaphore s = sem(5);
        assertTrue(s.tryAcquire(2));
        assertEquals(3, s.availablePermits());
        assertTrue(s.tryAcquire(3));
        assertEquals(0, s.availablePermits());
        assertFalse(s.tryAcquire(1));
        assertTrue(s.tryAcquire(0));
        assertEquals(0, s.availablePermits());
    }

    @Test
    @Timeout(20)
    void acquiringMorePermitsThanAvailableIsAllOrNothing() throws InterruptedException {
        Semaphore s = sem(2);
        assertFalse(s.tryAcquire(3));
        assertEquals(2, s.availablePermits());
        assertFalse(s.tryAcquire(3, 0, SECONDS));
        assertEquals(2, s.availablePermits());
        assertFalse(s.tryAcquire(3, 1, MILLISECONDS));
        assertEquals(2, s.availablePermits());
        assertNoWaiters(s);
        assertTrue(s.tryAcquire(2));
        assertEquals(0, s.availablePermits());
    }

    @Test
    void releaseNeedsNoPriorAcquire() {
        Semaphore s = sem(0);
        s.release();
        assertEquals(1, s.availablePermits());
        s.release(3);
        assertEquals(4, s.availablePermits());
        assertPermitsString(s, 4);
        assertTrue(s.tryAcquire(4));
    }

    @ParameterizedTest
    @EnumSource(Acquire.class)
    @Timeout(20)
    void releaseThenAcquireOneToFivePermitsInOneThread(Acquire method) throws InterruptedException {
        Semaphore s = sem(0);
        for (int n = 1; n <= 5; n++) {
            s.release(n);
            assertEquals(n, s.availablePermits());
            method.acquire(s, n);
            assertEquals(0, s.availablePermits());
        }
        // and with permits left over
        s.release(5);
        for (int n = 1; n <= 5; n++) {
            s.release(n);
            method.acquire(s, n);
            assertEquals(5, s.availablePermits());
        }
        assertNoWaiters(s);
    }

    @Test
    void negativePermitArgumentsThrowIllegalArgumentException() {
        Semaphore s = sem(3);
        for (int n : new int[] {-1, Integer.MIN_VALUE}) {
            assertThrows(IllegalArgumentException.class, () -> s.acquire(n));
            assertThrows(IllegalArgumentException.class, () -> s.acquireUninterruptibly(n));
            assertThrows(IllegalArgumentException.class, () -> s.tryAcquire(n));
            assertThrows(IllegalArgumentException.class, () -> s.tryAcquire(n, 0, SECONDS));
            assertThrows(IllegalArgumentException.class, () -> s.tryAcquire(n, LONG_WAIT_MS, MILLISECONDS));
            assertThrows(IllegalArgumentException.class, () -> s.release(n));
            assertEquals(3, s.availablePermits());
        }
        assertNoWaiters(s);
    }

    @ParameterizedTest(name = "permits = {0}")
    @ValueSource(ints = {0, 2})
    @Timeout(20)
    void zeroPermitArgumentsAreLegal(int permits) throws InterruptedException {
        Semaphore s = sem(permits);
        s.acquire(0);
        s.acquireUninterruptibly(0);
        assertTrue(s.tryAcquire(0));
        assertTrue(s.tryAcquire(0, 0, SECONDS));
        assertTrue(s.tryAcquire(0, LONG_WAIT_MS, MILLISECONDS));
        s.release(0);
        assertEquals(permits, s.availablePermits());
        assertNoWaiters(s);
    }

    /**
     * A request for zero permits succeeds exactly when the count is not negative (and, when fair and it is not the
     * untimed {@code tryAcquire(0)}, nobody is queued ahead). While the count is negative, {@code tryAcquire(0)}
     * and {@code tryAcquire(0, t)} fail (after the timeout), and the blocking ones wait; they return as soon as
     * releases bring the count up to zero, not one: no permit is needed, none is taken.
     */
    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void zeroPermitRequestsWhileCountIsNegativeWaitUntilItReachesZero(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(-2);
        assertFalse(s.tryAcquire(0), "tryAcquire(0) with -2 permits");
        assertFalse(s.tryAcquire(0, 0, SECONDS), "tryAcquire(0, 0, SECONDS) with -2 permits");
        assertFalse(s.tryAcquire(0, -1, MILLISECONDS), "tryAcquire(0, -1, MILLISECONDS) with -2 permits");
        long t0 = System.nanoTime();
        assertFalse(s.tryAcquire(0, 20, MILLISECONDS), "tryAcquire(0, 20, MILLISECONDS) with -2 permits");
        long elapsed = System.nanoTime() - t0;
        assertTrue(elapsed >= MILLISECONDS.toNanos(20), () -> "returned false after only " + elapsed + " ns");
        assertEquals(-2, s.availablePermits());
        assertNoWaiters(s);

        Worker untimed = start(kind, () -> s.acquire(0));
        Worker timed = start(kind.other(), () -> assertTrue(s.tryAcquire(0, LONG_WAIT_MS, MILLISECONDS)));
        Worker uninterruptible = start(kind, () -> s.acquireUninterruptibly(0));
        awaitQueued(s, untimed, timed, uninterruptible);
        s.release();
        assertEquals(-1, s.availablePermits());
        assertFalse(s.tryAcquire(0), "tryAcquire(0) with -1 permits");
        awaitQueued(s, untimed, timed, uninterruptible); // still negative: all three still wait
        s.release(); // zero: every zero-permit request can be granted, and takes nothing
        untimed.joinAndCheck();
        timed.joinAndCheck();
        uninterruptible.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
        assertTrue(s.tryAcquire(0));
        assertTrue(s.tryAcquire(0, 0, SECONDS));
        s.acquire(0);
        assertEquals(0, s.availablePermits());
    }

    /** Non-fair: with a non-negative count a zero-permit request never waits, whoever is queued. */
    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void nonFairZeroPermitRequestsDoNotWaitBehindQueuedWaiter(ThreadKind kind) throws InterruptedException {
        assumeFalse(fair(), "non-fair mode only");
        Semaphore s = sem(1);
        Worker big = start(kind, () -> s.acquire(3));
        awaitQueued(s, big);
        start(kind, () -> {
            s.acquire(0);
            s.acquireUninterruptibly(0);
            assertTrue(s.tryAcquire(0));
            assertTrue(s.tryAcquire(0, 0, SECONDS));
            assertTrue(s.tryAcquire(0, LONG_WAIT_MS, MILLISECONDS));
        }).joinAndCheck();
        assertEquals(1, s.availablePermits());
        assertTrue(big.alive());
        s.release(2);
        big.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    /**
     * Fair: a blocking or timed zero-permit request queues behind an earlier waiter even with the count at or above
     * zero (untimed {@code tryAcquire(0)} barges), and is granted as soon as that waiter has been served.
     */
    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void fairZeroPermitRequestsQueueBehindEarlierWaiter(ThreadKind kind) throws InterruptedException {
        assumeTrue(fair(), "fair mode only");
        Semaphore s = sem(1);
        Worker big = start(kind, () -> s.acquire(3));
        awaitQueueLength(s, 1, big);
        Worker untimed = start(kind.other(), () -> s.acquire(0));
        awaitQueueLength(s, 2, untimed);
        Worker timed = start(kind, () -> assertTrue(s.tryAcquire(0, LONG_WAIT_MS, MILLISECONDS)));
        awaitQueueLength(s, 3, timed);
        Worker uninterruptible = start(kind.other(), () -> s.acquireUninterruptibly(0));
        awaitQueueLength(s, 4, uninterruptible);
        assertFalse(s.tryAcquire(0, 0, SECONDS), "fair tryAcquire(0, 0, unit) does not barge");
        assertTrue(s.tryAcquire(0), "untimed tryAcquire(0) barges");
        assertEquals(1, s.availablePermits());
        awaitQueued(s, big, untimed, timed, uninterruptible);
        s.release(2); // three free: the first waiter takes them all, the zero-permit requests need none
        big.joinAndCheck();
        untimed.joinAndCheck();
        timed.joinAndCheck();
        uninterruptible.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void timedTryAcquireReturnsFalseAfterAtLeastTheTimeout(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(1);
        start(kind, () -> {
            // too few permits: times out, takes nothing
            long t0 = System.nanoTime();
            assertFalse(s.tryAcquire(2, 100, MILLISECONDS));
            long elapsed = System.nanoTime() - t0;
            assertTrue(elapsed >= MILLISECONDS.toNanos(100), () -> "returned after " + elapsed + " ns");
            assertEquals(1, s.availablePermits());

            assertTrue(s.tryAcquire());
            t0 = System.nanoTime();
            assertFalse(s.tryAcquire(80, MILLISECONDS));
            long elapsed2 = System.nanoTime() - t0;
            assertTrue(elapsed2 >= MILLISECONDS.toNanos(80), () -> "returned after " + elapsed2 + " ns");

            t0 = System.nanoTime();
            assertFalse(s.tryAcquire(50_000, MICROSECONDS));
            long elapsed3 = System.nanoTime() - t0;
            assertTrue(elapsed3 >= MICROSECONDS.toNanos(50_000), () -> "returned after " + elapsed3 + " ns");

            t0 = System.nanoTime();
            assertFalse(s.tryAcquire(1, 30_000_000, NANOSECONDS));
            long elapsed4 = System.nanoTime() - t0;
            assertTrue(elapsed4 >= 30_000_000, () -> "returned after " + elapsed4 + " ns");
            assertEquals(0, s.availablePermits());
            s.release();
        }).joinAndCheck();
        assertEquals(1, s.availablePermits());
        assertNoWaiters(s);
    }

    /** Timeout &lt;= 0 means "don't wait": a wait here would hang the test into its {@code @Timeout}. */
    @Test
    @Timeout(20)
    void nonPositiveTimeoutMeansDoNotWait() throws InterruptedException {
        Semaphore s = sem(0);
        for (long t : new long[] {0, -1, Long.MIN_VALUE}) {
            assertFalse(s.tryAcquire(t, NANOSECONDS));
            assertFalse(s.tryAcquire(t, DAYS));
            assertFalse(s.tryAcquire(1, t, SECONDS));
            assertFalse(s.tryAcquire(2, t, MILLISECONDS));
        }
        assertEquals(0, s.availablePermits());
        assertNoWaiters(s);
        s.release(3);
        assertTrue(s.tryAcquire(0, SECONDS));
        assertTrue(s.tryAcquire(1, -5, MILLISECONDS));
        assertFalse(s.tryAcquire(2, 0, SECONDS));
        assertTrue(s.tryAcquire(1, Long.MIN_VALUE, DAYS));
        assertEquals(0, s.availablePermits());
    }

    // ============================================================================================================
    // Interrupts
    // ============================================================================================================

    @ParameterizedTest(name = "{0} on a {1} thread, enough permits: {2}")
    @MethodSource("interruptibleAcquiresOnEachKindWithAndWithoutPermits")
    @Timeout(20)
    void interruptedOnEntryThrowsAndClearsStatus(Acquire method, ThreadKind kind, boolean enoughPermits)
            throws InterruptedException {
        int needed = method.multi ? 2 : 1;
        int initial = enoughPermits ? needed : needed - 1;
        Semaphore s = sem(initial);
        AtomicBoolean threw = new AtomicBoolean();
        AtomicBoolean statusInCatch = new AtomicBoolean(true);
        start(kind, () -> {
            Thread.currentThread().interrupt();
            try {
                method.acquire(s, needed);
                fail(method + " returned although interrupted on entry");
            } catch (InterruptedException e) {
                statusInCatch.set(Thread.interrupted());
                threw.set(true);
            }
        }).joinAndCheck();
        assertTrue(threw.get(), "InterruptedException");
        assertFalse(statusInCatch.get(), "interrupt status must be cleared when InterruptedException is thrown");
        assertEquals(initial, s.availablePermits());
        assertNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void timedTryAcquireWithNonPositiveTimeoutStillThrowsWhenInterruptedOnEntry(ThreadKind kind)
            throws InterruptedException {
        Semaphore s = sem(1);
        start(kind, () -> {
            Thread.currentThread().interrupt();
            try {
                s.tryAcquire(0, SECONDS);
                fail("tryAcquire(0, SECONDS) returned although interrupted on entry");
            } catch (InterruptedException e) {
                assertFalse(Thread.interrupted(), "interrupt status must be cleared");
            }
            Thread.currentThread().interrupt();
            try {
                s.tryAcquire(1, -1, SECONDS);
                fail("tryAcquire(1, -1, SECONDS) returned although interrupted on entry");
            } catch (InterruptedException e) {
                assertFalse(Thread.interrupted(), "interrupt status must be cleared");
            }
        }).joinAndCheck();
        assertEquals(1, s.availablePermits());
    }

    @ParameterizedTest(name = "{0} on a {1} thread")
    @MethodSource("interruptibleAcquiresOnEachKind")
    @Timeout(20)
    void interruptedWhileBlockedThrowsAndClearsStatus(Acquire method, ThreadKind kind) throws InterruptedException {
        int needed = method.multi ? 2 : 1;
        Semaphore s = sem(needed - 1); // one permit short: a multi-permit acquire must not take the one there is
        AtomicBoolean threw = new AtomicBoolean();
        AtomicBoolean statusInCatch = new AtomicBoolean(true);
        Worker w = start(kind, () -> {
            try {
                method.acquire(s, needed);
                fail(method + " returned although interrupted while blocked");
            } catch (InterruptedException e) {
                statusInCatch.set(Thread.interrupted());
                threw.set(true);
            }
        });
        awaitQueued(s, w);
        assertEquals(needed - 1, s.availablePermits());
        w.thread.interrupt();
        w.joinAndCheck();
        assertTrue(threw.get(), "InterruptedException");
        assertFalse(statusInCatch.get(), "interrupt status must be cleared when InterruptedException is thrown");
        assertEquals(needed - 1, s.availablePermits());
        awaitNoWaiters(s);
        // the semaphore still works
        s.release();
        assertTrue(s.tryAcquire(needed));
        assertEquals(0, s.availablePermits());
    }

    @ParameterizedTest(name = "{0} on a {1} thread")
    @MethodSource("uninterruptibleAcquiresOnEachKind")
    @Timeout(20)
    void acquireUninterruptiblySurvivesInterruptsAndReturnsWithStatusSet(Acquire method, ThreadKind kind)
            throws InterruptedException {
        int needed = method.multi ? 3 : 1;
        Semaphore s = sem(0);
        AtomicBoolean returned = new AtomicBoolean();
        AtomicBoolean statusOnReturn = new AtomicBoolean();
        Worker w = start(kind, () -> {
            method.acquire(s, needed);
            statusOnReturn.set(Thread.currentThread().isInterrupted());
            returned.set(true);
        });
        awaitQueued(s, w);
        w.thread.interrupt();
        s.release(needed - 1); // still one short
        w.thread.interrupt();
        awaitQueued(s, w);
        assertFalse(returned.get(), "returned before enough permits were released");
        assertTrue(w.alive(), "terminated before enough permits were released");
        assertEquals(needed - 1, s.availablePermits());
        s.release();
        w.joinAndCheck();
        assertTrue(returned.get());
        assertTrue(statusOnReturn.get(), "must return with the interrupt status set");
        assertEquals(0, s.availablePermits(), "the waiter must have taken the permits it asked for");
        awaitNoWaiters(s);
    }

    @ParameterizedTest(name = "{0} on a {1} thread")
    @MethodSource("uninterruptibleAcquiresOnEachKind")
    @Timeout(20)
    void acquireUninterruptiblyInterruptedOnEntryAcquiresAndKeepsStatus(Acquire method, ThreadKind kind)
            throws InterruptedException {
        int needed = method.multi ? 2 : 1;
        Semaphore s = sem(needed);
        AtomicBoolean statusOnReturn = new AtomicBoolean();
        start(kind, () -> {
            Thread.currentThread().interrupt();
            method.acquire(s, needed);
            statusOnReturn.set(Thread.interrupted());
        }).joinAndCheck();
        assertTrue(statusOnReturn.get(), "must return with the interrupt status set");
        assertEquals(0, s.availablePermits());
    }

    /**
     * The uninterruptible methods, as the TCK runs them: one waiter interrupted before the call (with no permit
     * free it must still wait), one interrupted while blocked. Both keep waiting, and return with their status set
     * once permits come.
     */
    @ParameterizedTest(name = "{0} on a {1} thread")
    @MethodSource("uninterruptibleAcquiresOnEachKind")
    @Timeout(20)
    void acquireUninterruptiblyInterruptedBeforeOrWhileBlockedKeepsWaiting(Acquire method, ThreadKind kind)
            throws InterruptedException {
        int needed = method.multi ? 2 : 1;
        Semaphore s = sem(0);
        AtomicBoolean statusBefore = new AtomicBoolean();
        AtomicBoolean statusDuring = new AtomicBoolean();
        Worker before = start(kind, () -> {
            Thread.currentThread().interrupt();
            method.acquire(s, needed);
            statusBefore.set(Thread.interrupted());
        });
        awaitQueued(s, before);
        Worker during = start(kind.other(), () -> {
            method.acquire(s, needed);
            statusDuring.set(Thread.interrupted());
        });
        awaitQueued(s, before, during);
        during.thread.interrupt();
        before.thread.interrupt();
        awaitQueued(s, before, during);
        assertEquals(0, s.availablePermits());
        s.release(needed); // enough for one of them
        awaitCondition(() -> "one waiter served", () -> before.alive() != during.alive());
        assertEquals(0, s.availablePermits());
        assertEquals(1, s.getQueueLength());
        s.release(needed);
        before.joinAndCheck();
        during.joinAndCheck();
        assertTrue(statusBefore.get(), "interrupted before the call: must return with the interrupt status set");
        assertTrue(statusDuring.get(), "interrupted while blocked: must return with the interrupt status set");
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    // ============================================================================================================
    // Queue queries
    // ============================================================================================================

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void queueQueriesGoZeroOneTwoOneZero(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(0);
        assertNoWaiters(s);

        AtomicBoolean firstInterrupted = new AtomicBoolean();
        Worker first = start(kind, () -> {
            try {
                s.acquire();
                fail("acquire returned without a permit");
            } catch (InterruptedException e) {
                firstInterrupted.set(true);
            }
        });
        awaitQueueLength(s, 1, first);
        assertTrue(s.hasQueuedThreads());
        assertEquals(Set.of(first.thread), new HashSet<>(queuedThreads(s)));

        Worker second = start(kind, s::acquire);
        awaitQueueLength(s, 2, second);
        assertTrue(s.hasQueuedThreads());
        assertEquals(Set.of(first.thread, second.thread), new HashSet<>(queuedThreads(s)));

        first.thread.interrupt();
        first.joinAndCheck();
        assertTrue(firstInterrupted.get());
        awaitQueueLength(s, 1, second);
        assertTrue(s.hasQueuedThreads());
        assertEquals(Set.of(second.thread), new HashSet<>(queuedThreads(s)));

        s.release();
        second.joinAndCheck();
        awaitNoWaiters(s);
        assertEquals(0, s.availablePermits());
    }

    // ============================================================================================================
    // drainPermits, reducePermits, overflow
    // ============================================================================================================

    @Test
    void drainPermitsTakesEverythingAvailable() throws InterruptedException {
        Semaphore s = sem(5);
        assertEquals(5, s.drainPermits());
        assertEquals(0, s.availablePermits());
        assertEquals(0, s.drainPermits());
        assertEquals(0, s.availablePermits());
        s.release(3);
        s.acquire();
        assertEquals(2, s.drainPermits());
        assertEquals(0, s.availablePermits());
        assertFalse(s.tryAcquire());
        s.release();
        assertTrue(s.tryAcquire());
    }

    @Test
    void drainPermitsOfNegativeCountReturnsItAndLeavesZero() {
        Semaphore s = sem(-3);
        assertEquals(-3, s.drainPermits());
        assertEquals(0, s.availablePermits());
        assertPermitsString(s, 0);
        assertFalse(s.tryAcquire());
        s.release();
        assertTrue(s.tryAcquire());
        reducePermits(s, 4);
        assertEquals(-4, s.drainPermits());
        assertEquals(0, s.availablePermits());
    }

    @Test
    void reducePermitsWalksBelowZeroAndRejectsNegativeArgument() {
        Semaphore s = sem(10);
        reducePermits(s, 1);
        assertEquals(9, s.availablePermits());
        reducePermits(s, 10);
        assertEquals(-1, s.availablePermits());
        reducePermits(s, 10);
        assertEquals(-11, s.availablePermits());
        assertPermitsString(s, -11);
        assertThrows(IllegalArgumentException.class, () -> reducePermits(s, -1));
        assertEquals(-11, s.availablePermits());
        reducePermits(s, 0);
        assertEquals(-11, s.availablePermits());
        assertFalse(s.tryAcquire());
        s.release(12);
        assertEquals(1, s.availablePermits());
        assertTrue(s.tryAcquire());
        assertNoWaiters(s);
    }

    @Test
    void releaseBeyondIntegerMaxValueThrowsErrorAndChangesNothing() {
        Semaphore s = sem(Integer.MAX_VALUE);
        Error e = assertThrowsExactly(Error.class, s::release);
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(Integer.MAX_VALUE, s.availablePermits());
        e = assertThrowsExactly(Error.class, () -> s.release(1));
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(Integer.MAX_VALUE, s.availablePermits());
        assertTrue(s.tryAcquire(2));
        s.release(2);
        assertEquals(Integer.MAX_VALUE, s.availablePermits());

        Semaphore t = sem(Integer.MAX_VALUE - 2);
        e = assertThrowsExactly(Error.class, () -> t.release(3));
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(Integer.MAX_VALUE - 2, t.availablePermits());
        e = assertThrowsExactly(Error.class, () -> t.release(Integer.MAX_VALUE));
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(Integer.MAX_VALUE - 2, t.availablePermits());
        t.release(2);
        assertEquals(Integer.MAX_VALUE, t.availablePermits());

        Semaphore u = sem(1);
        e = assertThrowsExactly(Error.class, () -> u.release(Integer.MAX_VALUE));
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(1, u.availablePermits());
    }

    /**
     * The JDK's permit-overflow regression check, downwards: a reduction that would take the count below
     * {@code Integer.MIN_VALUE} throws {@code Error("Permit count underflow")} and changes nothing; reducing to
     * exactly {@code Integer.MIN_VALUE} is allowed.
     */
    @Test
    void reducePermitsPastIntegerMinValueThrowsErrorAndChangesNothing() {
        Semaphore s = sem(Integer.MIN_VALUE + 1);
        assertEquals(Integer.MIN_VALUE + 1, s.availablePermits());
        assertUnderflow(() -> reducePermits(s, 2), s, Integer.MIN_VALUE + 1);
        reducePermits(s, 1);
        assertEquals(Integer.MIN_VALUE, s.availablePermits());
        assertPermitsString(s, Integer.MIN_VALUE);
        assertUnderflow(() -> reducePermits(s, 1), s, Integer.MIN_VALUE);
        assertUnderflow(() -> reducePermits(s, Integer.MAX_VALUE), s, Integer.MIN_VALUE);
        reducePermits(s, 0);
        assertEquals(Integer.MIN_VALUE, s.availablePermits());
        s.release();
        assertEquals(Integer.MIN_VALUE + 1, s.availablePermits());
        assertFalse(s.tryAcquire());

        Semaphore t = sem(-10);
        assertUnderflow(() -> reducePermits(t, Integer.MAX_VALUE), t, -10);
        reducePermits(t, Integer.MAX_VALUE - 9); // to exactly MIN_VALUE
        assertEquals(Integer.MIN_VALUE, t.availablePermits());

        Semaphore u = sem(5);
        reducePermits(u, Integer.MAX_VALUE);
        assertEquals(5 - Integer.MAX_VALUE, u.availablePermits());
        assertUnderflow(() -> reducePermits(u, 7), u, 5 - Integer.MAX_VALUE);
        reducePermits(u, 6);
        assertEquals(Integer.MIN_VALUE, u.availablePermits());
        assertNoWaiters(u);
    }

    private static void assertUnderflow(ThrowingRunnable reduction, Semaphore s, int unchanged) {
        Error e = assertThrowsExactly(Error.class, reduction::run, "reducePermits below Integer.MIN_VALUE");
        assertEquals(UNDERFLOW_MESSAGE, e.getMessage());
        assertEquals(unchanged, s.availablePermits(), "an underflowing reduction must leave the count unchanged");
    }

    private static void assertOverflow(ThrowingRunnable release, Semaphore s, int unchanged) {
        Error e = assertThrowsExactly(Error.class, release::run, "release above Integer.MAX_VALUE");
        assertEquals(OVERFLOW_MESSAGE, e.getMessage());
        assertEquals(unchanged, s.availablePermits(), "an overflowing release must leave the count unchanged");
    }

    /**
     * A count taken far below zero comes back exactly: whatever reductions were refused, each release adds its
     * permits to the count that is reported, down at {@code Integer.MIN_VALUE} as well.
     */
    @Test
    void releasesAfterDeepReductionsRestoreTheExactCount() {
        Semaphore s = sem(0);
        reducePermits(s, Integer.MAX_VALUE);
        assertEquals(-Integer.MAX_VALUE, s.availablePermits());
        for (int i = 0; i < 3; i++) {
            try {
                reducePermits(s, Integer.MAX_VALUE); // would pass MIN_VALUE
            } catch (Error e) {
                assertEquals(UNDERFLOW_MESSAGE, e.getMessage());
            }
        }
        s.release(Integer.MAX_VALUE);
        assertEquals(0, s.availablePermits(), "releases must bring the count back up exactly");
        reducePermits(s, Integer.MAX_VALUE);
        reducePermits(s, 1);
        assertEquals(Integer.MIN_VALUE, s.availablePermits());
        try {
            reducePermits(s, 1);
        } catch (Error e) {
            assertEquals(UNDERFLOW_MESSAGE, e.getMessage());
        }
        s.release();
        assertEquals(Integer.MIN_VALUE + 1, s.availablePermits(), "a release at Integer.MIN_VALUE must count");
        s.release(Integer.MAX_VALUE);
        assertEquals(0, s.availablePermits());
        assertFalse(s.tryAcquire());
        s.release(2);
        assertTrue(s.tryAcquire(2));
        assertEquals(0, s.availablePermits());
    }

    /**
     * Both overflow checks again on a subclass of the implementation (one that makes {@code reducePermits}
     * public), as the JDK's regression test makes them.
     */
    @Test
    void permitOverflowAndUnderflowOfASubclass() {
        Semaphore up = newSubclass(Integer.MAX_VALUE - 1, fair(), "up");
        assertEquals(Integer.MAX_VALUE - 1, up.availablePermits());
        assertOverflow(() -> up.release(2), up, Integer.MAX_VALUE - 1);
        up.release();
        assertEquals(Integer.MAX_VALUE, up.availablePermits());
        assertOverflow(up::release, up, Integer.MAX_VALUE);
        assertOverflow(() -> up.release(1), up, Integer.MAX_VALUE);
        assertOverflow(() -> up.release(Integer.MAX_VALUE), up, Integer.MAX_VALUE);
        assertPermitsString(up, Integer.MAX_VALUE);

        Semaphore down = newSubclass(Integer.MIN_VALUE + 1, fair(), "down");
        UserSubclass d = user(down);
        assertEquals(Integer.MIN_VALUE + 1, down.availablePermits());
        assertUnderflow(() -> d.reducePermits(2), down, Integer.MIN_VALUE + 1);
        d.reducePermits(1);
        assertEquals(Integer.MIN_VALUE, down.availablePermits());
        assertUnderflow(() -> d.reducePermits(1), down, Integer.MIN_VALUE);
        assertUnderflow(() -> d.reducePermits(Integer.MAX_VALUE), down, Integer.MIN_VALUE);
        assertPermitsString(down, Integer.MIN_VALUE);
        down.release();
        assertEquals(Integer.MIN_VALUE + 1, down.availablePermits());
        assertThrows(IllegalArgumentException.class, () -> d.reducePermits(-1));
        assertEquals(Integer.MIN_VALUE + 1, down.availablePermits());
    }

    // ============================================================================================================
    // Serialization
    // ============================================================================================================

    @SuppressWarnings("unchecked")
    static <T extends Serializable> T roundTrip(T o) throws IOException, ClassNotFoundException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }

    @Test
    void serializedCopyHasSamePermitsAndFairnessAndIsIndependent() throws Exception {
        Semaphore s = sem(3);
        s.acquire();
        s.acquire();
        s.release();
        Semaphore copy = track(roundTrip(s));
        assertSame(s.getClass(), copy.getClass(), "a serialized copy keeps the class of the original");
        assertSeparateResources(s, copy);
        assertEquals(fair(), s.isFair());
        assertEquals(fair(), copy.isFair());
        assertEquals(2, s.availablePermits());
        assertEquals(2, copy.availablePermits());
        assertPermitsString(copy, 2);
        assertNoWaiters(copy);

        copy.acquire();
        copy.acquire();
        copy.release();
        assertEquals(1, copy.availablePermits());
        assertEquals(2, s.availablePermits());
        s.release(5);
        assertEquals(7, s.availablePermits());
        assertEquals(1, copy.availablePermits());
        assertNoWaiters(s);
        assertNoWaiters(copy);
        assertCopyOutlivesOriginal(s, copy, 1);
    }

    /** If the original can be closed, closing it leaves the copy (which holds {@code permits}) working. */
    private static void assertCopyOutlivesOriginal(Semaphore original, Semaphore copy, int permits)
            throws Exception {
        if (original instanceof AutoCloseable c) {
            c.close();
        }
        assertEquals(permits, copy.availablePermits());
        copy.release(2);
        assertTrue(copy.tryAcquire(permits + 2));
        assertEquals(0, copy.availablePermits());
        copy.release(permits);
    }

    /**
     * The TCK's serial clone, on a subclass: the copy is of the subclass itself and carries its state, has the
     * permits and fairness of the original, no waiters, and shares nothing with it.
     */
    @ParameterizedTest(name = "permits = {0}")
    @ValueSource(ints = {-5, 0, 3})
    void serializedCopyOfASubclassKeepsItsClassAndState(int permits) throws Exception {
        for (boolean fairness : new boolean[] {fair(), !fair()}) {
            Semaphore s = newSubclass(permits + 1, fairness, "label-" + permits + "-" + fairness);
            UserSubclass u = user(s);
            u.mark();
            u.mark();
            u.reducePermits(1);
            Semaphore copy = track(roundTrip(s));
            assertSame(s.getClass(), copy.getClass(), "a subclass must deserialize as itself");
            UserSubclass c = user(copy);
            assertEquals("label-" + permits + "-" + fairness, c.label(), "the subclass's own state");
            assertEquals(2, c.marks(), "the subclass's own state");
            assertEquals(fairness, copy.isFair());
            assertEquals(permits, copy.availablePermits());
            assertPermitsString(copy, permits);
            assertNoWaiters(copy);
            assertSeparateResources(s, copy);

            c.mark();
            c.reducePermits(2);
            copy.release(7);
            assertEquals(3, c.marks());
            assertEquals(2, u.marks());
            assertEquals(permits + 5, copy.availablePermits());
            assertEquals(permits, s.availablePermits());
            assertCopyOutlivesOriginal(s, copy, permits + 5);
        }
    }

    @ParameterizedTest(name = "permits = {0}")
    @ValueSource(ints = {-5, 0, 42})
    void serializationKeepsPermitsAndFairnessOfEitherMode(int permits) throws Exception {
        for (boolean fairness : new boolean[] {true, false}) {
            Semaphore original = newSemaphore(permits, fairness);
            Semaphore copy = track(roundTrip(original));
            assertSame(original.getClass(), copy.getClass());
            assertEquals(fairness, copy.isFair());
            assertEquals(permits, copy.availablePermits());
            assertPermitsString(copy, permits);
        }
    }

    @Test
    @Timeout(20)
    void serializedCopyOfSemaphoreWithWaiterHasNoWaiters() throws Exception {
        Semaphore s = sem(0);
        Worker w = start(ThreadKind.PLATFORM, s::acquire);
        awaitQueued(s, w);
        Semaphore copy = track(roundTrip(s));
        assertNoWaiters(copy);
        assertEquals(0, copy.availablePermits());
        copy.release();
        assertEquals(1, copy.availablePermits());
        // the original's waiter is not affected by the copy
        assertEquals(0, s.availablePermits());
        assertTrue(w.alive());
        assertEquals(1, s.getQueueLength());
        s.release();
        w.joinAndCheck();
        assertEquals(0, s.availablePermits());
        assertEquals(1, copy.availablePermits());
        awaitNoWaiters(s);
    }

    // ============================================================================================================
    // Across threads
    // ============================================================================================================

    @ParameterizedTest(name = "{0} on a {1} thread")
    @MethodSource("blockingAcquiresOnEachKind")
    @Timeout(20)
    void releaseAndAcquireOneToFivePermitsAcrossThreads(Acquire method, ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(0);
        AtomicInteger rounds = new AtomicInteger();
        Worker w = start(kind, () -> {
            for (int n = 1; n <= 5; n++) {
                method.acquire(s, n);
                rounds.incrementAndGet();
            }
        });
        for (int n = 1; n <= 5; n++) {
            for (int i = 1; i <= n; i++) {
                // multi-permit waiters leave the permits released so far; single-permit ones take each at once
                int expectedFree = method.multi ? i - 1 : 0;
                awaitCondition(() -> "worker blocked with " + expectedFree + " permits free",
                        () -> s.availablePermits() == expectedFree && queuedThreads(s).contains(w.thread), w);
                assertEquals(n - 1, rounds.get(), "a round completed before all its permits were released");
                s.release();
            }
            int done = n;
            awaitCondition(() -> "round " + done + " completed", () -> rounds.get() == done, w);
        }
        w.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void untimedTryAcquireBargesPastQueuedWaiter(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(1);
        Worker big = start(kind, () -> s.acquire(2));
        awaitQueued(s, big);
        assertTrue(s.tryAcquire(), "tryAcquire() must barge, even in fair mode");
        assertEquals(0, s.availablePermits());
        s.release();
        assertTrue(s.tryAcquire(1), "tryAcquire(n) must barge, even in fair mode");
        assertEquals(0, s.availablePermits());
        assertTrue(big.alive());
        s.release(2);
        big.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void fairLargerAcquireBlocksLaterAcquireWhileUntimedTryAcquireBarges(ThreadKind kind)
            throws InterruptedException {
        assumeTrue(fair(), "fair mode only");
        Semaphore s = sem(1);
        Worker big = start(kind, () -> s.acquire(3));
        awaitQueueLength(s, 1, big);
        Worker small = start(kind, s::acquire);
        awaitQueueLength(s, 2, small);
        assertEquals(1, s.availablePermits(), "a fair acquire() must queue behind an earlier acquire(3)");
        assertEquals(Set.of(big.thread, small.thread), new HashSet<>(queuedThreads(s)));

        assertFalse(s.tryAcquire(0, SECONDS), "tryAcquire(0, unit) honours fairness");
        assertFalse(s.tryAcquire(1, 0, SECONDS), "tryAcquire(1, 0, unit) honours fairness");
        assertFalse(s.tryAcquire(-1, MILLISECONDS), "tryAcquire(-1, unit) honours fairness");
        assertEquals(1, s.availablePermits());

        assertTrue(s.tryAcquire(), "untimed tryAcquire() barges");
        assertEquals(0, s.availablePermits());
        s.release();
        assertTrue(s.tryAcquire(1), "untimed tryAcquire(n) barges");
        s.release();
        assertEquals(1, s.availablePermits());
        assertTrue(big.alive() && small.alive());

        s.release(2); // three free: they go to the first waiter
        big.joinAndCheck();
        assertEquals(0, s.availablePermits());
        assertTrue(small.alive());
        awaitQueueLength(s, 1, small);
        assertEquals(Set.of(small.thread), new HashSet<>(queuedThreads(s)));
        s.release();
        small.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    /**
     * The TCK's fair FIFO scenario, with the barging done by a second thread: while a fair {@code acquire(3)} waits
     * with one permit free, that thread's timed tries with no wait fail, its untimed {@code tryAcquire()} and
     * {@code tryAcquire(2)} barge, and its own {@code acquire()} then queues behind the first waiter even though a
     * permit is free. Two more permits serve the first waiter only.
     */
    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void fairFifoWithUntimedTriesBargingFromAnotherThread(ThreadKind kind) throws InterruptedException {
        assumeTrue(fair(), "fair mode only");
        Semaphore s = sem(1);
        Worker first = start(kind, () -> s.acquire(3));
        awaitQueued(s, first);
        AtomicBoolean triesDone = new AtomicBoolean();
        Worker second = start(kind.other(), () -> {
            assertFalse(s.tryAcquire(0, MILLISECONDS), "tryAcquire(0, unit) must not barge when fair");
            assertFalse(s.tryAcquire(1, 0, MILLISECONDS), "tryAcquire(1, 0, unit) must not barge when fair");
            assertTrue(s.tryAcquire(), "untimed tryAcquire() barges");
            assertEquals(0, s.availablePermits());
            s.release(2); // two free: still not enough for the first waiter
            assertTrue(s.tryAcquire(2), "untimed tryAcquire(2) barges");
            s.release();
            triesDone.set(true);
            s.acquire(); // one free, but the first waiter is ahead
        });
        awaitCondition(() -> "second thread finished its tries", triesDone::get, second);
        awaitQueueLength(s, 2, first, second);
        assertEquals(1, s.availablePermits(), "a fair acquire() must not take the free permit past an acquire(3)");
        assertTrue(first.alive());
        s.release(2);
        first.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitQueued(s, second);
        assertEquals(1, s.getQueueLength());
        s.release();
        second.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void fairAcquiresAreGrantedInArrivalOrder(ThreadKind kind) throws InterruptedException {
        assumeTrue(fair(), "fair mode only");
        Semaphore s = sem(0);
        Acquire[] methods = {Acquire.ACQUIRE, Acquire.ACQUIRE_N, Acquire.TRY_ACQUIRE_TIMED,
                Acquire.ACQUIRE_UNINTERRUPTIBLY, Acquire.TRY_ACQUIRE_N_TIMED, Acquire.ACQUIRE_UNINTERRUPTIBLY_N};
        ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
        List<Worker> workers = new ArrayList<>();
        for (int i = 0; i < methods.length; i++) {
            int index = i;
            Worker w = start(i % 2 == 0 ? kind : kind.other(), () -> {
                methods[index].acquire(s, 1);
                order.add(index);
            });
            workers.add(w);
            awaitQueueLength(s, i + 1, w);
        }
        for (int i = 0; i < methods.length; i++) {
            s.release();
            workers.get(i).joinAndCheck();
            assertEquals(0, s.availablePermits());
            for (int j = i + 1; j < methods.length; j++) {
                assertTrue(workers.get(j).alive(), "waiter " + j + " overtook waiter " + i);
            }
        }
        assertEquals(List.of(0, 1, 2, 3, 4, 5), new ArrayList<>(order));
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void nonFairLaterAcquireTakesFreePermitWhileLargerAcquireWaits(ThreadKind kind) throws InterruptedException {
        assumeFalse(fair(), "non-fair mode only");
        Semaphore s = sem(1);
        Worker big = start(kind, () -> s.acquire(3));
        awaitQueued(s, big);
        start(kind, s::acquire).joinAndCheck(); // barges: does not queue behind acquire(3)
        assertEquals(0, s.availablePermits());
        s.release();
        assertTrue(s.tryAcquire(), "tryAcquire() barges");
        s.release();
        assertTrue(s.tryAcquire(0, SECONDS), "non-fair tryAcquire(0, unit) takes a free permit");
        assertEquals(0, s.availablePermits());
        assertTrue(big.alive());
        s.release(3);
        big.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void permitsOfInterruptedWaiterGoToOtherWaiters(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(0);
        AtomicBoolean aInterrupted = new AtomicBoolean();
        Worker a = start(kind, () -> {
            try {
                s.acquire(3);
                fail("acquire(3) returned with only 2 permits released");
            } catch (InterruptedException e) {
                aInterrupted.set(true);
            }
        });
        awaitQueueLength(s, 1, a);
        Worker b = start(kind, s::acquire);
        awaitQueueLength(s, 2, b);
        Worker c = start(kind.other(), s::acquireUninterruptibly);
        awaitQueueLength(s, 3, c);
        s.release(2); // not enough for A, which is first in line
        if (fair()) {
            assertEquals(2, s.availablePermits(), "fair: later waiters must not overtake A");
            assertTrue(b.alive() && c.alive());
        }
        a.thread.interrupt();
        a.joinAndCheck();
        assertTrue(aInterrupted.get());
        b.joinAndCheck();
        c.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void permitsOfTimedOutWaiterGoToOtherWaiters(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(0);
        long timeoutMs = 500;
        Worker a = start(kind, () -> {
            long t0 = System.nanoTime();
            assertFalse(s.tryAcquire(3, timeoutMs, MILLISECONDS));
            long elapsed = System.nanoTime() - t0;
            assertTrue(elapsed >= MILLISECONDS.toNanos(timeoutMs), () -> "timed out after " + elapsed + " ns");
        });
        // A may in principle time out before B and C queue (a very slow machine): the test stays correct.
        awaitCondition(() -> "A queued or finished", () -> queuedThreads(s).contains(a.thread) || !a.alive());
        Worker b = start(kind, s::acquire);
        Worker c = start(kind.other(), () -> assertTrue(s.tryAcquire(LONG_WAIT_MS, MILLISECONDS)));
        awaitQueued(s, b, c);
        s.release(2); // not enough for A
        a.joinAndCheck();
        b.joinAndCheck();
        c.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(20)
    void negativeInitialPermitsNeedReleasesBeforeAnyAcquire(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(-2);
        assertFalse(s.tryAcquire());
        assertPermitsString(s, -2);
        Worker w = start(kind, s::acquire);
        awaitQueued(s, w);
        s.release();
        assertEquals(-1, s.availablePermits());
        assertFalse(s.tryAcquire());
        s.release();
        assertEquals(0, s.availablePermits());
        assertFalse(s.tryAcquire());
        assertTrue(w.alive());
        s.release();
        w.joinAndCheck();
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }

    @Test
    void negativeInitialPermitsInOneThread() {
        Semaphore s = sem(-2);
        assertFalse(s.tryAcquire());
        s.release();
        assertFalse(s.tryAcquire());
        s.release();
        assertFalse(s.tryAcquire());
        s.release();
        assertTrue(s.tryAcquire());
        assertFalse(s.tryAcquire());
        assertEquals(0, s.availablePermits());
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void multiPermitAcquireReleaseLoopsDoNotDeadlock(ThreadKind kind) throws InterruptedException {
        Semaphore s = sem(4);
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger exclusionViolations = new AtomicInteger();
        List<Worker> workers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            workers.add(start(kind, () -> {
                for (int j = 0; j < 2000; j++) {
                    s.acquire(3);
                    if (holders.incrementAndGet() != 1) { // 3 + 3 > 4: at most one holder at a time
                        exclusionViolations.incrementAndGet();
                    }
                    holders.decrementAndGet();
                    s.release(3);
                }
            }));
        }
        for (Worker w : workers) {
            w.joinAndCheck(Duration.ofSeconds(25));
        }
        assertEquals(0, exclusionViolations.get(), "two threads held 3 of 4 permits at once");
        assertEquals(4, s.availablePermits());
        awaitNoWaiters(s);
    }

    /** Plain (non-volatile) fields: only the semaphore's happens-before edge makes the writes visible. */
    private static final class Box {
        int x;
        long y;
        final int[] slots = new int[16];
    }

    @ParameterizedTest(name = "writer on a {0} thread")
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void actionsBeforeReleaseAreVisibleAfterAcquire(ThreadKind kind) throws InterruptedException {
        Semaphore toReader = sem(0);
        Semaphore toWriter = sem(1);
        Box box = new Box();
        int rounds = 5000;
        Worker writer = start(kind, () -> {
            for (int r = 1; r <= rounds; r++) {
                toWriter.acquire();
                box.x = r;
                box.y = r * 3L;
                box.slots[r & 15] = r;
                toReader.release();
            }
        });
        Worker reader = start(kind.other(), () -> {
            for (int r = 1; r <= rounds; r++) {
                switch (r % 3) {
                    case 0 -> toReader.acquire();
                    case 1 -> assertTrue(toReader.tryAcquire(LONG_WAIT_MS, MILLISECONDS));
                    default -> {
                        while (!toReader.tryAcquire()) {
                            Thread.yield();
                        }
                    }
                }
                if (box.x != r || box.y != r * 3L || box.slots[r & 15] != r) {
                    fail("round " + r + ": saw x=" + box.x + " y=" + box.y + " slot=" + box.slots[r & 15]);
                }
                toWriter.release();
            }
        });
        reader.joinAndCheck(Duration.ofSeconds(25));
        writer.joinAndCheck();
        assertEquals(0, toReader.availablePermits());
        assertEquals(1, toWriter.availablePermits());
    }

    // ============================================================================================================
    // Races
    // ============================================================================================================

    /** How the two acquirers of the racing-releases test wait. */
    enum Acquirers {
        INTERRUPTIBLE, UNINTERRUPTIBLE, ONE_OF_EACH;

        void acquire(Semaphore s, int which) throws InterruptedException {
            if (this == INTERRUPTIBLE || (this == ONE_OF_EACH && which == 0)) {
                s.acquire();
            } else {
                s.acquireUninterruptibly();
            }
        }
    }

    static Stream<Arguments> kindsAndAcquirers() {
        return Arrays.stream(ThreadKind.values())
                .flatMap(k -> Arrays.stream(Acquirers.values()).map(a -> Arguments.of(k, a)));
    }

    static Stream<Arguments> kindsAndSingleModeAcquirers() {
        return kindsAndAcquirers().filter(a -> a.get()[1] != Acquirers.ONE_OF_EACH);
    }

    /**
     * After the JDK's RacingReleases regression test: two blocked acquirers and two racing single releases, 1000
     * rounds on one semaphore, with both acquirers interruptible, both uninterruptible, or one of each (the run's
     * fairness gives the fair and non-fair halves). After every round: both acquirers got their permit, 0 permits
     * are left and nothing waits.
     */
    @ParameterizedTest(name = "{0} threads, acquirers {1}")
    @MethodSource("kindsAndAcquirers")
    @Timeout(30)
    void racingReleasesWakeBothBlockedAcquirers(ThreadKind kind, Acquirers acquirers) throws Exception {
        racingReleases(kind, acquirers, false);
    }

    /** The same with a new semaphore every round, as the JDK's test does: no state carries over between rounds. */
    @ParameterizedTest(name = "{0} threads, acquirers {1}")
    @MethodSource("kindsAndSingleModeAcquirers")
    @Timeout(30)
    void racingReleasesOnANewSemaphoreEveryRound(ThreadKind kind, Acquirers acquirers) throws Exception {
        racingReleases(kind, acquirers, true);
    }

    /**
     * The four threads live for the whole test and are let go once per round in a shuffled order (fresh threads
     * per round would start so far apart that the releases would hardly ever race). In even rounds both acquirers
     * are blocked before the releasers go; in odd rounds all four go in a random order. Every wait is bounded.
     */
    private void racingReleases(ThreadKind kind, Acquirers acquirers, boolean newSemaphoreEachRound)
            throws Exception {
        final int rounds = 1000;
        AtomicReference<Semaphore> current = new AtomicReference<>(sem(0));
        long seed = ThreadLocalRandom.current().nextLong();
        Random random = new Random(seed);
        Thread main = Thread.currentThread();
        AtomicInteger acquired = new AtomicInteger();
        AtomicInteger finished = new AtomicInteger();
        ThrowingRunnable[] bodies = {
            () -> {
                acquirers.acquire(current.get(), 0);
                acquired.incrementAndGet();
            },
            () -> {
                acquirers.acquire(current.get(), 1);
                acquired.incrementAndGet();
            },
            () -> current.get().release(),
            () -> current.get().release(),
        };
        AtomicInteger[] go = new AtomicInteger[bodies.length];
        Worker[] workers = new Worker[bodies.length];
        for (int i = 0; i < bodies.length; i++) {
            int id = i;
            go[id] = new AtomicInteger(-1);
            workers[id] = start(kind, () -> {
                for (int r = 0; r < rounds; r++) {
                    while (go[id].get() < r) {
                        if (Thread.currentThread().isInterrupted()) {
                            throw new AssertionError("aborted while waiting for round " + r);
                        }
                        LockSupport.park(this);
                    }
                    bodies[id].run();
                    finished.incrementAndGet();
                    LockSupport.unpark(main);
                }
            });
        }
        List<Integer> acquirerIds = new ArrayList<>(List.of(0, 1));
        List<Integer> releaserIds = new ArrayList<>(List.of(2, 3));
        List<Integer> everyone = new ArrayList<>(List.of(0, 1, 2, 3));
        for (int round = 0; round < rounds; round++) {
            int r = round;
            Supplier<String> where = () -> "round " + r + " (seed " + seed + ")";
            if (newSemaphoreEachRound && round > 0) {
                Semaphore previous = current.get();
                current.set(sem(0)); // published to the workers by their go counters
                dispose(previous);
            }
            Semaphore s = current.get();
            if (round % 2 == 0) {
                Collections.shuffle(acquirerIds, random);
                Collections.shuffle(releaserIds, random);
                for (int id : acquirerIds) {
                    letGo(workers[id], go[id], round);
                }
                awaitQueueLength(s, 2, workers[0], workers[1]);
                for (int id : releaserIds) {
                    letGo(workers[id], go[id], round);
                }
            } else {
                Collections.shuffle(everyone, random);
                for (int id : everyone) {
                    letGo(workers[id], go[id], round);
                }
            }
            long deadline = System.nanoTime() + AWAIT.toNanos();
            while (finished.get() < bodies.length * (round + 1)) {
                for (Worker w : workers) {
                    if (w.failure.get() != null) {
                        w.joinAndCheck();
                    }
                }
                if (System.nanoTime() - deadline > 0) {
                    fail(where.get() + ": threads did not finish; permits " + s.availablePermits()
                            + ", acquired " + acquired.get() + ", queued " + queuedThreads(s));
                }
                LockSupport.parkNanos(this, 100_000);
            }
            assertEquals(2 * (round + 1), acquired.get(), where);
            assertEquals(0, s.availablePermits(), where);
            assertNoWaiters(s);
        }
        for (Worker w : workers) {
            w.joinAndCheck();
        }
    }

    private static void letGo(Worker w, AtomicInteger go, int round) {
        go.set(round);
        LockSupport.unpark(w.thread);
    }

    /**
     * A randomized mix of every acquiring method, tiny timeouts and random interrupts on platform and virtual
     * threads. Permits are conserved: the permits held never exceed the initial count, and all come back.
     */
    @Test
    @Timeout(30)
    void permitsAreConservedUnderRandomizedMixWithInterrupts() throws InterruptedException {
        final int permits = 3;
        final int perKind = 4;
        final int iterations = 1500;
        Semaphore s = sem(permits);
        long seed = ThreadLocalRandom.current().nextLong();
        AtomicInteger held = new AtomicInteger();
        AtomicInteger maxHeld = new AtomicInteger();
        AtomicInteger successes = new AtomicInteger();
        AtomicInteger interruptions = new AtomicInteger();
        List<Worker> workers = new ArrayList<>();
        Thread[] threads = new Thread[2 * perKind];
        for (int i = 0; i < 2 * perKind; i++) {
            Random random = new Random(seed + i);
            ThreadKind kind = i < perKind ? ThreadKind.PLATFORM : ThreadKind.VIRTUAL;
            Worker w = new Worker(kind, () -> {
                for (int j = 0; j < iterations; j++) {
                    int k = 1 + random.nextInt(2);
                    boolean got;
                    try {
                        switch (random.nextInt(7)) {
                            case 0 -> {
                                s.acquire(k);
                                got = true;
                            }
                            case 1 -> {
                                s.acquire();
                                k = 1;
                                got = true;
                            }
                            case 2 -> got = s.tryAcquire(k, random.nextInt(50), MICROSECONDS);
                            case 3 -> got = s.tryAcquire(k, 0, NANOSECONDS);
                            case 4 -> got = s.tryAcquire(k);
                            case 5 -> {
                                s.acquireUninterruptibly(k);
                                got = true;
                            }
                            default -> {
                                threads[random.nextInt(threads.length)].interrupt();
                                got = false;
                            }
                        }
                    } catch (InterruptedException e) {
                        interruptions.incrementAndGet();
                        continue;
                    }
                    if (got) {
                        int now = held.addAndGet(k);
                        maxHeld.accumulateAndGet(now, Math::max);
                        successes.incrementAndGet();
                        if ((j & 7) == 0) {
                            Thread.yield();
                        }
                        held.addAndGet(-k);
                        s.release(k);
                    }
                }
                Thread.interrupted();
            });
            workers.add(w);
            threads[i] = w.thread;
        }
        workers.forEach(Worker::start);
        for (Worker w : workers) {
            w.joinAndCheck(Duration.ofSeconds(25));
        }
        assertTrue(maxHeld.get() <= permits,
                () -> "held " + maxHeld.get() + " permits at once out of " + permits + " (seed " + seed + ")");
        assertEquals(permits, s.availablePermits(), () -> "seed " + seed);
        assertTrue(successes.get() > 0);
        awaitNoWaiters(s);
    }

    /**
     * Very short timeouts must not starve (after JDK-8386085): while every thread loops on
     * {@code tryAcquire(1, 1, MICROSECONDS)}, each permit released into the semaphore is still taken. The bound is
     * generous: this checks progress, not speed.
     */
    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(60)
    void permitsAreTakenWhileEveryThreadSpinsOnMicrosecondTimeouts(ThreadKind kind) throws InterruptedException {
        final int spinners = 4;
        final int releases = 300;
        Semaphore s = sem(0);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger taken = new AtomicInteger();
        AtomicLong tries = new AtomicLong();
        List<Worker> workers = new ArrayList<>();
        for (int i = 0; i < spinners; i++) {
            workers.add(start(kind, () -> {
                while (!stop.get()) {
                    tries.incrementAndGet();
                    if (s.tryAcquire(1, 1, MICROSECONDS)) {
                        taken.incrementAndGet();
                    }
                }
            }));
        }
        awaitCondition(() -> "every spinner is trying", () -> tries.get() > 10L * spinners,
                workers.toArray(Worker[]::new));
        int released = 0;
        try {
            while (released < releases) {
                int batch = released % 10 == 9 ? 2 : 1; // now and then two at once
                s.release(batch);
                released += batch;
                int expected = released;
                awaitCondition(() -> "permit " + expected + " taken (taken " + taken.get() + ", permits "
                                + s.availablePermits() + ", queued " + s.getQueueLength() + ")",
                        () -> taken.get() == expected, workers.toArray(Worker[]::new));
            }
        } finally {
            stop.set(true);
        }
        for (Worker w : workers) {
            w.joinAndCheck();
        }
        assertEquals(released, taken.get());
        assertEquals(0, s.availablePermits());
        awaitNoWaiters(s);
    }
}
