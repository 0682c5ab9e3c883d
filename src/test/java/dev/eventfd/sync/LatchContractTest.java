package dev.eventfd.sync;

import static java.util.concurrent.TimeUnit.HOURS;
import static java.util.concurrent.TimeUnit.MICROSECONDS;
import static java.util.concurrent.TimeUnit.MILLISECONDS;
import static java.util.concurrent.TimeUnit.NANOSECONDS;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
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
 * The {@link CountDownLatch} contract (JDK 25 javadoc plus the behaviours the JSR-166 TCK checks), written
 * once and run against every implementation that claims to be a drop-in replacement.
 *
 * <p>A subclass supplies {@link #create(int)}. Tests obtain latches only through {@link #newLatch(int)},
 * which remembers them so that {@link AutoCloseable} implementations are closed after each test (after
 * every thread the test started has been stopped).
 *
 * <p>Rules kept throughout: no sleeping as synchronization (a thread is known to be blocked by polling
 * its {@link Thread#getState() state} with a deadline); timing is checked only as a lower bound taken
 * with {@link System#nanoTime()}, never as an upper bound; every test has a {@link Timeout}.
 */
@Timeout(60)
abstract class LatchContractTest {

    /**
     * How long to wait for something that must happen (a thread blocking, a released thread finishing).
     * Exceeding it means a hang, not slowness; it is below the per-test timeouts so that the failure
     * message names the stuck thread.
     */
    static final Duration PATIENCE = Duration.ofSeconds(20);

    /** A timeout long enough that a timed await which is meant to succeed never times out. */
    static final long LONG_TIMEOUT_HOURS = 1;

    /** The implementation under test; called only through {@link #newLatch(int)}. */
    protected abstract CountDownLatch create(int count);

    private final List<CountDownLatch> latches = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    /** Creates a latch through {@link #create(int)} and remembers it, to be closed after the test. */
    protected final CountDownLatch newLatch(int count) {
        CountDownLatch latch = create(count);
        synchronized (latches) {
            latches.add(latch);
        }
        return latch;
    }

    /**
     * Closes a latch created by {@link #newLatch(int)} now (if it is {@link AutoCloseable}) and forgets it,
     * for tests that create many latches. No thread may still be using the latch.
     */
    protected final void dispose(CountDownLatch latch) throws Exception {
        boolean removed;
        synchronized (latches) {
            removed = latches.removeIf(l -> l == latch);
        }
        if (removed && latch instanceof AutoCloseable closeable) closeable.close();
    }

    /**
     * Whether {@code t} is blocked (parked). Waiters in both {@link CountDownLatch} and the poller of this
     * library park with {@link java.util.concurrent.locks.LockSupport}, which both platform and virtual
     * threads report as WAITING or TIMED_WAITING.
     */
    protected boolean isBlocked(Thread t) {
        Thread.State s = t.getState();
        return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
    }

    @AfterEach
    final void stopThreadsAndCloseLatches() throws Exception {
        List<Thread> started;
        synchronized (threads) {
            started = new ArrayList<>(threads);
            threads.clear();
        }
        // Normally every thread has finished; after a failure some may still be blocked in await.
        for (Thread t : started) {
            if (t.isAlive()) t.interrupt();
        }
        List<Thread> stuck = new ArrayList<>();
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (Thread t : started) {
            long left = deadline - System.nanoTime();
            if (left > 0) t.join(Duration.ofNanos(left));
            if (t.isAlive()) stuck.add(t);
        }
        List<CountDownLatch> created;
        synchronized (latches) {
            created = new ArrayList<>(latches);
            latches.clear();
        }
        Exception closeFailure = null;
        for (CountDownLatch latch : created) {
            if (latch instanceof AutoCloseable closeable) {
                try {
                    closeable.close();
                } catch (Exception e) {
                    if (closeFailure == null) closeFailure = e;
                    else closeFailure.addSuppressed(e);
                }
            }
        }
        if (!stuck.isEmpty()) {
            AssertionError e = new AssertionError(stuck.size() + " thread(s) still alive after interrupt: " + stuck);
            if (closeFailure != null) e.addSuppressed(closeFailure);
            throw e;
        }
        if (closeFailure != null) throw closeFailure;
    }

    // ------------------------------------------------------------------------------------------------
    // Threads
    // ------------------------------------------------------------------------------------------------

    private static final AtomicInteger THREAD_IDS = new AtomicInteger();

    enum ThreadKind {
        PLATFORM,
        VIRTUAL;

        Thread.Builder builder() {
            String name = "latch-test-" + name().toLowerCase() + "-" + THREAD_IDS.incrementAndGet();
            return this == PLATFORM ? Thread.ofPlatform().daemon().name(name) : Thread.ofVirtual().name(name);
        }
    }

    @FunctionalInterface
    interface Body<T> {
        T run(Forked<T> self) throws Throwable;
    }

    /** A started thread and the result of its body. */
    static final class Forked<T> {
        final Thread thread;
        final CompletableFuture<T> result = new CompletableFuture<>();
        /** Set by a waiter body just before it calls await, so a WAITING state before that is not mistaken. */
        volatile boolean entered;

        Forked(ThreadKind kind, Body<T> body) {
            this.thread = kind.builder().unstarted(() -> {
                try {
                    result.complete(body.run(this));
                } catch (Throwable e) {
                    result.completeExceptionally(e);
                }
            });
        }

        String describe() {
            return thread + " (" + thread.getState() + ", result "
                    + result.handle((v, e) -> e != null ? "threw " + e : "returned " + v).getNow("pending") + ")";
        }
    }

    final <T> Forked<T> fork(ThreadKind kind, Body<T> body) {
        Forked<T> f = new Forked<>(kind, body);
        synchronized (threads) {
            threads.add(f.thread);
        }
        f.thread.start();
        return f;
    }

    /** Waits (up to {@link #PATIENCE}) for the thread to finish and returns its body's result. */
    static <T> T join(Forked<T> f) throws InterruptedException {
        T value;
        try {
            value = f.result.get(PATIENCE.toNanos(), NANOSECONDS);
        } catch (TimeoutException e) {
            AssertionError err = new AssertionError("did not finish within " + PATIENCE + ": " + f.describe());
            StackTraceElement[] stack = f.thread.getStackTrace();
            if (stack.length > 0) {
                Throwable where = new Throwable("stack of " + f.thread);
                where.setStackTrace(stack);
                err.addSuppressed(where);
            }
            throw err;
        } catch (ExecutionException e) {
            throw new AssertionError(f.thread + " failed", e.getCause());
        }
        f.thread.join(PATIENCE);
        return value;
    }

    /** Runs {@code body} in a new thread of the given kind and returns its result. */
    final <T> T runIn(ThreadKind kind, Body<T> body) throws InterruptedException {
        return join(fork(kind, body));
    }

    /**
     * Waits until each of the threads has announced it is entering await and is parked. Fails if one
     * finishes instead, or if the deadline passes. Polls the thread state; never sleeps.
     */
    final void awaitBlocked(Collection<? extends Forked<?>> forks) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (Forked<?> f : forks) {
            while (!(f.entered && isBlocked(f.thread))) {
                if (f.result.isDone()) fail("finished instead of blocking in await: " + f.describe());
                if (System.nanoTime() - deadline > 0) fail("did not block in await within " + PATIENCE + ": " + f.describe());
                Thread.onSpinWait();
                Thread.yield();
            }
        }
    }

    final void awaitBlocked(Forked<?> f) {
        awaitBlocked(List.of(f));
    }

    static void assertNoneFinished(Collection<? extends Forked<?>> forks) {
        for (Forked<?> f : forks) assertFalse(f.result.isDone(), () -> "released before the count reached zero: " + f.describe());
    }

    // ------------------------------------------------------------------------------------------------
    // Await outcomes
    // ------------------------------------------------------------------------------------------------

    enum Kind { RETURNED, TRUE, FALSE, INTERRUPTED }

    /** How a call to await ended, and the interrupt status of the thread right after. */
    record Outcome(Kind kind, boolean interruptStatus) {
        static Outcome of(Kind kind) {
            return new Outcome(kind, Thread.currentThread().isInterrupted());
        }
    }

    /** Calls {@code await()} or {@code await(LONG_TIMEOUT_HOURS, HOURS)} and reports how it ended. */
    static Outcome awaitOutcome(CountDownLatch latch, boolean timed) {
        try {
            if (!timed) {
                latch.await();
                return Outcome.of(Kind.RETURNED);
            }
            return Outcome.of(latch.await(LONG_TIMEOUT_HOURS, HOURS) ? Kind.TRUE : Kind.FALSE);
        } catch (InterruptedException e) {
            return Outcome.of(Kind.INTERRUPTED);
        }
    }

    /** Starts a thread that awaits on the latch (untimed, or timed with a timeout that never expires). */
    final Forked<Outcome> startWaiter(ThreadKind kind, CountDownLatch latch, boolean timed) {
        return fork(kind, self -> {
            self.entered = true;
            return awaitOutcome(latch, timed);
        });
    }

    static void assertReleased(Outcome o, boolean timed) {
        assertEquals(new Outcome(timed ? Kind.TRUE : Kind.RETURNED, false), o);
    }

    static void assertInterrupted(Outcome o) {
        assertEquals(Kind.INTERRUPTED, o.kind(), "await should throw InterruptedException");
        assertFalse(o.interruptStatus(), "InterruptedException must clear the interrupt status");
    }

    static Stream<Arguments> kindsAndModes() {
        return Stream.of(ThreadKind.values())
                .flatMap(k -> Stream.of(Arguments.of(k, false), Arguments.of(k, true)));
    }

    static Stream<Arguments> kindPairs() {
        return Stream.of(ThreadKind.values())
                .flatMap(w -> Stream.of(ThreadKind.values()).map(r -> Arguments.of(w, r)));
    }

    // ------------------------------------------------------------------------------------------------
    // Construction, getCount, countDown, toString
    // ------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @ValueSource(ints = {-1, -42, Integer.MIN_VALUE})
    @Timeout(10)
    void negativeCountIsRejected(int count) {
        assertThrows(IllegalArgumentException.class, () -> newLatch(count));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 42, Integer.MAX_VALUE})
    @Timeout(10)
    void getCountReturnsInitialCount(int count) {
        assertEquals(count, newLatch(count).getCount());
    }

    @Test
    @Timeout(10)
    void countDownDecrementsByOne() {
        CountDownLatch latch = newLatch(3);
        for (long expected = 2; expected >= 0; expected--) {
            latch.countDown();
            assertEquals(expected, latch.getCount());
        }
    }

    @Test
    @Timeout(10)
    void countDownAtZeroDoesNothing() throws InterruptedException {
        CountDownLatch latch = newLatch(1);
        latch.countDown();
        assertEquals(0, latch.getCount());
        for (int i = 0; i < 5; i++) {
            latch.countDown();
            assertEquals(0, latch.getCount());
        }
        assertTrue(latch.await(0, NANOSECONDS), "still open after extra countDowns");

        CountDownLatch zero = newLatch(0);
        zero.countDown();
        zero.countDown();
        assertEquals(0, zero.getCount());
        assertTrue(zero.await(0, NANOSECONDS));
    }

    @Test
    @Timeout(10)
    void toStringEndsWithCountAndFollowsCountDowns() {
        CountDownLatch latch = newLatch(3);
        assertTrue(latch.toString().endsWith("[Count = 3]"), latch::toString);
        latch.countDown();
        assertTrue(latch.toString().endsWith("[Count = 2]"), latch::toString);
        latch.countDown();
        assertTrue(latch.toString().endsWith("[Count = 1]"), latch::toString);
        latch.countDown();
        assertTrue(latch.toString().endsWith("[Count = 0]"), latch::toString);
        latch.countDown();
        assertTrue(latch.toString().endsWith("[Count = 0]"), latch::toString);

        assertTrue(newLatch(0).toString().endsWith("[Count = 0]"));
        assertTrue(newLatch(Integer.MAX_VALUE).toString().endsWith("[Count = " + Integer.MAX_VALUE + "]"));
    }

    // ------------------------------------------------------------------------------------------------
    // await
    // ------------------------------------------------------------------------------------------------

    @ParameterizedTest(name = "{0}, timed={1}")
    @MethodSource("kindsAndModes")
    @Timeout(30)
    void awaitBlocksUntilCountReachesZero(ThreadKind kind, boolean timed) throws Exception {
        CountDownLatch latch = newLatch(2);
        Forked<Outcome> waiter = startWaiter(kind, latch, timed);
        awaitBlocked(waiter);
        assertNoneFinished(List.of(waiter));

        latch.countDown();
        assertEquals(1, latch.getCount());
        awaitBlocked(waiter);  // still (or again) parked: count 1 must not release it
        assertNoneFinished(List.of(waiter));

        latch.countDown();
        assertReleased(join(waiter), timed);
        assertEquals(0, latch.getCount());
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void awaitReturnsAtOnceWhenCountIsAlreadyZero(ThreadKind kind) throws Exception {
        CountDownLatch zero = newLatch(0);
        CountDownLatch countedDown = newLatch(2);
        countedDown.countDown();
        countedDown.countDown();
        List<Outcome> outcomes = runIn(kind, self -> List.of(
                awaitOutcome(zero, false), awaitOutcome(zero, true),
                awaitOutcome(countedDown, false), awaitOutcome(countedDown, true),
                // and again: reaching zero is permanent
                awaitOutcome(zero, false), awaitOutcome(countedDown, true)));
        for (int i = 0; i < outcomes.size(); i++) assertReleased(outcomes.get(i), i % 2 == 1);
        assertEquals(0, zero.getCount());
        assertEquals(0, countedDown.getCount());
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void timedAwaitReturnsFalseAfterAtLeastTheTimeout(ThreadKind kind) throws Exception {
        CountDownLatch latch = newLatch(1);
        record Case(long timeout, TimeUnit unit) {}
        List<Case> cases = List.of(new Case(50, MILLISECONDS), new Case(50_000, MICROSECONDS), new Case(50_000_000, NANOSECONDS));
        for (Case c : cases) {
            long timeout = c.timeout();
            TimeUnit unit = c.unit();
            long[] result = runIn(kind, self -> {
                long start = System.nanoTime();
                boolean r = latch.await(timeout, unit);
                long elapsed = System.nanoTime() - start;
                return new long[] {r ? 1 : 0, elapsed, Thread.currentThread().isInterrupted() ? 1 : 0};
            });
            assertEquals(0, result[0], () -> "await(" + timeout + ", " + unit + ") returned true with count 1");
            assertTrue(result[1] >= unit.toNanos(timeout),
                    () -> "await(" + timeout + ", " + unit + ") returned false after only " + result[1] + " ns");
            assertEquals(0, result[2], "interrupt status set after a timeout");
            assertEquals(1, latch.getCount(), "a timeout must not change the count");
        }
    }

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void nonPositiveTimeoutDoesNotWait(ThreadKind kind) throws Exception {
        CountDownLatch closed = newLatch(1);
        CountDownLatch open = newLatch(0);
        long[] timeouts = {0, -1, Long.MIN_VALUE};
        TimeUnit[] units = {NANOSECONDS, MILLISECONDS, SECONDS, HOURS};
        List<String> wrong = runIn(kind, self -> {
            List<String> w = new ArrayList<>();
            for (long t : timeouts) {
                for (TimeUnit u : units) {
                    if (closed.await(t, u)) w.add("count 1: await(" + t + ", " + u + ") returned true");
                    if (!open.await(t, u)) w.add("count 0: await(" + t + ", " + u + ") returned false");
                }
            }
            if (Thread.currentThread().isInterrupted()) w.add("interrupt status set");
            return w;
        });
        assertEquals(List.of(), wrong);
        assertEquals(1, closed.getCount());
        assertEquals(0, open.getCount());
    }

    // ------------------------------------------------------------------------------------------------
    // Interruption
    // ------------------------------------------------------------------------------------------------

    @ParameterizedTest
    @EnumSource(ThreadKind.class)
    @Timeout(30)
    void interruptedBeforeAwaitThrowsAndClearsStatus(ThreadKind kind) throws Exception {
        CountDownLatch latch = newLatch(2);
        List<Outcome> outcomes = runIn(kind, self -> {
            List<Outcome> list = new ArrayList<>();
            Thread.currentThread().interrupt();
            list.add(awaitOutcome(latch, false));
            Thread.currentThread().interrupt();
            list.add(awaitOutcome(latch, true));
            Thread.currentThread().interrupt();
            try {
                list.add(Outcome.of(latch.await(50, MILLISECONDS) ? Kind.TRUE : Kind.FALSE));
            } catch (InterruptedException e) {
                list.add(Outcome.of(Kind.INTERRUPTED));
            }
            return list;
        });
        for (Outcome o : outcomes) assertInterrupted(o);
        assertEquals(2, latch.getCount(), "an interrupted await must not change the count");
    }

    @ParameterizedTest(name = "{0}, timed={1}")
    @MethodSource("kindsAndModes")
    @Timeout(30)
    void interruptedWhileBlockedThrowsAndClearsStatus(ThreadKind kind, boolean timed) throws Exception {
        CountDownLatch latch = newLatch(2);
        Forked<Outcome> waiter = startWaiter(kind, latch, timed);
        awaitBlocked(waiter);
        waiter.thread.interrupt();
        assertInterrupted(join(waiter));
        assertEquals(2, latch.getCount(), "an interrupted await must not change the count");

        // The latch is unaffected: another waiter is still released by the transition to zero.
        Forked<Outcome> next = startWaiter(kind, latch, timed);
        awaitBlocked(next);
        latch.countDown();
        latch.countDown();
        assertReleased(join(next), timed);
    }

    // ------------------------------------------------------------------------------------------------
    // Release of many waiters
    // ------------------------------------------------------------------------------------------------

    @Test
    @Timeout(60)
    void transitionToZeroReleasesEveryWaiter() throws Exception {
        CountDownLatch latch = newLatch(3);
        List<Forked<Outcome>> waiters = new ArrayList<>();
        List<Boolean> timed = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            ThreadKind kind = i % 2 == 0 ? ThreadKind.PLATFORM : ThreadKind.VIRTUAL;
            boolean t = (i / 2) % 2 == 0;
            timed.add(t);
            waiters.add(startWaiter(kind, latch, t));
        }
        awaitBlocked(waiters);
        latch.countDown();
        latch.countDown();
        assertEquals(1, latch.getCount());
        assertNoneFinished(waiters);

        latch.countDown();
        for (int i = 0; i < waiters.size(); i++) assertReleased(join(waiters.get(i)), timed.get(i));
        assertEquals(0, latch.getCount());
    }

    @Test
    @Timeout(60)
    void thousandVirtualWaitersReleasedByOneCountDownFromAPlatformThread() throws Exception {
        CountDownLatch latch = newLatch(1);
        List<Forked<Outcome>> waiters = new ArrayList<>();
        for (int i = 0; i < 1000; i++) waiters.add(startWaiter(ThreadKind.VIRTUAL, latch, false));
        awaitBlocked(waiters);
        assertNoneFinished(waiters);

        runIn(ThreadKind.PLATFORM, self -> {
            latch.countDown();
            return null;
        });
        for (Forked<Outcome> w : waiters) assertReleased(join(w), false);
        assertEquals(0, latch.getCount());
    }

    // ------------------------------------------------------------------------------------------------
    // Memory consistency
    // ------------------------------------------------------------------------------------------------

    /** Written with plain stores by the counting-down thread, read with plain loads by the awaiting one. */
    static final class Payload {
        int a;
        long b;
        String c;
        int[] d;
    }

    record Round(int n, CountDownLatch latch, Payload payload) {}

    @ParameterizedTest(name = "writer {0}, reader {1}")
    @MethodSource("kindPairs")
    @Timeout(60)
    void writesBeforeCountDownAreVisibleAfterAwait(ThreadKind writerKind, ThreadKind readerKind) throws Exception {
        int rounds = 2_000;
        int maxReported = 20;
        // Hand-offs go one way only (reader -> writer via toWriter, and "writer has left countDown" back
        // via done, which the reader takes only after it has read the payload), so the only edge from
        // the writer's stores to the reader's loads is countDown -> await.
        BlockingQueue<Round> toWriter = new LinkedBlockingQueue<>();
        BlockingQueue<Round> done = new LinkedBlockingQueue<>();
        Round poison = new Round(-1, null, null);

        Forked<Void> writer = fork(writerKind, self -> {
            for (;;) {
                Round r = toWriter.take();
                if (r == poison) return null;
                Payload p = r.payload();
                p.a = r.n();
                p.b = r.n() * 31L + 7;
                p.c = "round-" + r.n();
                p.d = new int[] {r.n(), -r.n()};
                r.latch().countDown();
                done.put(r);
            }
        });
        Forked<List<String>> reader = fork(readerKind, self -> {
            List<String> bad = new ArrayList<>();
            for (int n = 1; n <= rounds; n++) {
                CountDownLatch latch = newLatch(1);
                Payload p = new Payload();
                toWriter.put(new Round(n, latch, p));
                if (n % 2 == 0) {
                    latch.await();
                } else if (!latch.await(LONG_TIMEOUT_HOURS, HOURS) && bad.size() < maxReported) {
                    bad.add("round " + n + ": timed await returned false");
                }
                int a = p.a;
                long b = p.b;
                String c = p.c;
                int[] d = p.d;
                boolean ok = a == n && b == n * 31L + 7 && ("round-" + n).equals(c) && d != null && d[0] == n && d[1] == -n;
                if (!ok && bad.size() < maxReported) {
                    bad.add("round " + n + ": saw a=" + a + " b=" + b + " c=" + c + " d=" + Arrays.toString(d));
                }
                if (done.take().latch() != latch && bad.size() < maxReported) bad.add("round " + n + ": rounds out of order");
                dispose(latch);  // the writer has left countDown
            }
            return bad;
        });
        List<String> bad = join(reader);
        toWriter.put(poison);
        join(writer);
        assertEquals(List.of(), bad);
    }

    // ------------------------------------------------------------------------------------------------
    // countDown storm
    // ------------------------------------------------------------------------------------------------

    @Test
    @Timeout(60)
    void countDownStormReachesExactlyZeroAndStaysThere() throws Exception {
        int counters = 8;
        int perCounter = 500;
        int extraPerCounter = 50;  // countDowns past zero, racing with the last real ones
        int count = counters * perCounter;
        CountDownLatch latch = newLatch(count);
        CountDownLatch start = new CountDownLatch(1);  // test harness, not under test
        AtomicBoolean stop = new AtomicBoolean();

        // Samples getCount() throughout: never negative, never increasing.
        Forked<String> monitor = fork(ThreadKind.PLATFORM, self -> {
            long prev = Long.MAX_VALUE;
            long samples = 0;
            long zeros = 0;
            boolean last = false;
            while (true) {
                if (stop.get() || Thread.currentThread().isInterrupted()) last = true;
                long c = latch.getCount();
                samples++;
                if (c < 0) return "observed negative count " + c + " after " + samples + " samples";
                if (c > prev) return "count went up from " + prev + " to " + c;
                if (c > count) return "count " + c + " above the initial " + count;
                if (c == 0) zeros++;
                prev = c;
                if (last) break;
            }
            return samples > 0 && zeros > 0 ? null : "too few samples: " + samples + ", zeros " + zeros;
        });
        List<Forked<Outcome>> waiters = new ArrayList<>();
        List<Boolean> timed = List.of(false, false, true, true);
        for (int i = 0; i < timed.size(); i++) {
            waiters.add(startWaiter(i % 2 == 0 ? ThreadKind.PLATFORM : ThreadKind.VIRTUAL, latch, timed.get(i)));
        }
        List<Forked<Void>> workers = new ArrayList<>();
        for (int i = 0; i < counters; i++) {
            workers.add(fork(i % 2 == 0 ? ThreadKind.PLATFORM : ThreadKind.VIRTUAL, self -> {
                start.await();
                for (int j = 0; j < perCounter + extraPerCounter; j++) latch.countDown();
                return null;
            }));
        }
        try {
            awaitBlocked(waiters);
            start.countDown();
            for (Forked<Void> w : workers) join(w);
            assertEquals(0, latch.getCount());
            for (int i = 0; i < waiters.size(); i++) assertReleased(join(waiters.get(i)), timed.get(i));
        } finally {
            stop.set(true);
            start.countDown();  // so that workers never stay parked on it if something above failed
        }
        assertEquals(null, join(monitor));

        // Not re-armed: more countDowns leave it at zero, and await keeps returning at once.
        runIn(ThreadKind.VIRTUAL, self -> {
            for (int i = 0; i < 100; i++) latch.countDown();
            return null;
        });
        assertEquals(0, latch.getCount());
        latch.await();
        assertTrue(latch.await(0, NANOSECONDS));
        assertTrue(latch.await(LONG_TIMEOUT_HOURS, HOURS));
        assertTrue(latch.toString().endsWith("[Count = 0]"), latch::toString);
        assertReleased(runIn(ThreadKind.VIRTUAL, self -> awaitOutcome(latch, false)), false);
    }

    // ------------------------------------------------------------------------------------------------
    // Rounds of awaiters racing the countDowns (after the JDK's CountDownLatch/Basic)
    // ------------------------------------------------------------------------------------------------

    static final int ROUNDS = 3;
    static final int AWAITERS_PER_ROUND = 4;

    /** How one awaiter of a round ended: the outcome, and when the await call began and ended (nanoTime). */
    record Timed(Outcome outcome, long startNanos, long endNanos) {
        long elapsedNanos() {
            return endNanos - startNanos;
        }
    }

    /**
     * Starts an awaiter that counts the harness gate down and only then awaits, so that it may be anywhere
     * between starting and blocking when the round's countDown comes. {@code timeoutMs < 0} means untimed.
     */
    final Forked<Timed> roundAwaiter(ThreadKind kind, CountDownLatch latch, CountDownLatch gate, long timeoutMs) {
        return fork(kind, self -> {
            gate.countDown();
            self.entered = true;
            long t0 = System.nanoTime();
            Outcome o;
            try {
                if (timeoutMs < 0) {
                    latch.await();
                    o = Outcome.of(Kind.RETURNED);
                } else {
                    o = Outcome.of(latch.await(timeoutMs, MILLISECONDS) ? Kind.TRUE : Kind.FALSE);
                }
            } catch (InterruptedException e) {
                o = Outcome.of(Kind.INTERRUPTED);
            }
            return new Timed(o, t0, System.nanoTime());
        });
    }

    /** Counts the latch down once from a new thread: the rounds' countDowns come from several threads. */
    final void countDownFrom(ThreadKind kind, CountDownLatch latch) throws InterruptedException {
        runIn(kind, self -> {
            latch.countDown();
            return null;
        });
    }

    static void awaitGate(CountDownLatch gate) throws InterruptedException {
        assertTrue(gate.await(PATIENCE.toNanos(), NANOSECONDS), "awaiters of the round did not start");
    }

    /**
     * Three rounds on a latch of 3: each round starts four awaiters (timed or untimed, platform or virtual, at
     * random), waits until they are about to await, and counts down once from another thread. The count is
     * exactly 2, 1, 0 after the rounds; nothing is released before the last; then every awaiter returns normally.
     */
    @Test
    @Timeout(60)
    void roundsOfAwaitersRacingCountDownsAreAllReleasedAtZero() throws Exception {
        long seed = ThreadLocalRandom.current().nextLong();
        Random random = new Random(seed);
        CountDownLatch latch = newLatch(ROUNDS);
        List<Forked<Timed>> awaiters = new ArrayList<>();
        List<Boolean> timed = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            CountDownLatch gate = new CountDownLatch(AWAITERS_PER_ROUND); // harness, not under test
            for (int i = 0; i < AWAITERS_PER_ROUND; i++) {
                boolean t = random.nextBoolean();
                timed.add(t);
                awaiters.add(roundAwaiter(randomKind(random), latch, gate, t ? HOURS.toMillis(LONG_TIMEOUT_HOURS) : -1));
            }
            awaitGate(gate);
            if (round < ROUNDS - 1) assertNoneFinished(awaiters);
            countDownFrom(randomKind(random), latch);
            assertEquals(ROUNDS - 1 - round, latch.getCount(), "seed " + seed);
            if (round < ROUNDS - 1) assertNoneFinished(awaiters);
        }
        for (int i = 0; i < awaiters.size(); i++) {
            Timed r = join(awaiters.get(i));
            int index = i;
            assertEquals(new Outcome(timed.get(i) ? Kind.TRUE : Kind.RETURNED, false), r.outcome(),
                    () -> "awaiter " + index + " (seed " + seed + ")");
        }
        assertEquals(0, latch.getCount());
    }

    /**
     * The same rounds with the last awaiter of each round interrupted just before the round's countDown. In the
     * first rounds the count stays above zero, so it must end with {@code InterruptedException} (status cleared)
     * and is awaited before the round's countDown; in the last round the interrupt races the final countDown: it
     * either throws (status cleared) or returns normally with its status still set. The count is never changed by
     * an interrupt, and every other awaiter returns normally.
     */
    @Test
    @Timeout(60)
    void roundsOfAwaitersWithOneInterruptedPerRound() throws Exception {
        long seed = ThreadLocalRandom.current().nextLong();
        Random random = new Random(seed);
        CountDownLatch latch = newLatch(ROUNDS);
        List<Forked<Timed>> awaiters = new ArrayList<>();
        List<Forked<Timed>> others = new ArrayList<>(); // all but the interrupted ones
        List<Boolean> timed = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            CountDownLatch gate = new CountDownLatch(AWAITERS_PER_ROUND);
            for (int i = 0; i < AWAITERS_PER_ROUND; i++) {
                boolean t = random.nextBoolean();
                timed.add(t);
                Forked<Timed> a = roundAwaiter(randomKind(random), latch, gate, t ? HOURS.toMillis(LONG_TIMEOUT_HOURS) : -1);
                awaiters.add(a);
                if (i < AWAITERS_PER_ROUND - 1) others.add(a);
            }
            awaitGate(gate);
            Forked<Timed> victim = awaiters.get(awaiters.size() - 1);
            victim.thread.interrupt();
            if (round < ROUNDS - 1) {
                Timed r = join(victim);
                assertEquals(new Outcome(Kind.INTERRUPTED, false), r.outcome(),
                        "interrupted while the count was " + latch.getCount() + " (seed " + seed + ")");
                assertEquals(ROUNDS - round, latch.getCount(), "an interrupted await must not change the count");
                assertNoneFinished(others);
            }
            countDownFrom(randomKind(random), latch);
            assertEquals(ROUNDS - 1 - round, latch.getCount(), "seed " + seed);
        }
        for (int i = 0; i < awaiters.size(); i++) {
            Outcome o = join(awaiters.get(i)).outcome();
            int index = i;
            Supplier<String> where = () -> "awaiter " + index + " (seed " + seed + ")";
            boolean victim = i % AWAITERS_PER_ROUND == AWAITERS_PER_ROUND - 1;
            boolean releasedOutcome = o.kind() == (timed.get(i) ? Kind.TRUE : Kind.RETURNED);
            if (!victim) {
                assertEquals(new Outcome(timed.get(i) ? Kind.TRUE : Kind.RETURNED, false), o, where);
            } else if (o.kind() == Kind.INTERRUPTED) {
                assertFalse(o.interruptStatus(), () -> where.get() + ": InterruptedException must clear the status");
            } else {
                assertTrue(releasedOutcome, () -> where.get() + ": " + o);
                assertTrue(o.interruptStatus(), () -> where.get() + ": returned normally but lost the interrupt");
            }
        }
        assertEquals(0, latch.getCount());
    }

    /**
     * The same rounds with short timeouts (0, 5 and 10 ms, one per round): no awaiter throws or keeps the
     * interrupt status; one that returns false has waited at least its timeout, and one that returns true
     * returned after the last countDown began.
     */
    @Test
    @Timeout(60)
    void roundsOfAwaitersWithShortTimeouts() throws Exception {
        long seed = ThreadLocalRandom.current().nextLong();
        Random random = new Random(seed);
        long[] timeouts = {0, 5, 10};
        CountDownLatch latch = newLatch(ROUNDS);
        List<Forked<Timed>> awaiters = new ArrayList<>();
        long zeroAt = Long.MAX_VALUE;
        for (int round = 0; round < ROUNDS; round++) {
            CountDownLatch gate = new CountDownLatch(AWAITERS_PER_ROUND);
            for (int i = 0; i < AWAITERS_PER_ROUND; i++) {
                awaiters.add(roundAwaiter(randomKind(random), latch, gate, timeouts[round]));
            }
            awaitGate(gate);
            if (round == ROUNDS - 1) zeroAt = System.nanoTime();
            countDownFrom(randomKind(random), latch);
            assertEquals(ROUNDS - 1 - round, latch.getCount(), "seed " + seed);
        }
        long zeroNanos = zeroAt;
        for (int i = 0; i < awaiters.size(); i++) {
            Timed r = join(awaiters.get(i));
            long timeout = timeouts[i / AWAITERS_PER_ROUND];
            int index = i;
            Supplier<String> where = () -> "awaiter " + index + ", timeout " + timeout + " ms (seed " + seed + "): " + r;
            assertFalse(r.outcome().interruptStatus(), where);
            switch (r.outcome().kind()) {
                case FALSE -> assertTrue(r.elapsedNanos() >= MILLISECONDS.toNanos(timeout), where);
                case TRUE -> assertTrue(r.endNanos() - zeroNanos >= 0, where); // not before the last countDown
                default -> fail(where.get());
            }
        }
        assertEquals(0, latch.getCount());
    }

    private static ThreadKind randomKind(Random random) {
        return random.nextBoolean() ? ThreadKind.PLATFORM : ThreadKind.VIRTUAL;
    }
}
