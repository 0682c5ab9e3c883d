package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Named semaphores and locks on the shared-memory store give back exactly what a process held when
 * it is killed with SIGKILL: to the survivors' counts, to a waiter in another process, to a
 * multi-permit acquirer that the dead process was gathering against, and to a lock waiter.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CrashExactTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    private static void killAndWait(Handle h) {
        h.kill();
        h.waitFor(PATIENCE);
    }

    /**
     * Two semaphores on one name (two slots) at the maximum: a release of permits the first holds,
     * after the second has released as many beyond what it held, would pass Integer.MAX_VALUE, and
     * throws the j.u.c. overflow Error with the count unchanged.
     */
    @Test
    void aReleaseOfHeldPermitsPastTheMaximumThrowsAndChangesNothing() throws InterruptedException {
        String name = name("maximum");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, Integer.MAX_VALUE);
             EventFdSemaphore t = EventFdSemaphore.open(name, Integer.MAX_VALUE)) {
            s.acquire(10);
            t.release(10);                                   // beyond what t holds: a gift, back at the maximum
            assertEquals(Integer.MAX_VALUE, t.availablePermits());
            Error e = assertThrows(Error.class, () -> s.release(10));
            assertEquals("Maximum permit count exceeded", e.getMessage());
            assertEquals(Integer.MAX_VALUE, t.availablePermits(), "nothing changed");
            t.acquire(10);
            s.release(10);
            assertEquals(Integer.MAX_VALUE, s.availablePermits());
        }
    }

    @Test
    void aHolderKilledWithSigkillGivesBackExactlyWhatItHeld() throws Exception {
        String name = name("held");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            Handle c = child("holder");
            assertEquals("3", c.call("open-sem " + name + " 9"));
            c.call("acquire " + name + " 2");
            assertEquals(1, s.availablePermits());
            killAndWait(c);
            assertEquals(3, s.availablePermits(), "the dead holder's 2 permits came back");
            assertTrue(s.tryAcquire(3));
            assertFalse(s.tryAcquire(), "no permit was created");
            s.release(3);
        }
    }

    @Test
    void whatAKilledProcessReleasedBeyondItsHoldingsStaysReleased() throws Exception {
        String name = name("gift");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
            Handle c = child("giver");
            assertEquals("1", c.call("open-sem " + name + " 9"));
            c.call("acquire " + name + " 1");
            c.call("release " + name + " 3");          // 1 it held, 2 beyond
            assertEquals(3, s.availablePermits());
            killAndWait(c);
            assertEquals(3, s.availablePermits(), "the gift outlives its giver; the held permit was returned once");
        }
    }

    @Test
    void aWaiterInAnotherProcessGetsTheDeadHoldersPermits() throws Exception {
        String name = name("waiter");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 2)) {
            Handle c = child("holder");
            assertEquals("2", c.call("open-sem " + name + " 9"));
            c.call("acquire " + name + " 2");
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread waiter = Thread.ofVirtual().start(() -> {
                try {
                    if (!s.tryAcquire(2, 30, TimeUnit.SECONDS)) failure.set(new AssertionError("no permits within 30 s"));
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            waitUntilQueued(s);
            killAndWait(c);
            assertTrue(waiter.join(Duration.ofSeconds(40)));
            assertNull(failure.get());
            assertEquals(0, s.availablePermits());
            s.release(2);
            assertEquals(2, s.availablePermits());
        }
    }

    @Test
    void aProcessKilledWhileGatheringLeavesNothingThatBlocksMultiPermitAcquires() throws Exception {
        String name = name("gather");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            s.acquire(2);                                // the child can gather at most 1 of 3
            Handle c = child("gatherer");
            assertEquals("1", c.call("open-sem " + name + " 9"));
            c.send("acquire " + name + " 3");           // waits, holding the gather right and 1 permit
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            while (s.availablePermits() != 0) {          // the gatherer took the free permit into its JVM
                assertTrue(System.nanoTime() < deadline, "the child never gathered");
                java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);   // polls a condition, with a deadline
            }
            killAndWait(c);
            s.release(2);
            assertTrue(s.tryAcquire(3, 30, TimeUnit.SECONDS), "the dead gatherer's permit and right came back");
            s.release(3);
            try (EventFdSemaphore newcomer = EventFdSemaphore.open(name, 9)) {
                assertTrue(newcomer.tryAcquire(3, 30, TimeUnit.SECONDS));
                newcomer.release(3);
            }
        }
    }

    @Test
    void aLockWaiterGetsTheLockWhenItsHolderIsKilled() throws Exception {
        String name = name("lock");
        Handle c = child("holder");
        assertEquals("1", c.call("open-lock " + name));
        c.call("acquire " + name + " 1");               // the lock's one permit
        try (EventFdLock lock = EventFdLock.open(name)) {
            assertFalse(lock.tryLock());
            AtomicReference<Throwable> failure = new AtomicReference<>();
            Thread waiter = Thread.ofVirtual().start(() -> {
                try {
                    if (!lock.tryLock(30, TimeUnit.SECONDS)) failure.set(new AssertionError("no lock within 30 s"));
                    else lock.unlock();
                } catch (Throwable t) {
                    failure.set(t);
                }
            });
            waitUntilQueued(lock.semaphore());
            killAndWait(c);
            assertTrue(waiter.join(Duration.ofSeconds(40)));
            assertNull(failure.get());
            assertTrue(lock.tryLock());
            lock.unlock();
        }
    }

    /**
     * Each of several holders in turn, the next starting after the previous died: the pidfd of a
     * participant that has exited must not hide the next one from the watch (it did: the second death
     * waited for the periodic check).
     */
    @Test
    void eachOfSuccessiveHoldersDeathsWakesAWaiterAsAnEventNotThroughThePeriodicCheck() throws Exception {
        String name = name("event");
        String before = System.getProperty("eventfd.sync.recoveryMillis");
        System.setProperty("eventfd.sync.recoveryMillis", "600000");   // the periodic check out of reach from its next wake on
        try (EventFdLock lock = EventFdLock.open(name)) {
            for (int round = 1; round <= 3; round++) {
                Handle c = child("holder" + round);
                assertEquals("1", c.call("open-lock " + name));
                c.call("acquire " + name + " 1");
                AtomicLong acquiredAt = new AtomicLong();
                Thread waiter = Thread.ofVirtual().start(() -> {
                    lock.lock();
                    acquiredAt.set(System.nanoTime());
                    lock.unlock();
                });
                waitUntilQueued(lock.semaphore());
                long holderPid = c.pid();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!ProcFs.watchesExitOf(holderPid)) {        // the event path, not a dying participant's scan
                    assertTrue(System.nanoTime() < deadline, "round " + round + ": the holder's exit was never watched");
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(2));   // a polling pause between reads of /proc
                }
                long killedAt = System.nanoTime();
                killAndWait(c);
                assertTrue(waiter.join(Duration.ofSeconds(30)), "round " + round + ": the death was not noticed");
                long millis = TimeUnit.NANOSECONDS.toMillis(acquiredAt.get() - killedAt);
                System.out.println("lock recovery after SIGKILL (kill, reap, wake), holder " + round + ": " + millis + " ms");
            }
        } finally {
            if (before == null) System.clearProperty("eventfd.sync.recoveryMillis");
            else System.setProperty("eventfd.sync.recoveryMillis", before);
        }
    }

    @Test
    void theNextLockHolderIsToldThatThePreviousOneDiedHoldingItAndOnlyThatOne() throws Exception {
        String name = name("ownerdead");
        try (EventFdLock lock = EventFdLock.open(name)) {
            Handle c = child("holder");
            assertEquals("1", c.call("open-lock " + name));
            assertEquals("false", c.call("lock " + name), "nobody held it before");
            killAndWait(c);
            assertTrue(lockAndAskWhetherThePreviousHolderDied(lock), "the first holder after the death is told");
            Handle d = child("next");
            assertEquals("1", d.call("open-lock " + name));
            assertEquals("false", d.call("lock " + name), "the death was told once, to the first holder after it");
            d.call("unlock " + name);
            d.call("close " + name);
            assertFalse(lockAndAskWhetherThePreviousHolderDied(lock), "a holder that unlocked and left did not die holding it");
        }
    }

    @Test
    void aProcessThatDiesNotHoldingTheLockIsNotReportedAsItsDeadHolder() throws Exception {
        String name = name("notowner");
        try (EventFdLock lock = EventFdLock.open(name)) {
            Handle c = child("idle");
            assertEquals("1", c.call("open-lock " + name));
            assertEquals("false", c.call("lock " + name));
            c.call("unlock " + name);
            killAndWait(c);                                  // it held the name open, not the lock
            assertFalse(lockAndAskWhetherThePreviousHolderDied(lock));
        }
    }

    @Test
    void holdersListEachProcessWithItsPermitsSinceWhenAndItsWaiters() throws Exception {
        String name = name("holders");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            assertEquals(java.util.List.of(), s.holders(), "nobody holds or waits");
            java.time.Instant before = java.time.Instant.now().minusSeconds(1);
            Handle c = child("holder");
            assertEquals("3", c.call("open-sem " + name + " 9"));
            c.call("acquire " + name + " 2");
            s.acquire();
            c.send("wait-async " + name + " 1");            // one of its threads waits for 1 more
            long deadline = System.nanoTime() + PATIENCE.toNanos();
            java.util.List<EventFdSemaphore.Holder> h;
            while ((h = s.holders()).stream().noneMatch(x -> x.pid() == c.pid() && x.waiting() == 1)) {
                assertTrue(System.nanoTime() < deadline, "the child's waiter never showed: " + h);
                LockSupport.parkNanos(5_000_000);
            }
            EventFdSemaphore.Holder child = h.stream().filter(x -> x.pid() == c.pid()).findFirst().orElseThrow();
            EventFdSemaphore.Holder self = h.stream().filter(x -> x.pid() == ProcessHandle.current().pid()).findFirst().orElseThrow();
            assertEquals(2, h.size(), h::toString);
            assertEquals(2, child.permits());
            assertEquals(1, self.permits());
            assertEquals(0, self.waiting());
            assertTrue(child.since().isAfter(before) && !child.since().isAfter(java.time.Instant.now()), child::toString);
            s.release();
            assertEquals("EVENT acquired " + name, c.expect(PATIENCE, "EVENT acquired"), c::transcript);
            h = s.holders();
            assertEquals(java.util.List.of(new EventFdSemaphore.Holder(c.pid(), 3, 0, child.since())), h,
                    "the child holds all 3, since it first took some; this process neither holds nor waits");
        }
    }

    @Test
    void theKernelCounterStoreHasNoDescriptorsToHandOutOnlyWhenAsked() {
        String name = name("descriptors");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, s::permitsDescriptor);
            assertTrue(e.getMessage().contains("KERNEL_COUNTER"), e.getMessage());
            IllegalStateException other = assertThrows(IllegalStateException.class,
                    () -> EventFdSemaphore.open(name, 1, false, EventFdSemaphore.Store.KERNEL_COUNTER));
            assertTrue(other.getMessage().contains("shared-memory store"), other.getMessage());
        }
    }

    private static void waitUntilQueued(EventFdSemaphore s) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (!s.hasQueuedThreads()) {
            assertTrue(System.nanoTime() < deadline, "the waiter never queued");
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
    }
}
