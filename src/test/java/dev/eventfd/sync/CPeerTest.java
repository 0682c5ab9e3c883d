package dev.eventfd.sync;

import dev.eventfd.sync.testutil.CPeer;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The C peer ({@code peers/c/efs_peer.c}) takes part in a named semaphore on the shared-memory store
 * as a JVM does: it joins through the rendezvous, takes and gives permits in the shared slots, waits
 * on its doorbell, and when it is killed with SIGKILL what it held comes back.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CPeerTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @BeforeAll
    static void compiler() {
        assumeTrue(CPeer.available(), "no C compiler (cc or gcc) to build peers/c/efs_peer.c");
    }

    /** Starts the peer under test; {@link PythonPeerTest} starts the Python one. */
    Handle start(String name) throws Exception {
        return CPeer.start("c-peer", dir, name);
    }

    private Handle peer(String name) throws Exception {
        Handle h = start(name);
        children.add(h);
        assertTrue(h.expect(PATIENCE, "READY").startsWith("READY slot="), h::transcript);
        return h;
    }

    @Test
    void theCPeerSharesThePermitsBothWays() throws Exception {
        String name = name("share");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            Handle c = peer(name);
            c.call("acquire 2");
            assertEquals(1, s.availablePermits());
            assertEquals("1", c.call("available").strip());
            assertTrue(s.tryAcquire());
            assertEquals("false", c.call("try 1").strip());
            c.call("release 2");
            assertEquals(2, s.availablePermits());
            s.release();
            assertEquals("3", c.call("available").strip());
            c.call("exit");
            assertEquals(0, c.waitFor(PATIENCE), c::transcript);
            assertEquals(3, s.availablePermits());
        }
    }

    @Test
    void aCWaiterIsWokenByAJavaReleaseAndAJavaWaiterByACRelease() throws Exception {
        String name = name("wake");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 2)) {
            s.acquire(2);
            Handle c = peer(name);
            c.send("acquire 1");                              // waits on its doorbell
            assertFalse(c.hasSeen("OK acquire"));
            s.release(1);
            assertEquals("OK acquire", c.expect(PATIENCE, "OK acquire"), c::transcript);
            // now: this thread holds 1, the peer 1, none free
            Thread waiter = Thread.ofVirtual().start(() -> s.acquireUninterruptibly(1));
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (!s.hasQueuedThreads()) {
                assertTrue(System.nanoTime() < deadline, "the Java waiter never queued");
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
            }
            c.call("release 1");
            assertTrue(waiter.join(PATIENCE), "the C peer's release did not wake the Java waiter");
            s.release(2);                                     // this thread's and the waiter's
            assertEquals(2, s.availablePermits());
        }
    }

    @Test
    void holdersShowThePeerAndTheNextLockHolderIsToldOfItsDeath() throws Exception {
        String name = name("lock");
        try (EventFdLock lock = EventFdLock.open(name)) {
            Handle c = peer(name);
            c.call("acquire 1");
            java.util.List<EventFdSemaphore.Holder> h = lock.semaphore().holders();
            assertEquals(1, h.size(), h::toString);
            assertEquals(c.pid(), h.getFirst().pid());
            assertEquals(1, h.getFirst().permits());
            assertTrue(h.getFirst().since() != null, h::toString);
            c.kill();
            assertTrue(lockAndAskWhetherThePreviousHolderDied(lock), "the peer died holding the lock");
            assertFalse(lockAndAskWhetherThePreviousHolderDied(lock), "told once");
        }
    }

    @Test
    void whatAKilledCPeerHeldComesBackExactly() throws Exception {
        String name = name("killed");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            Handle c = peer(name);
            c.call("acquire 3");
            assertEquals(0, s.availablePermits());
            Thread waiter = Thread.ofVirtual().start(() -> s.acquireUninterruptibly(2));
            c.kill();
            assertTrue(waiter.join(PATIENCE), "the Java waiter never got the dead peer's permits");
            assertEquals(1, s.availablePermits());
            s.release(2);
            assertTrue(s.tryAcquire(3));
            assertFalse(s.tryAcquire());
            s.release(3);
        }
    }
}
