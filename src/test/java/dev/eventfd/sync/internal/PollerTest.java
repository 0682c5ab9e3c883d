package dev.eventfd.sync.internal;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.internal.Poller.Outcome;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PollerTest {

    /** Never used to decide an outcome: only to fail instead of hanging when something is broken. */
    private static final long GENEROUS_SECONDS = 30;

    enum Kind {
        PLATFORM, VIRTUAL;

        Thread.Builder builder() {
            return this == PLATFORM ? Thread.ofPlatform().daemon() : Thread.ofVirtual();
        }
    }

    /** A thread running one call, and the result of that call. */
    record Forked<T>(Thread thread, CompletableFuture<T> result) {
        T get() throws Exception {
            return result.get(GENEROUS_SECONDS, TimeUnit.SECONDS);
        }
    }

    /** An await's outcome and whether the thread's interrupt status was set when it returned. */
    record Returned(Outcome outcome, boolean interrupted) {}

    private Poller poller;
    private boolean shutDown;
    private final List<EventFd> opened = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    @BeforeEach
    void startPoller() {
        poller = Poller.start("test-poller");
    }

    @AfterEach
    void checkNothingLeftAndShutDown() throws InterruptedException {
        try {
            assertEquals(0, poller.registeredDescriptors(), "descriptors left registered");
            assertEquals(0, poller.queuedWaiters(), "waiters left queued");
        } finally {
            threads.forEach(Thread::interrupt);
            opened.forEach(EventFd::close);
            if (!shutDown) poller.shutdown();
            assertFalse(poller.thread().isAlive());
        }
    }

    // ------------------------------------------------------------------ helpers

    private EventFd eventFd() {
        EventFd fd = EventFd.create(0, false, "test-eventfd");
        opened.add(fd);
        return fd;
    }

    private <T> Forked<T> fork(Kind kind, Callable<T> call) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = kind.builder().unstarted(() -> {
            try {
                result.complete(call.call());
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        threads.add(t);
        t.start();
        return new Forked<>(t, result);
    }

    private Forked<Returned> forkAwait(Kind kind, EventFd fd, boolean interruptible) {
        return fork(kind, () -> new Returned(poller.await(fd, false, 0, interruptible),
                Thread.currentThread().isInterrupted()));
    }

    private Forked<Returned> forkTimedAwait(Kind kind, EventFd fd, long nanos, boolean interruptible) {
        return fork(kind, () -> new Returned(poller.await(fd, true, System.nanoTime() + nanos, interruptible),
                Thread.currentThread().isInterrupted()));
    }

    private static void waitUntil(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            LockSupport.parkNanos(50_000);  // a polling pause, not a synchronization
        }
    }

    private void waitUntilQueued(int waiters) {
        waitUntil(waiters + " waiters are queued (now " + poller.queuedWaiters() + ")",
                () -> poller.queuedWaiters() == waiters);
    }

    private static boolean parked(Thread t) {
        Thread.State s = t.getState();
        return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
    }

    /** Waits until the poller has queued {@code waiters} and each of {@code forked} is parked. */
    private void waitUntilParked(int waiters, List<? extends Forked<?>> forked) {
        waitUntilQueued(waiters);
        for (Forked<?> f : forked) waitUntil(f.thread() + " is parked", () -> parked(f.thread()));
    }

    private void waitUntilParked(int waiters, Forked<?> forked) {
        waitUntilParked(waiters, List.of(forked));
    }

    /**
     * Makes the poller go round its loop at least once more: a callback on a fresh descriptor that is
     * made readable runs only after every event returned with or before it has been handled.
     */
    private void pollerRoundTrip() throws Exception {
        EventFd probe = eventFd();
        CompletableFuture<Outcome> ran = new CompletableFuture<>();
        poller.register(probe, ran::complete);
        assertTrue(probe.tryWrite(1));
        assertEquals(Outcome.READY, ran.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        probe.close();
    }

    private static void assertStillWaiting(Forked<?> f) {
        assertFalse(f.result().isDone(), () -> "returned early: " + f.result());
    }

    // ------------------------------------------------------------------ READY

    @ParameterizedTest
    @EnumSource(Kind.class)
    void awaitReturnsReadyWhenAnotherThreadWrites(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Forked<Returned> waiter = forkAwait(kind, fd, true);
        waitUntilParked(1, waiter);
        assertEquals(1, poller.registeredDescriptors());
        assertStillWaiting(waiter);
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, false), waiter.get());
        assertEquals(1, fd.tryRead(), "the poller does not consume the counter");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void timedAwaitReturnsReadyWhenAnotherThreadWrites(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Forked<Returned> waiter = forkTimedAwait(kind, fd, TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS), true);
        waitUntilParked(1, waiter);
        assertTrue(fd.tryWrite(3));
        assertEquals(new Returned(Outcome.READY, false), waiter.get());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void readinessBeforeAwaitIsReportedAtOnce(Kind kind) throws Exception {
        EventFd fd = eventFd();
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, false), forkAwait(kind, fd, true).get());
        assertEquals(new Returned(Outcome.READY, false),
                forkTimedAwait(kind, fd, TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS), false).get());
        assertEquals(1, fd.tryRead());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void readinessRacingRegistrationIsNeverLost(Kind kind) throws Exception {
        EventFd fd = eventFd();
        int rounds = kind == Kind.VIRTUAL ? 2000 : 500;
        for (int round = 0; round < rounds; round++) {
            CountDownLatch go = new CountDownLatch(1);
            Forked<Outcome> waiter = fork(kind, () -> {
                go.await();
                return poller.await(fd, false, 0, true);
            });
            Forked<Boolean> writer = fork(kind, () -> {
                go.await();
                return fd.tryWrite(1);
            });
            go.countDown();
            assertTrue(writer.get());
            int r = round;
            assertEquals(Outcome.READY, waiter.get(), () -> "round " + r);
            assertEquals(1, fd.tryRead(), () -> "round " + r);
            assertEquals(0, poller.registeredDescriptors(), () -> "round " + r);
            threads.clear();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void oneWriteWakesEveryWaiterOfTheDescriptor(Kind kind) throws Exception {
        EventFd fd = eventFd();
        EventFd other = eventFd();
        int n = 50;
        List<Forked<Returned>> waiters = new ArrayList<>();
        for (int i = 0; i < n; i++) waiters.add(forkAwait(kind, fd, true));
        Forked<Returned> bystander = forkAwait(kind, other, true);
        List<Forked<?>> all = new ArrayList<>(waiters);
        all.add(bystander);
        waitUntilParked(n + 1, all);
        assertEquals(2, poller.registeredDescriptors());
        assertTrue(fd.tryWrite(1));
        for (Forked<Returned> w : waiters) assertEquals(new Returned(Outcome.READY, false), w.get());
        assertEquals(1, poller.queuedWaiters(), "the waiter on the other descriptor stays");
        assertStillWaiting(bystander);
        assertTrue(other.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, false), bystander.get());
    }

    // ------------------------------------------------------------------ TIMED_OUT

    @ParameterizedTest
    @EnumSource(Kind.class)
    void timeoutIsReportedAndNeverEarly(Kind kind) throws Exception {
        EventFd fd = eventFd();
        for (long millis : new long[] {1, 10, 50, 200}) {
            long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
            Forked<long[]> waiter = fork(kind, () -> {
                long start = System.nanoTime();
                Outcome o = poller.await(fd, true, start + nanos, true);
                return new long[] {o.ordinal(), System.nanoTime() - start};
            });
            long[] r = waiter.get();
            assertEquals(Outcome.TIMED_OUT, Outcome.values()[(int) r[0]], () -> millis + " ms");
            assertTrue(r[1] >= nanos, () -> "returned after " + r[1] + " ns, before the " + millis + " ms timeout");
            assertEquals(0, poller.registeredDescriptors());
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void manyTimedWaitersOnOneDescriptorAllTimeOut(Kind kind) throws Exception {
        EventFd fd = eventFd();
        long nanos = TimeUnit.MILLISECONDS.toNanos(100);
        List<Forked<long[]>> waiters = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            long delay = nanos + i * TimeUnit.MILLISECONDS.toNanos(5);
            waiters.add(fork(kind, () -> {
                long start = System.nanoTime();
                Outcome o = poller.await(fd, true, start + delay, true);
                return new long[] {o.ordinal(), System.nanoTime() - start, delay};
            }));
        }
        for (Forked<long[]> w : waiters) {
            long[] r = w.get();
            assertEquals(Outcome.TIMED_OUT, Outcome.values()[(int) r[0]]);
            assertTrue(r[1] >= r[2], () -> "early by " + (r[2] - r[1]) + " ns");
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void nonPositiveTimeoutReturnsAtOnce(Kind kind) throws Exception {
        EventFd fd = eventFd();
        assertEquals(Outcome.TIMED_OUT, fork(kind, () -> poller.await(fd, true, System.nanoTime(), true)).get());
        assertEquals(Outcome.TIMED_OUT, fork(kind, () -> poller.await(fd, true, System.nanoTime() - 1, true)).get());
        assertEquals(Outcome.TIMED_OUT,
                fork(kind, () -> poller.await(fd, true, System.nanoTime() - TimeUnit.DAYS.toNanos(1), false)).get());
    }

    // ------------------------------------------------------------------ INTERRUPTED

    @ParameterizedTest
    @EnumSource(Kind.class)
    void interruptBeforeTheWaitReturnsInterruptedAndKeepsTheStatus(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Callable<Returned> untimed = () -> {
            Thread.currentThread().interrupt();
            return new Returned(poller.await(fd, false, 0, true), Thread.currentThread().isInterrupted());
        };
        Callable<Returned> timed = () -> {
            Thread.currentThread().interrupt();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS);
            return new Returned(poller.await(fd, true, deadline, true), Thread.currentThread().isInterrupted());
        };
        assertEquals(new Returned(Outcome.INTERRUPTED, true), fork(kind, untimed).get());
        assertEquals(new Returned(Outcome.INTERRUPTED, true), fork(kind, timed).get());
        assertEquals(0, poller.registeredDescriptors(), "returned before registering");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void interruptDuringTheWaitReturnsInterrupted(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Forked<Returned> untimed = forkAwait(kind, fd, true);
        Forked<Returned> timed = forkTimedAwait(kind, fd, TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS), true);
        Forked<Returned> bystander = forkAwait(kind, fd, true);
        waitUntilParked(3, List.of(untimed, timed, bystander));
        untimed.thread().interrupt();
        assertEquals(new Returned(Outcome.INTERRUPTED, true), untimed.get());
        timed.thread().interrupt();
        assertEquals(new Returned(Outcome.INTERRUPTED, true), timed.get());
        assertEquals(1, poller.queuedWaiters(), "only the interrupted waiters left");
        assertEquals(1, poller.registeredDescriptors());
        assertStillWaiting(bystander);
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, false), bystander.get());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void uninterruptibleAwaitWaitsThroughAnInterrupt(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Forked<Returned> waiter = forkAwait(kind, fd, false);
        waitUntilParked(1, waiter);
        waiter.thread().interrupt();
        // it must go on waiting: give it a chance to return wrongly, then check it is parked again
        assertThrows(TimeoutException.class, () -> waiter.result().get(200, TimeUnit.MILLISECONDS));
        waitUntilParked(1, waiter);
        assertStillWaiting(waiter);
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, true), waiter.get(), "READY, with the interrupt re-asserted");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void uninterruptibleAwaitIgnoresAnEarlierInterrupt(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Forked<Returned> waiter = fork(kind, () -> {
            Thread.currentThread().interrupt();
            return new Returned(poller.await(fd, false, 0, false), Thread.currentThread().isInterrupted());
        });
        waitUntilParked(1, waiter);
        assertStillWaiting(waiter);
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, true), waiter.get());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void uninterruptibleTimedAwaitTimesOutThroughAnInterrupt(Kind kind) throws Exception {
        EventFd fd = eventFd();
        long nanos = TimeUnit.MILLISECONDS.toNanos(300);
        Forked<long[]> waiter = fork(kind, () -> {
            long start = System.nanoTime();
            Outcome o = poller.await(fd, true, start + nanos, false);
            return new long[] {o.ordinal(), System.nanoTime() - start, Thread.currentThread().isInterrupted() ? 1 : 0};
        });
        waitUntilParked(1, waiter);
        waiter.thread().interrupt();
        long[] r = waiter.get();
        assertEquals(Outcome.TIMED_OUT, Outcome.values()[(int) r[0]]);
        assertTrue(r[1] >= nanos, "not early");
        assertEquals(1, r[2], "interrupt status re-asserted");
    }

    // ------------------------------------------------------------------ CLOSED

    @ParameterizedTest
    @EnumSource(Kind.class)
    void closeWakesEveryWaiterWithClosed(Kind kind) throws Exception {
        EventFd fd = eventFd();
        EventFd other = eventFd();
        List<Forked<Returned>> waiters = new ArrayList<>();
        for (int i = 0; i < 10; i++) waiters.add(forkAwait(kind, fd, true));
        for (int i = 0; i < 10; i++) {
            waiters.add(forkTimedAwait(kind, fd, TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS), i % 2 == 0));
        }
        waiters.add(forkAwait(kind, fd, false));
        CompletableFuture<Thread> callbackThread = new CompletableFuture<>();
        CompletableFuture<Outcome> callbackOutcome = new CompletableFuture<>();
        poller.register(fd, o -> {
            callbackThread.complete(Thread.currentThread());
            callbackOutcome.complete(o);
        });
        Forked<Returned> bystander = forkAwait(kind, other, true);
        List<Forked<?>> all = new ArrayList<>(waiters);
        all.add(bystander);
        waitUntilParked(waiters.size() + 2, all);

        fd.close();
        for (Forked<Returned> w : waiters) assertEquals(new Returned(Outcome.CLOSED, false), w.get());
        assertEquals(Outcome.CLOSED, callbackOutcome.getNow(null), "told CLOSED before close() returned");
        assertSame(Thread.currentThread(), callbackThread.getNow(null), "on the closing thread");
        assertEquals(1, poller.registeredDescriptors(), "only the other descriptor");
        assertEquals(1, poller.queuedWaiters());
        assertStillWaiting(bystander);
        other.close();
        assertEquals(new Returned(Outcome.CLOSED, false), bystander.get());
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void awaitOrRegisterOnAClosedDescriptorThrows(Kind kind) throws Exception {
        EventFd fd = eventFd();
        fd.close();
        Forked<Outcome> waiter = fork(kind, () -> poller.await(fd, false, 0, true));
        Exception e = assertThrows(Exception.class, waiter::get);
        assertTrue(e.getCause() instanceof ClosedException, () -> "not a ClosedException: " + e.getCause());
        assertThrows(ClosedException.class, () -> poller.register(fd, o -> {}));
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void reusedDescriptorNumberIsNotWokenByTheClosedDescriptor(Kind kind) throws Exception {
        // try a few times, in case a concurrent open takes the number between close and create
        for (int attempt = 0; attempt < 20; attempt++) {
            EventFd a = eventFd();
            Forked<Returned> onA = forkAwait(kind, a, true);
            waitUntilParked(1, onA);
            int n = a.fd();
            // make A ready as it is closed, so that an event for A may be in flight on the poller
            assertTrue(a.tryWrite(1));
            a.close();
            Outcome first = onA.get().outcome();
            assertTrue(first == Outcome.CLOSED || first == Outcome.READY, first::toString);
            EventFd b = eventFd();
            if (b.fd() != n) continue;

            Forked<Returned> onB = forkAwait(kind, b, true);
            waitUntilParked(1, onB);
            pollerRoundTrip();
            pollerRoundTrip();
            assertStillWaiting(onB);
            assertEquals(1, poller.queuedWaiters());
            assertEquals(0, b.count());
            assertTrue(b.tryWrite(1));
            assertEquals(new Returned(Outcome.READY, false), onB.get());
            return;
        }
        throw new AssertionError("no new eventfd got the closed one's number in 20 attempts");
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void closeThenReuseOfTheNumberWithAWaiterOnEach(Kind kind) throws Exception {
        for (int attempt = 0; attempt < 20; attempt++) {
            EventFd a = eventFd();
            Forked<Returned> onA = forkAwait(kind, a, true);
            waitUntilParked(1, onA);
            int n = a.fd();
            a.close();
            assertEquals(new Returned(Outcome.CLOSED, false), onA.get());
            assertEquals(0, poller.registeredDescriptors());
            EventFd b = eventFd();
            if (b.fd() != n) continue;
            Forked<Returned> onB = forkAwait(kind, b, true);
            waitUntilParked(1, onB);
            pollerRoundTrip();
            assertStillWaiting(onB);
            assertThrows(ClosedException.class, () -> a.tryWrite(1), "A stays closed though its number lives on");
            assertTrue(b.tryWrite(1));
            assertEquals(new Returned(Outcome.READY, false), onB.get());
            return;
        }
        throw new AssertionError("no new eventfd got the closed one's number in 20 attempts");
    }

    /**
     * close() racing the first await of a handle: the await must either be refused (ClosedException) or
     * be woken with CLOSED, and leave nothing registered. Rounds are aligned with a spin hand-off so
     * the close lands inside the await's registration; the loop stops at the first wrong outcome.
     */
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void closeRacingTheFirstAwaitEndsInClosedNeverAnErrorOrAHang() throws Exception {
        int maxRounds = 100_000;
        long budget = TimeUnit.SECONDS.toNanos(5);
        AtomicInteger phase = new AtomicInteger();
        AtomicReference<EventFd> current = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread closer = Thread.ofPlatform().daemon().name("closer").start(() -> {
            for (int r = 1; ; r++) {
                while (phase.get() != 2 * r - 1) {
                    if (stop.get()) return;
                    Thread.onSpinWait();
                }
                EventFd fd = current.get();
                phase.incrementAndGet();
                fd.close();
            }
        });
        threads.add(closer);
        Map<String, Integer> seen = new TreeMap<>();
        long start = System.nanoTime();
        try {
            for (int r = 1; r <= maxRounds && System.nanoTime() - start < budget; r++) {
                EventFd fd = EventFd.create(0, false, "raced");
                current.set(fd);
                phase.incrementAndGet();               // 2r - 1: the closer may go
                while (phase.get() != 2 * r) Thread.onSpinWait();
                String outcome;
                try {
                    outcome = poller.await(fd, true, System.nanoTime() + TimeUnit.SECONDS.toNanos(2), true).name();
                } catch (ClosedException e) {
                    outcome = "ClosedException";
                } catch (RuntimeException e) {
                    outcome = e.toString();
                }
                int left = poller.registeredDescriptors();
                seen.merge(outcome, 1, Integer::sum);
                if (!(outcome.equals("ClosedException") || outcome.equals("CLOSED")) || left != 0) {
                    // TIMED_OUT here means an untimed await would never have returned
                    throw new AssertionError("round " + r + ": await racing close() gave " + outcome
                            + " with " + left + " descriptor(s) left registered; outcomes so far " + seen);
                }
                fd.close();
            }
        } finally {
            stop.set(true);
            closer.join();
        }
    }

    // ------------------------------------------------------------------ the epoll set

    /** One registration in the poller's epoll set, as the kernel lists it in {@code /proc/self/fdinfo}. */
    record Registration(int fd, int events, long data) {
        boolean armed() {
            return (events & Native.EPOLLIN) != 0;   // EPOLLONESHOT clears the event bits when it fires
        }
    }

    /** The poller's epoll set, from the kernel (lines "tfd: N events: HEX data: HEX pos: ..."). */
    private List<Registration> epollSet() throws IOException {
        List<Registration> set = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + poller.epollFd()))) {
            if (!line.startsWith("tfd:")) continue;
            String[] f = line.trim().split("\\s+");
            set.add(new Registration(Integer.parseInt(f[1]), (int) Long.parseLong(f[3], 16),
                    Long.parseUnsignedLong(f[5], 16)));
        }
        return set;
    }

    /** The registration of {@code fd}, found by its token; null if it is not in the set. */
    private Registration registration(NativeFd fd) throws IOException {
        Registration found = null;
        for (Registration r : epollSet()) {
            if (r.data() == fd.token()) {
                assertEquals(null, found, "two registrations carry the token of " + fd);
                found = r;
            }
        }
        return found;
    }

    /**
     * A second descriptor for the same open file, as another process would hold it, received over a
     * UNIX socket with SCM_RIGHTS: it keeps the file open after {@code fd} is closed.
     */
    private EventFd sameFile(EventFd fd, Path path) {
        try (UnixSocket listener = UnixSocket.listen(path, 1);
             UnixSocket client = UnixSocket.connect(path);
             UnixSocket server = listener.accept()) {
            assertNotNull(server, "the connection is queued when connect() returns");
            assertEquals(1, client.send(new byte[] {1}, fd.fd()));
            Native.Received got = server.receive(1, 1);
            assertNotNull(got, "the message is queued when send() returns");
            assertEquals(1, got.fds().length);
            EventFd copy = EventFd.adopt(got.fds()[0], false, "same-file");
            opened.add(copy);
            assertTrue(copy.fd() != fd.fd());
            return copy;
        }
    }

    @Test
    void repeatedWaitsReArmWithModAndOnlyCloseDeletes() throws Exception {
        EventFd fd = eventFd();
        Poller.CtlCalls before = poller.ctlCalls();
        int fired = 10, timedOut = 5;
        for (int i = 0; i < fired; i++) {
            Forked<Returned> waiter = forkAwait(Kind.VIRTUAL, fd, true);
            waitUntilParked(1, waiter);
            assertTrue(registration(fd).armed(), "armed while waited on");
            assertTrue(fd.tryWrite(1));
            assertEquals(new Returned(Outcome.READY, false), waiter.get());
            assertEquals(1, fd.tryRead());
            Registration r = registration(fd);
            assertNotNull(r, "still in the epoll set after it fired");
            assertFalse(r.armed(), "disarmed by EPOLLONESHOT");
        }
        for (int i = 0; i < timedOut; i++) {
            assertEquals(Outcome.TIMED_OUT, poller.await(fd, true, System.nanoTime() + 1_000_000, true));
            assertTrue(registration(fd).armed(), "left armed by a waiter that timed out");
        }
        Poller.CtlCalls after = poller.ctlCalls();
        assertEquals(1, after.add() - before.add(), "added once, on the first wait (its MOD said ENOENT)");
        assertEquals(fired + timedOut, after.mod() - before.mod(), "one MOD per wait");
        assertEquals(0, after.del() - before.del(), "neither a firing nor a leaving waiter deletes");

        fd.close();
        assertEquals(1, poller.ctlCalls().del() - before.del(), "close deletes");
        assertEquals(null, registration(fd));
    }

    /** After every way a wait can end, the descriptor (left in the set) serves the next wait. */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void everyWayOfLeavingKeepsTheDescriptorUsable(Kind kind) throws Exception {
        EventFd fd = eventFd();
        Runnable nextWaitIsWokenByAWrite = () -> {
            try {
                Forked<Returned> waiter = forkAwait(kind, fd, true);
                waitUntilParked(1, waiter);
                assertStillWaiting(waiter);
                assertTrue(fd.tryWrite(1));
                assertEquals(new Returned(Outcome.READY, false), waiter.get());
                assertEquals(1, fd.tryRead());
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        };
        nextWaitIsWokenByAWrite.run();                       // fired: in the set, disarmed
        nextWaitIsWokenByAWrite.run();

        assertEquals(Outcome.TIMED_OUT, poller.await(fd, true, System.nanoTime() + 1_000_000, true));
        nextWaitIsWokenByAWrite.run();                       // timed out: left armed

        Forked<Returned> interrupted = forkAwait(kind, fd, true);
        waitUntilParked(1, interrupted);
        interrupted.thread().interrupt();
        assertEquals(new Returned(Outcome.INTERRUPTED, true), interrupted.get());
        nextWaitIsWokenByAWrite.run();

        assertTrue(poller.register(fd, o -> {}).cancel());
        nextWaitIsWokenByAWrite.run();

        Forked<Returned> signalled = forkAwait(kind, fd, true);
        waitUntilParked(1, signalled);
        poller.signal(fd);
        assertEquals(new Returned(Outcome.READY, false), signalled.get());
        nextWaitIsWokenByAWrite.run();                       // signalled: left armed

        // armed with no waiter: the event is delivered to no entry, and the next wait re-arms
        assertEquals(Outcome.TIMED_OUT, poller.await(fd, true, System.nanoTime() + 1_000_000, true));
        assertTrue(registration(fd).armed());
        assertTrue(fd.tryWrite(1));
        waitUntil("the event with no entry was delivered", () -> {
            try {
                return !registration(fd).armed();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        assertEquals(0, poller.registeredDescriptors());
        assertEquals(1, fd.tryRead());
        nextWaitIsWokenByAWrite.run();
    }

    /**
     * A descriptor that has been waited on is taken out of the epoll set by close() even with no waiter
     * left, though its file lives on in another descriptor (as when another process holds it), and a
     * new descriptor with the same number registers and is woken only by its own file.
     */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void closeLeavesNoRegistrationThoughTheFileLivesOn(Kind kind, @TempDir Path dir) throws Exception {
        for (int attempt = 0; attempt < 20; attempt++) {
            EventFd a = eventFd();
            EventFd elsewhere = sameFile(a, dir.resolve(attempt + ".sock"));
            Forked<Returned> onA = forkAwait(kind, a, true);
            waitUntilParked(1, onA);
            assertTrue(elsewhere.tryWrite(1));
            assertEquals(new Returned(Outcome.READY, false), onA.get());
            assertEquals(1, a.tryRead());
            // left armed, with no waiter: the state in which a registration is most easily forgotten
            assertEquals(Outcome.TIMED_OUT, poller.await(a, true, System.nanoTime() + 1_000_000, true));
            assertEquals(0, poller.registeredDescriptors());
            assertNotNull(registration(a));
            int n = a.fd();
            a.close();
            assertEquals(null, registration(a), "the closed descriptor's registration is gone");
            for (Registration r : epollSet()) assertTrue(r.fd() != n, () -> "descriptor " + n + " still listed: " + r);

            EventFd b = eventFd();
            if (b.fd() != n) continue;
            Forked<Returned> onB = forkAwait(kind, b, true);
            waitUntilParked(1, onB);
            assertEquals(n, registration(b).fd());
            assertTrue(elsewhere.tryWrite(1));   // A's file becomes readable: nothing of A may fire
            pollerRoundTrip();
            pollerRoundTrip();
            assertStillWaiting(onB);
            assertTrue(b.tryWrite(1));
            assertEquals(new Returned(Outcome.READY, false), onB.get());
            b.close();
            elsewhere.close();
            assertEquals(null, registration(b));
            return;
        }
        throw new AssertionError("no new eventfd got the closed one's number in 20 attempts");
    }

    // ------------------------------------------------------------------ what the poller keeps alive

    /** An owner as EventFdSemaphore is one: a descriptor closed by a Cleaner, and an armed callback. */
    private static final class Owner {
        final EventFd fd = EventFd.create(0, false, "owner");
        Poller.Waiter armed;
    }

    /** The owner's callback: it holds the owner weakly, so a pending registration does not keep it. */
    private record WeakCallback(WeakReference<Owner> owner, CompletableFuture<Outcome> told)
            implements Consumer<Outcome> {
        @Override
        public void accept(Outcome outcome) {
            told.complete(outcome);
            Owner o = owner.get();
            if (o != null && outcome == Outcome.READY) o.fd.tryRead();   // only signal-sized work
        }
    }

    /** What the test may still hold of an abandoned owner: weak references and plain values. */
    private record Abandoned(WeakReference<Owner> owner, WeakReference<EventFd> fd, long token,
                             CompletableFuture<Outcome> told) {}

    /** The registration whose data is {@code token}; null if none. */
    private Registration registration(long token) throws IOException {
        for (Registration r : epollSet()) if (r.data() == token) return r;
        return null;
    }

    /** Runs the collector until {@code condition} holds (a bounded retry, not a timing assumption). */
    private static void gcUntil(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            System.gc();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));   // lets the Cleaner thread run
        }
    }

    /** Builds an owner with a pending callback and returns without keeping a strong reference to it. */
    private Abandoned abandonOwnerWithAPendingCallback(Cleaner cleaner) throws IOException {
        Owner owner = new Owner();
        EventFd fd = owner.fd;
        CompletableFuture<Outcome> told = new CompletableFuture<>();
        owner.armed = poller.register(fd, new WeakCallback(new WeakReference<>(owner), told));
        cleaner.register(owner, fd::close);           // captures the descriptor, not the owner
        assertNotNull(registration(fd));
        assertEquals(1, poller.registeredDescriptors());
        return new Abandoned(new WeakReference<>(owner), new WeakReference<>(fd), fd.token(), told);
    }

    @Test
    void anAbandonedOwnerWithAPendingCallbackIsCollectedAndItsCleanerLeavesNothingBehind() throws Exception {
        Abandoned a = abandonOwnerWithAPendingCallback(Cleaner.create());
        gcUntil("the owner is collected and its Cleaner has closed the descriptor", () -> a.told().isDone());
        assertEquals(null, a.owner().get());
        assertEquals(Outcome.CLOSED, a.told().getNow(null), "the pending callback is told CLOSED");
        assertEquals(0, poller.registeredDescriptors());
        assertEquals(0, poller.queuedWaiters());
        assertEquals(null, registration(a.token()), "no registration left in the epoll set");
        gcUntil("the closed descriptor's handle is collected", () -> a.fd().get() == null);
    }

    private record Idle(WeakReference<EventFd> fd, long token) {}

    /** Waits once on a new descriptor (which stays in the epoll set) and drops it, unclosed. */
    private Idle waitOnceAndAbandon() throws IOException {
        EventFd fd = EventFd.create(0, false, "abandoned");
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, poller.await(fd, false, 0, true));
        assertNotNull(registration(fd), "stays in the epoll set");
        return new Idle(new WeakReference<>(fd), fd.token());
    }

    @Test
    void aDescriptorInTheEpollSetWithoutWaitersIsNotKeptAlive() throws Exception {
        Idle idle = waitOnceAndAbandon();
        assertEquals(0, poller.registeredDescriptors());
        gcUntil("the abandoned handle is collected", () -> idle.fd().get() == null);
        // its own Cleaner closed the last descriptor of the file, and the kernel dropped the registration
        gcUntil("the registration is gone with the file", () -> {
            try {
                return registration(idle.token()) == null;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    // ------------------------------------------------------------------ register / cancel

    @Test
    void registeredCallbackRunsOnThePollerThreadWithReady() throws Exception {
        EventFd fd = eventFd();
        CompletableFuture<Thread> thread = new CompletableFuture<>();
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        AtomicInteger calls = new AtomicInteger();
        poller.register(fd, o -> {
            calls.incrementAndGet();
            thread.complete(Thread.currentThread());
            outcome.complete(o);
        });
        assertEquals(1, poller.registeredDescriptors());
        assertEquals(1, poller.queuedWaiters());
        assertFalse(outcome.isDone());
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, outcome.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertSame(poller.thread(), thread.get());
        pollerRoundTrip();
        assertEquals(1, calls.get(), "once");
    }

    @Test
    void registeringAReadableDescriptorRunsTheCallbackAtOnce() throws Exception {
        EventFd fd = eventFd();
        assertTrue(fd.tryWrite(1));
        CompletableFuture<Thread> thread = new CompletableFuture<>();
        poller.register(fd, o -> thread.complete(o == Outcome.READY ? Thread.currentThread() : null));
        assertSame(poller.thread(), thread.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
    }

    @Test
    void callbackAndThreadWaitersShareADescriptor() throws Exception {
        EventFd fd = eventFd();
        CompletableFuture<Outcome> callback = new CompletableFuture<>();
        poller.register(fd, callback::complete);
        Forked<Returned> waiter = forkAwait(Kind.VIRTUAL, fd, true);
        waitUntilParked(2, waiter);
        assertEquals(1, poller.registeredDescriptors());
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, callback.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertEquals(new Returned(Outcome.READY, false), waiter.get());
    }

    @Test
    void cancelWithdrawsARegistration() throws Exception {
        EventFd fd = eventFd();
        AtomicInteger calls = new AtomicInteger();
        Poller.Waiter w = poller.register(fd, o -> calls.incrementAndGet());
        assertEquals(1, poller.registeredDescriptors());
        assertTrue(w.cancel());
        assertEquals(0, poller.registeredDescriptors());
        assertEquals(0, poller.queuedWaiters());
        assertFalse(w.cancel(), "already cancelled");
        assertTrue(fd.tryWrite(1));
        pollerRoundTrip();
        pollerRoundTrip();
        fd.close();
        assertEquals(0, calls.get(), "a cancelled callback never runs, not even on close");
    }

    @Test
    void cancelOfOneRegistrationLeavesTheOthers() throws Exception {
        EventFd fd = eventFd();
        AtomicInteger cancelledCalls = new AtomicInteger();
        CompletableFuture<Outcome> kept = new CompletableFuture<>();
        Poller.Waiter w = poller.register(fd, o -> cancelledCalls.incrementAndGet());
        poller.register(fd, kept::complete);
        assertTrue(w.cancel());
        assertEquals(1, poller.registeredDescriptors());
        assertEquals(1, poller.queuedWaiters());
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, kept.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertEquals(0, cancelledCalls.get());
    }

    @Test
    void cancelAfterTheCallbackRanReturnsFalse() throws Exception {
        EventFd fd = eventFd();
        CompletableFuture<Outcome> ran = new CompletableFuture<>();
        Poller.Waiter w = poller.register(fd, ran::complete);
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, ran.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertFalse(w.cancel());
    }

    @Test
    void callbackMayRegisterAgain() throws Exception {
        EventFd fd = eventFd();
        CompletableFuture<Outcome> second = new CompletableFuture<>();
        poller.register(fd, o -> {
            fd.tryRead();
            poller.register(fd, second::complete);
        });
        assertTrue(fd.tryWrite(1));
        waitUntil("the first callback re-registered", () -> poller.queuedWaiters() == 1 && fd.count() == 0);
        assertFalse(second.isDone());
        assertTrue(fd.tryWrite(1));
        assertEquals(Outcome.READY, second.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
    }

    // ------------------------------------------------------------------ callbacks that fail

    /**
     * Callbacks share the one poller thread, so a blocked callback cannot be kept from delaying the
     * others (the class comment says so); what can be guaranteed is that a failing one harms nobody:
     * it is reported, the callbacks after it in the same batch run, and the poller goes on serving.
     */
    @Test
    void aThrowingCallbackIsReportedAndThePollerCarriesOn() throws Exception {
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        poller.thread().setUncaughtExceptionHandler((t, e) -> {
            reported.add(e);
            throw new IllegalStateException("and the handler fails too");
        });
        EventFd fd = eventFd();
        RuntimeException exception = new IllegalStateException("callback fails");
        Error error = new AssertionError("callback fails harder");
        CompletableFuture<Thread> first = new CompletableFuture<>();
        CompletableFuture<Thread> last = new CompletableFuture<>();
        poller.register(fd, o -> first.complete(Thread.currentThread()));
        poller.register(fd, o -> { throw exception; });
        poller.register(fd, o -> { throw error; });
        poller.register(fd, o -> last.complete(Thread.currentThread()));
        assertTrue(fd.tryWrite(1));
        assertSame(poller.thread(), first.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertSame(poller.thread(), last.get(GENEROUS_SECONDS, TimeUnit.SECONDS), "the batch went on");
        assertEquals(List.of(exception, error), reported);
        assertTrue(poller.thread().isAlive());

        assertEquals(1, fd.tryRead());
        pollerRoundTrip();
        Forked<Returned> waiter = forkAwait(Kind.VIRTUAL, fd, true);
        waitUntilParked(1, waiter);
        assertTrue(fd.tryWrite(1));
        assertEquals(new Returned(Outcome.READY, false), waiter.get(), "the poller still wakes threads");
    }

    /** A callback told CLOSED runs inside close(): its failure must not stop the descriptor closing. */
    @Test
    void aCallbackThrowingOnCloseDoesNotStopTheClose() throws Exception {
        EventFd fd = eventFd();
        CompletableFuture<Outcome> after = new CompletableFuture<>();
        poller.register(fd, o -> { throw new IllegalStateException("fails on " + o); });
        poller.register(fd, after::complete);
        List<Throwable> reported = new CopyOnWriteArrayList<>();
        Thread closer = Thread.ofPlatform().daemon().uncaughtExceptionHandler((t, e) -> reported.add(e))
                .start(fd::close);
        threads.add(closer);
        closer.join();
        assertEquals(1, reported.size(), reported::toString);
        assertEquals("fails on CLOSED", reported.getFirst().getMessage());
        assertEquals(Outcome.CLOSED, after.getNow(null));
        assertTrue(fd.isClosed());
        assertEquals(null, registration(fd));
    }

    // ------------------------------------------------------------------ shutdown

    @ParameterizedTest
    @EnumSource(Kind.class)
    void shutdownWakesEveryWaiterWithClosedAndEndsTheThread(Kind kind) throws Exception {
        EventFd a = eventFd();
        EventFd b = eventFd();
        List<Forked<Returned>> waiters = new ArrayList<>();
        for (int i = 0; i < 5; i++) waiters.add(forkAwait(kind, a, true));
        for (int i = 0; i < 5; i++) waiters.add(forkTimedAwait(kind, b, TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS), false));
        CompletableFuture<Outcome> callback = new CompletableFuture<>();
        poller.register(b, callback::complete);
        waitUntilParked(11, waiters);
        assertEquals(2, poller.registeredDescriptors());

        poller.shutdown();
        shutDown = true;
        assertFalse(poller.thread().isAlive());
        for (Forked<Returned> w : waiters) assertEquals(new Returned(Outcome.CLOSED, false), w.get());
        assertEquals(Outcome.CLOSED, callback.get(GENEROUS_SECONDS, TimeUnit.SECONDS));
        assertEquals(0, poller.registeredDescriptors());
        assertEquals(0, poller.queuedWaiters());
        assertThrows(IllegalStateException.class, () -> poller.await(a, false, 0, true));
        assertThrows(IllegalStateException.class, () -> poller.register(a, o -> {}));
        // the descriptors outlive the poller
        assertTrue(a.tryWrite(1));
        assertEquals(1, a.tryRead());
    }

    @Test
    void sharedPollerIsOneAndCannotBeShutDown() {
        Poller shared = Poller.shared();
        assertSame(shared, Poller.shared());
        assertTrue(shared.thread().isDaemon());
        assertTrue(shared.thread().isAlive());
        assertThrows(IllegalStateException.class, shared::shutdown);
        assertNotNull(shared.thread().getName());
    }
}
