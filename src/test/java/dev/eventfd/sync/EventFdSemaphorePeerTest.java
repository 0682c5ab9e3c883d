package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.testutil.PeerProcess;

import static dev.eventfd.sync.testutil.PeerProcess.PATIENCE;
import static dev.eventfd.sync.testutil.PeerProcess.control;
import static dev.eventfd.sync.testutil.PeerProcess.kernelCount;
import static dev.eventfd.sync.testutil.PeerProcess.waitUntil;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EventFdSemaphore} shared with a process that is not a JVM: a Python peer (standard library
 * only, src/test/resources/peers/eventfd_peer.py) holding {@link EventFdSemaphore#permitsDescriptor()}
 * and {@link EventFdSemaphore#turnstileDescriptor()} as descriptors 3 and 4 acquires with an 8-byte
 * {@code read}, releases with an 8-byte {@code write}, waits with {@code poll}, and both sides see
 * each other's changes. Extra plain eventfds (5, 6, ...) carry "done"/"go" signals between the test and
 * the peer, so that nothing here waits by sleeping.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventFdSemaphorePeerTest {


    private static int[] fds(EventFdSemaphore s, EventFd... controls) {
        return PeerProcess.peerFds(s.permitsDescriptor(), s.turnstileDescriptor(), controls);
    }





    private static CompletableFuture<Void> virtualAcquire(EventFdSemaphore s, int permits) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread.ofVirtual().name("acquire(" + permits + ")").start(() -> {
            try {
                s.acquire(permits);
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        });
        return done;
    }

    // ------------------------------------------------------------------ the peer acquires and releases

    /**
     * The peer takes k permits (k = 1: one read; k > 1: the turnstile protocol) and holds them; Java
     * sees availablePermits drop by k and cannot take them; the peer releases them and Java sees them.
     */
    @ParameterizedTest(name = "k = {0}")
    @ValueSource(ints = {1, 3})
    void peerAcquiresAndReleasesPermitsThatJavaSees(int k) throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(5);
             EventFd held = control(); EventFd go = control()) {
            String take = k == 1 ? "take:3:1" : "gather:3:4:" + k;
            try (PeerProcess peer = PeerProcess.python(fds(s, held, go),
                    take, "count:3", "release:5:1", "consume:6", "release:3:" + k, "count:3")) {
                peer.awaitSignal(held, "the peer holds " + k + " permits");
                assertEquals(5 - k, s.availablePermits(), "Java sees the peer's acquire");
                assertEquals(1, kernelCount(s.turnstileDescriptor()), "the peer gave the turnstile back");
                // the permits the peer holds are really gone: Java can take exactly the rest
                assertFalse(s.tryAcquire(5 - k + 1), "more than the rest");
                assertTrue(s.tryAcquire(5 - k), "exactly the rest");
                assertEquals(0, s.availablePermits());
                s.release(5 - k);
                assertEquals(5 - k, s.availablePermits());

                go.tryWrite(1);
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains((k == 1 ? "took " : "gathered ") + k + "\n"), out);
                assertTrue(out.contains("count " + (5 - k) + "\n"), "the peer saw the counter Java left:\n" + out);
                assertTrue(out.contains("released " + k + " to fd 3\ncount 5\n"), out);
            }
            assertEquals(5, s.availablePermits(), "Java sees the peer's release");
            assertTrue(s.tryAcquire(5));
            assertEquals(0, s.availablePermits());
        }
    }

    /** Permits released by a peer that exits stay released; permits it took and never gave back stay taken. */
    @Test
    void peerReleasesWithoutAcquiringAndPermitsItKeepsStayGone() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0)) {
            try (PeerProcess peer = PeerProcess.python(fds(s), "release:3:7")) {
                peer.waitForSuccess(PATIENCE);
            }
            assertEquals(7, s.availablePermits());
            try (PeerProcess peer = PeerProcess.python(fds(s), "take:3:2")) {
                peer.waitForSuccess(PATIENCE);
            }
            assertEquals(5, s.availablePermits());
            assertEquals(5, s.drainPermits());
            assertEquals(0, s.availablePermits());
        }
    }

    // ------------------------------------------------------------------ Java waits, the peer releases

    /**
     * Virtual threads parked in acquire() on an empty semaphore are woken by the peer's write: nothing in
     * this JVM releases, so the wake-up can only come through the poller watching the descriptor.
     */
    @ParameterizedTest(name = "{0} waiter(s)")
    @ValueSource(ints = {1, 3})
    void virtualThreadsBlockedInAcquireAreWokenByThePeersWrite(int waiters) throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0)) {
            List<CompletableFuture<Void>> acquired = new ArrayList<>();
            for (int i = 0; i < waiters; i++) acquired.add(virtualAcquire(s, 1));
            waitUntil(waiters + " threads queued", () -> s.getQueueLength() == waiters);
            assertEquals(0, s.availablePermits());
            for (CompletableFuture<Void> f : acquired) assertFalse(f.isDone(), "acquired with no permit");

            try (PeerProcess peer = PeerProcess.python(fds(s), "release:3:" + waiters)) {
                peer.waitForSuccess(PATIENCE);
            }
            for (CompletableFuture<Void> f : acquired) f.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            waitUntil("no thread queued", () -> !s.hasQueuedThreads());
            assertEquals(0, s.availablePermits(), "each permit the peer released went to one waiter");
            assertEquals(0, kernelCount(s.permitsDescriptor()));
            s.release(waiters);
            assertEquals(waiters, s.availablePermits());
        }
    }

    /**
     * The peer holds all 3 permits (taken under the turnstile); a Java acquire(3) waits, holding the
     * turnstile; the peer gives back 1 (Java gathers it: availablePermits 1, still waiting), then 2, and
     * the acquire completes with all 3; the turnstile is free again.
     */
    @Test
    void javaAcquireOfThreeWaitsWhileThePeerHoldsPermitsAndCompletesWhenItReleases() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(3);
             EventFd ack = control(); EventFd go = control()) {
            try (PeerProcess peer = PeerProcess.python(fds(s, ack, go),
                    "gather:3:4:3", "release:5:1", "consume:6", "release:3:1", "release:5:1", "consume:6",
                    "release:3:2")) {
                peer.awaitSignal(ack, "the peer holds all 3 permits");
                assertEquals(0, s.availablePermits());

                CompletableFuture<Void> acquired = virtualAcquire(s, 3);
                waitUntil("acquire(3) queued", () -> s.getQueueLength() == 1);
                assertEquals(0, kernelCount(s.turnstileDescriptor()),
                        "a JVM waiting for several permits holds the turnstile");

                go.tryWrite(1);
                peer.awaitSignal(ack, "the peer released 1 permit");
                waitUntil("Java gathered the released permit", () -> s.availablePermits() == 1);
                assertFalse(acquired.isDone(), "acquire(3) returned with 1 permit available");
                assertEquals(1, s.getQueueLength());
                assertFalse(s.tryAcquire(2), "a multi-permit tryAcquire while a local gatherer holds 1 of 3");

                go.tryWrite(1);
                peer.waitForSuccess(PATIENCE);
                acquired.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            }
            assertEquals(0, s.availablePermits(), "acquire(3) holds all 3");
            assertEquals(0, s.getQueueLength());
            assertEquals(1, kernelCount(s.turnstileDescriptor()), "the turnstile is free once nobody gathers");
            s.release(3);
            assertEquals(3, s.availablePermits());
            assertEquals(3, kernelCount(s.permitsDescriptor()), "released permits go back to the kernel");
        }
    }

    /**
     * The peer holds the turnstile (it is gathering) when a Java acquire(3) starts waiting: the JVM must
     * not hold permits the peer needs, so the peer can take 2 of the 3; once the peer gives the turnstile
     * back the JVM takes it and gathers; when the peer releases its 2, acquire(3) completes. No deadlock.
     */
    @Test
    void javaMultiPermitWaiterDefersToAPeerHoldingTheTurnstile() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(3);
             EventFd ack = control(); EventFd go = control()) {
            try (PeerProcess peer = PeerProcess.python(fds(s, ack, go),
                    "take:4:1", "release:5:1", "consume:6",
                    "take:3:2", "release:4:1", "release:5:1", "consume:6",
                    "release:3:2")) {
                peer.awaitSignal(ack, "the peer holds the turnstile");
                CompletableFuture<Void> acquired = virtualAcquire(s, 3);
                waitUntil("acquire(3) queued", () -> s.getQueueLength() == 1);
                assertEquals(3, kernelCount(s.permitsDescriptor()),
                        "while a peer holds the turnstile the JVM leaves every permit in the kernel");
                assertFalse(s.tryAcquire(2), "multi-permit tryAcquire while a peer holds the turnstile");

                go.tryWrite(1);
                peer.awaitSignal(ack, "the peer took 2 permits and gave the turnstile back");
                waitUntil("the JVM took the turnstile and gathered the last permit",
                        () -> kernelCount(s.turnstileDescriptor()) == 0 && s.availablePermits() == 1
                                && kernelCount(s.permitsDescriptor()) == 0);
                assertFalse(acquired.isDone(), "acquire(3) returned with 1 permit available");

                go.tryWrite(1);
                peer.waitForSuccess(PATIENCE);
                acquired.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            }
            assertEquals(0, s.availablePermits());
            assertEquals(1, kernelCount(s.turnstileDescriptor()));
        }
    }

    /**
     * close() while a Java acquire(3) holds the turnstile and 1 gathered permit: the waiter gets
     * ClosedException, and the peer, which keeps its own references to the descriptors, finds the permit
     * back in the kernel counter and the turnstile free, and gathers with them.
     */
    @Test
    void closeGivesHeldPermitsAndTheTurnstileBackToPeers() throws Exception {
        EventFd ack = control();
        EventFd go = control();
        try (ack; go) {
            EventFdSemaphore s = new EventFdSemaphore(1);
            try (PeerProcess peer = PeerProcess.python(fds(s, ack, go),
                    "release:5:1", "consume:6", "count:3", "count:4", "gather:3:4:1", "count:3", "count:4")) {
                peer.awaitSignal(ack, "the peer started");
                CompletableFuture<Void> acquired = virtualAcquire(s, 3);
                waitUntil("acquire(3) queued, holding the turnstile and the 1 permit",
                        () -> s.getQueueLength() == 1 && kernelCount(s.turnstileDescriptor()) == 0
                                && kernelCount(s.permitsDescriptor()) == 0);
                s.close();
                ExecutionException e = assertThrows(ExecutionException.class,
                        () -> acquired.get(PATIENCE.toSeconds(), TimeUnit.SECONDS));
                assertInstanceOf(ClosedException.class, e.getCause());

                go.tryWrite(1);
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains("count 1\ncount 1\ngathered 1\ncount 0\ncount 1\n"),
                        "the peer finds the permit and the turnstile back:\n" + out);
            }
            assertTrue(s.isClosed());
        }
    }

    /** A peer pushing the counter past Integer.MAX_VALUE: availablePermits() saturates. */
    @Test
    void availablePermitsSaturatesWhenAPeerPushesTheCounterPastIntMax() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0)) {
            try (PeerProcess peer = PeerProcess.python(fds(s), "release:3:" + (Integer.MAX_VALUE + 10L))) {
                peer.waitForSuccess(PATIENCE);
            }
            assertEquals(Integer.MAX_VALUE, s.availablePermits());
            assertTrue(s.tryAcquire());
            assertEquals(Integer.MAX_VALUE, s.availablePermits());
        }
    }

    /**
     * BUG (EventFdSemaphore.checkOverflow): the class documentation says release() throws
     * {@code Error("Maximum permit count exceeded")} if more than Integer.MAX_VALUE permits would be
     * available, and that "the check reads the kernel counter, so it is exact unless another process
     * releases at the same moment". Here a peer released Integer.MAX_VALUE permits long before (not at
     * the same moment); the JVM's kernelEstimate does not know, the check takes its fast path, and
     * release(1) silently pushes the counter to Integer.MAX_VALUE + 1 instead of throwing.
     */
    @Test
    void releasePastIntMaxAfterAPeersReleaseThrowsError() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0)) {
            try (PeerProcess peer = PeerProcess.python(fds(s), "release:3:" + Integer.MAX_VALUE)) {
                peer.waitForSuccess(PATIENCE);
            }
            assertEquals(Integer.MAX_VALUE, s.availablePermits());
            Error e = assertThrows(Error.class, () -> s.release(1),
                    () -> "release(1) with Integer.MAX_VALUE permits available must throw; kernel counter now "
                            + kernelCount(s.permitsDescriptor()) + ", availablePermits " + s.availablePermits());
            assertEquals("Maximum permit count exceeded", e.getMessage());
            assertEquals((long) Integer.MAX_VALUE, kernelCount(s.permitsDescriptor()), "the count is unchanged");
        }
    }

    /**
     * BUG (EventFdSemaphore, negative permits): the class documentation says that a deficit is kept in
     * this JVM, "the kernel counter stays at zero until releases have paid it, so other processes cannot
     * acquire meanwhile, and permits that other processes release are used to pay it". With permits -2
     * and no thread of this JVM waiting, a peer releases 1: nothing in the JVM watches the descriptor, so
     * the permit stays in the kernel counter and a second peer acquires it although the semaphore has -1
     * permits.
     */
    @Test
    void aPermitAPeerReleasesPaysTheDeficitAndNoOtherPeerCanTakeIt() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(-2)) {
            try (PeerProcess peer = PeerProcess.python(fds(s), "release:3:1")) {
                peer.waitForSuccess(PATIENCE);
            }
            assertEquals(-1, s.availablePermits());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (kernelCount(s.permitsDescriptor()) != 0 && System.nanoTime() - deadline < 0) {
                LockSupport.parkNanos(1_000_000);
            }
            try (PeerProcess thief = PeerProcess.python(fds(s), "read:3")) {
                String out = thief.waitForSuccess(PATIENCE);
                assertTrue(out.contains("read EAGAIN\n"),
                        "with -1 permits another process acquired a permit:\n" + out);
            }
            assertEquals(-1, s.availablePermits());
        }
    }

    // ------------------------------------------------------------------ the peer waits, Java releases

    /** A peer blocked in poll(POLLIN) on the permits descriptor is woken by a Java release() and takes it. */
    @Test
    void peerBlockedInPollIsWokenByJavaRelease() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0); EventFd ready = control()) {
            try (PeerProcess peer = PeerProcess.python(fds(s, ready), "release:5:1", "take:3:1", "count:3")) {
                peer.awaitSignal(ready, "the peer is about to poll");
                peer.awaitCondition("the peer sleeps in poll", PATIENCE, peer::blockedInPoll);
                assertTrue(peer.isAlive(), "the peer cannot take a permit before Java releases one");

                s.release();
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains("took 1\ncount 0\n"), out);
            }
            assertEquals(0, s.availablePermits(), "the peer took the permit Java released");
        }
    }

    /** One Java release(2) wakes two peers blocked in poll; each takes one permit. */
    @Test
    void javaReleaseOfTwoWakesTwoPolledPeers() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0); EventFd ready = control()) {
            try (PeerProcess a = PeerProcess.python(fds(s, ready), "release:5:1", "take:3:1");
                 PeerProcess b = PeerProcess.python(fds(s, ready), "release:5:1", "take:3:1")) {
                long[] signals = {0};
                a.awaitCondition("both peers are about to poll", PATIENCE,
                        () -> (signals[0] += ready.tryRead()) >= 2);
                a.awaitCondition("peer a sleeps in poll", PATIENCE, a::blockedInPoll);
                b.awaitCondition("peer b sleeps in poll", PATIENCE, b::blockedInPoll);

                s.release(2);
                assertTrue(a.waitForSuccess(PATIENCE).contains("took 1\n"));
                assertTrue(b.waitForSuccess(PATIENCE).contains("took 1\n"));
            }
            assertEquals(0, s.availablePermits());
        }
    }

    /**
     * A Java waiter and a peer wait at the same time on one empty semaphore; a peer's release of 2
     * serves both of them: the peer's wake-up comes from the kernel, the Java thread's from the poller.
     */
    @Test
    void javaWaiterAndPeerWaiterAreBothServedByAnotherPeersRelease() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0); EventFd ready = control()) {
            CompletableFuture<Void> javaWaiter = virtualAcquire(s, 1);
            waitUntil("the Java waiter is queued", () -> s.getQueueLength() == 1);
            try (PeerProcess waiter = PeerProcess.python(fds(s, ready), "release:5:1", "take:3:1")) {
                waiter.awaitSignal(ready, "the peer is about to poll");
                waiter.awaitCondition("the peer sleeps in poll", PATIENCE, waiter::blockedInPoll);
                try (PeerProcess releaser = PeerProcess.python(fds(s), "release:3:2")) {
                    releaser.waitForSuccess(PATIENCE);
                }
                assertTrue(waiter.waitForSuccess(PATIENCE).contains("took 1\n"));
                javaWaiter.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            }
            assertEquals(0, s.availablePermits());
            assertEquals(0, s.getQueueLength());
        }
    }
}
