package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Poller;
import dev.eventfd.sync.testutil.PeerProcess;

import static dev.eventfd.sync.testutil.PeerProcess.PATIENCE;
import static dev.eventfd.sync.testutil.PeerProcess.control;
import static dev.eventfd.sync.testutil.PeerProcess.kernelCount;
import static dev.eventfd.sync.testutil.PeerProcess.waitUntil;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link EventFdLatch} shared with a process that is not a JVM: a Python peer (standard library only,
 * src/test/resources/peers/eventfd_peer.py) holding {@link EventFdLatch#countDescriptor()} as 3 and
 * {@link EventFdLatch#gateDescriptor()} as 4 follows the documented protocol (count down: read 8 bytes
 * from the count descriptor, then write 1 to the gate if the count descriptor is not readable by a
 * zero-timeout poll; await: poll the gate, never read it). Extra plain eventfds (5, 6) carry signals
 * between the test and the peer.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventFdLatchPeerTest {


    private static int[] fds(EventFdLatch latch, EventFd... controls) {
        return PeerProcess.peerFds(latch.countDescriptor(), latch.gateDescriptor(), controls);
    }





    /** Starts a thread (platform or virtual) that awaits the latch; the future completes when it returns. */
    private static CompletableFuture<Void> awaiter(EventFdLatch latch, boolean virtual, AtomicInteger returned) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        Runnable task = () -> {
            try {
                latch.await();
                returned.incrementAndGet();
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        };
        (virtual ? Thread.ofVirtual() : Thread.ofPlatform().daemon()).name("awaiter").start(task);
        return done;
    }

    /**
     * Three platform and three virtual threads await; the peer counts down three times following the
     * protocol, stopping after each so that the test sees getCount() follow (2, 1) with every waiter
     * still waiting; its third count-down opens the gate and every waiter returns.
     */
    @Test
    void peerCountDownsReleaseJavaWaitersAndGetCountFollows() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(3); EventFd ack = control(); EventFd go = control()) {
            int baseline = Poller.shared().queuedWaiters();
            AtomicInteger returned = new AtomicInteger();
            List<CompletableFuture<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                waiters.add(awaiter(latch, false, returned));
                waiters.add(awaiter(latch, true, returned));
            }
            waitUntil("6 waiters parked in the poller", () -> Poller.shared().queuedWaiters() - baseline >= 6);

            try (PeerProcess peer = PeerProcess.python(fds(latch, ack, go),
                    "countdown:3:4", "release:5:1", "consume:6",
                    "countdown:3:4", "release:5:1", "consume:6",
                    "countdown:3:4", "count:3", "count:4")) {
                peer.awaitSignal(ack, "the peer's first count-down");
                assertEquals(2, latch.getCount());
                assertEquals(0, kernelCount(latch.gateDescriptor()), "gate shut");
                assertEquals(0, returned.get(), "a waiter returned at count 2");

                go.tryWrite(1);
                peer.awaitSignal(ack, "the peer's second count-down");
                assertEquals(1, latch.getCount());
                assertEquals(0, kernelCount(latch.gateDescriptor()), "gate shut");
                assertEquals(0, returned.get(), "a waiter returned at count 1");
                assertFalse(latch.await(0, TimeUnit.SECONDS));

                go.tryWrite(1);
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains("countdown opened the gate\ncount 0\ncount 1\n"), out);
                assertEquals(2, out.split("countdown\n", -1).length - 1, "two plain count-downs:\n" + out);
            }
            for (CompletableFuture<Void> w : waiters) w.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            assertEquals(6, returned.get());
            assertEquals(0, latch.getCount());
            assertEquals(1, kernelCount(latch.gateDescriptor()), "the gate stays open and is never read");
            assertTrue(latch.await(0, TimeUnit.SECONDS));
            latch.await();                       // returns at once now
            latch.countDown();                   // at zero: nothing happens
            assertEquals(0, latch.getCount());
        }
    }

    /** Java counts down part of the way and a peer finishes: the peer's read takes it to zero and opens the gate. */
    @Test
    void javaAndPeerCountDownTogether() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(3)) {
            AtomicInteger returned = new AtomicInteger();
            CompletableFuture<Void> waiter = awaiter(latch, true, returned);
            latch.countDown();
            latch.countDown();
            assertEquals(1, latch.getCount());
            try (PeerProcess peer = PeerProcess.python(fds(latch), "countdown:3:4", "countdown:3:4")) {
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains("countdown opened the gate\ncountdown at zero\n"), out);
            }
            waiter.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            assertEquals(0, latch.getCount());
        }
    }

    /**
     * A peer blocked in poll on the gate (two count-downs to go) is still waiting after one Java
     * countDown() and is released by the second; it never reads the gate, which stays open.
     */
    @Test
    void peerWaitingOnTheGateIsReleasedByJavaCountDowns() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(2); EventFd ready = control()) {
            try (PeerProcess peer = PeerProcess.python(fds(latch, ready), "release:5:1", "readable:4", "count:3",
                    "count:4")) {
                peer.awaitSignal(ready, "the peer is about to poll the gate");
                peer.awaitCondition("the peer sleeps in poll", PATIENCE, peer::blockedInPoll);

                latch.countDown();
                assertEquals(1, latch.getCount());
                assertTrue(peer.isAlive(), "the peer passed a gate that should still be shut");
                assertEquals(0, kernelCount(latch.gateDescriptor()));

                latch.countDown();
                String out = peer.waitForSuccess(PATIENCE);
                assertTrue(out.contains("readable fd 4\ncount 0\ncount 1\n"), out);
            }
            assertEquals(0, latch.getCount());
            assertTrue(latch.await(0, TimeUnit.SECONDS));
            assertEquals(1, kernelCount(latch.gateDescriptor()));
        }
    }

    /** Several peers blocked on the gate and several Java waiters are all released by one countDown(). */
    @Test
    void oneJavaCountDownReleasesPeersAndJavaWaitersTogether() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(1); EventFd ready = control()) {
            int baseline = Poller.shared().queuedWaiters();
            AtomicInteger returned = new AtomicInteger();
            List<CompletableFuture<Void>> waiters = new ArrayList<>();
            for (int i = 0; i < 4; i++) waiters.add(awaiter(latch, i % 2 == 0, returned));
            waitUntil("4 waiters parked in the poller", () -> Poller.shared().queuedWaiters() - baseline >= 4);
            List<PeerProcess> peers = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) peers.add(PeerProcess.python(fds(latch, ready), "release:5:1", "readable:4"));
                long[] signals = {0};
                peers.getFirst().awaitCondition("3 peers about to poll", PATIENCE,
                        () -> (signals[0] += ready.tryRead()) >= 3);
                for (PeerProcess p : peers) p.awaitCondition("peer sleeps in poll", PATIENCE, p::blockedInPoll);

                Thread counter = Thread.ofPlatform().start(latch::countDown);
                assertTrue(counter.join(PATIENCE));
                for (PeerProcess p : peers) assertTrue(p.waitForSuccess(PATIENCE).contains("readable fd 4\n"));
            } finally {
                for (PeerProcess p : peers) p.close();
            }
            for (CompletableFuture<Void> w : waiters) w.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            assertEquals(4, returned.get());
        }
    }

    /**
     * A peer that dies between the two steps of its final count-down (it read the count to zero and
     * never wrote the gate) leaves the gate shut; a Java await() finds the count at zero, returns, and
     * opens the gate for every other process, as the class documentation promises.
     */
    @Test
    void awaitRepairsTheGateOfAPeerThatDiedMidCountDown() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(1)) {
            try (PeerProcess peer = PeerProcess.python(fds(latch), "read:3")) {
                assertTrue(peer.waitForSuccess(PATIENCE).contains("read 1\n"));
            }
            assertEquals(0, latch.getCount());
            assertEquals(0, kernelCount(latch.gateDescriptor()), "the dead peer left the gate shut");
            assertTrue(latch.await(PATIENCE.toSeconds(), TimeUnit.SECONDS));
            assertEquals(1, kernelCount(latch.gateDescriptor()), "await opened the gate");
            try (PeerProcess peer = PeerProcess.python(fds(latch), "readable:4")) {
                assertTrue(peer.waitForSuccess(PATIENCE).contains("readable fd 4\n"));
            }
        }
    }

    /**
     * The same death while Java threads are already parked on the gate: nobody would look at the count
     * again, so without the repair they would wait for good. They return, and the gate is open for
     * every other process.
     */
    @Test
    void waitersParkedBeforeAPeerDiedMidCountDownAreReleased() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(1)) {
            int baseline = Poller.shared().queuedWaiters();
            AtomicInteger returned = new AtomicInteger();
            List<CompletableFuture<Void>> waiters = List.of(awaiter(latch, true, returned), awaiter(latch, false, returned));
            waitUntil("2 waiters parked in the poller", () -> Poller.shared().queuedWaiters() - baseline >= 2);
            try (PeerProcess peer = PeerProcess.python(fds(latch), "read:3")) {
                assertTrue(peer.waitForSuccess(PATIENCE).contains("read 1\n"));
            }
            for (CompletableFuture<Void> w : waiters) w.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            assertEquals(2, returned.get());
            assertEquals(1, kernelCount(latch.gateDescriptor()), "the repair opened the gate for every process");
        }
    }
}
