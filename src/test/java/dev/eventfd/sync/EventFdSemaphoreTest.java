package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Native;
import dev.eventfd.sync.internal.Poller;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What EventFdSemaphore adds to the Semaphore contract: the kernel counter, closing, the poller. */
@Timeout(60)
class EventFdSemaphoreTest {

    private static Thread start(boolean virtual, Runnable body) {
        return virtual ? Thread.ofVirtual().start(body) : Thread.ofPlatform().start(body);
    }

    private static void awaitQueued(EventFdSemaphore s, int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (s.getQueueLength() < n) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("waiters never queued: " + s);
            Thread.onSpinWait();
        }
    }

    @Test
    void permitsAreTheKernelCounter() {
        try (EventFdSemaphore s = new EventFdSemaphore(3)) {
            int fd = s.permitsDescriptor();
            assertEquals(1, Native.readCounter(fd), "a read takes one permit (EFD_SEMAPHORE)");
            assertEquals(2, s.availablePermits());
            assertTrue(Native.writeCounter(fd, 5));
            assertEquals(7, s.availablePermits());
            assertTrue(s.tryAcquire(7));
            assertEquals(0, Native.readCounter(fd), "empty counter reads as EAGAIN");
            s.release(2);
            assertEquals(1, Native.readCounter(fd));
            assertEquals(1, Native.readCounter(fd));
        }
    }

    @Test
    void aPermitFromOutsideTheJvmWakesAWaiterThroughThePoller() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(0)) {
            CompletableFuture<Void> acquired = CompletableFuture.runAsync(s::acquireUninterruptibly,
                    r -> Thread.ofVirtual().start(r));
            awaitQueued(s, 1);
            assertTrue(Native.writeCounter(s.permitsDescriptor(), 1));   // as another process would
            acquired.get(20, TimeUnit.SECONDS);
            assertEquals(0, s.availablePermits());
            assertFalse(s.hasQueuedThreads());
        }
    }

    /** A release in this JVM hands the permit over itself: it works while the poller thread is stuck. */
    @Test
    void localReleaseWakesAWaiterWithoutThePoller() throws Exception {
        CountDownLatch unblockPoller = new CountDownLatch(1);
        CountDownLatch pollerStuck = new CountDownLatch(1);
        try (EventFd trigger = EventFd.create(0, true, "test");
             EventFdSemaphore s = new EventFdSemaphore(0)) {
            Poller.shared().register(trigger, outcome -> {
                pollerStuck.countDown();
                try {
                    unblockPoller.await();                // hold the poller thread hostage
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            trigger.tryWrite(1);
            assertTrue(pollerStuck.await(20, TimeUnit.SECONDS));
            try {
                Thread waiter = start(true, s::acquireUninterruptibly);
                awaitQueued(s, 1);
                s.release();
                waiter.join(TimeUnit.SECONDS.toMillis(20));
                assertFalse(waiter.isAlive(), "the waiter needed the poller thread");
            } finally {
                unblockPoller.countDown();
            }
        }
    }

    @ParameterizedTest(name = "virtual={0}")
    @ValueSource(booleans = {false, true})
    void closeWakesWaitersWithClosedException(boolean virtual) throws Exception {
        EventFdSemaphore s = new EventFdSemaphore(0, true);
        AtomicReference<Throwable> single = new AtomicReference<>();
        AtomicReference<Throwable> multi = new AtomicReference<>();
        AtomicReference<Throwable> timed = new AtomicReference<>();
        Thread a = start(virtual, () -> single.set(catching(s::acquire)));
        Thread b = start(virtual, () -> multi.set(catching(() -> s.acquire(3))));
        Thread c = start(virtual, () -> timed.set(catching(() -> s.tryAcquire(1, 1, TimeUnit.HOURS))));
        awaitQueued(s, 3);
        s.close();
        for (Thread t : new Thread[] {a, b, c}) {
            t.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(t.isAlive());
        }
        assertInstanceOf(ClosedException.class, single.get());
        assertInstanceOf(ClosedException.class, multi.get());
        assertInstanceOf(ClosedException.class, timed.get());
        assertTrue(single.get().getMessage().endsWith("is closed"), single.get().getMessage());
    }

    @Test
    void useAfterCloseFailsAndCloseIsIdempotent() {
        EventFdSemaphore s = new EventFdSemaphore(2);
        int fd = s.permitsDescriptor();
        s.close();
        s.close();
        assertTrue(s.isClosed());
        assertThrows(ClosedException.class, s::tryAcquire);
        assertThrows(ClosedException.class, s::acquire);
        assertThrows(ClosedException.class, s::release);
        assertThrows(ClosedException.class, s::availablePermits);
        assertThrows(ClosedException.class, s::drainPermits);
        assertThrows(ClosedException.class, s::permitsDescriptor);
        assertTrue(s.toString().endsWith("[closed]"), s.toString());
        assertFalse(isEventFd(fd), "descriptor " + fd + " still open after close");
    }

    @Test
    void anUnclosedSemaphoreGivesItsDescriptorsBack() throws Exception {
        int fd = abandonedSemaphoreDescriptor();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (isEventFd(fd) && System.nanoTime() - deadline < 0) {
            System.gc();
            Thread.sleep(10);   // give the Cleaner thread a turn; the loop condition is the real check
        }
        assertFalse(isEventFd(fd), "the Cleaner did not close descriptor " + fd);
    }

    private static int abandonedSemaphoreDescriptor() {
        EventFdSemaphore s = new EventFdSemaphore(42);   // never closed
        return s.permitsDescriptor();
    }

    /** Whether fd is still an eventfd holding 42 (the abandoned semaphore's count). */
    private static boolean isEventFd(int fd) {
        try {
            String info = Files.readString(Path.of("/proc/self/fdinfo/" + fd));
            return info.contains("eventfd-count:") && info.matches("(?s).*eventfd-count:\\s*2a\\s.*");
        } catch (java.io.IOException gone) {
            return false;
        }
    }

    @Test
    void aPeerPushingTheCounterPastIntMaxIsReportedAsIntMax() {
        try (EventFdSemaphore s = new EventFdSemaphore(Integer.MAX_VALUE)) {
            assertTrue(Native.writeCounter(s.permitsDescriptor(), 10));
            assertEquals(Integer.MAX_VALUE, s.availablePermits());
            Error e = assertThrows(Error.class, s::release);
            assertEquals("Maximum permit count exceeded", e.getMessage());
            assertTrue(s.tryAcquire());
        }
    }

    @Test
    void aDeficitIsPaidByPermitsFromOutsideTheJvm() {
        try (EventFdSemaphore s = new EventFdSemaphore(-2)) {
            assertTrue(Native.writeCounter(s.permitsDescriptor(), 2));
            assertEquals(0, s.availablePermits());
            assertFalse(s.tryAcquire(), "the peer's permits pay the deficit first");
            assertEquals(0, Native.readCounter(s.permitsDescriptor()), "a peer cannot acquire while in deficit");
            assertTrue(Native.writeCounter(s.permitsDescriptor(), 1));
            assertTrue(s.tryAcquire());
        }
    }

    /** While another process holds the turnstile, this JVM does not gather several permits. */
    @Test
    void multiPermitAcquireWaitsForTheTurnstileHeldElsewhere() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(5)) {
            int turnstile = s.turnstileDescriptor();
            assertEquals(1, Native.readCounter(turnstile), "take the turnstile as another process would");
            assertFalse(s.tryAcquire(2), "gathering while another process gathers");
            assertTrue(s.tryAcquire(), "single permits need no turnstile");
            Thread waiter = start(true, () -> s.acquireUninterruptibly(3));
            awaitQueued(s, 1);
            assertEquals(4, s.availablePermits(), "a waiter without the turnstile holds nothing back");
            assertTrue(Native.writeCounter(turnstile, 1), "give the turnstile back");
            waiter.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(waiter.isAlive());
            assertEquals(1, s.availablePermits());
            assertEquals(1, Native.readCounter(turnstile), "the turnstile is free again");
            assertTrue(Native.writeCounter(turnstile, 1));
        }
    }

    @Test
    void deserializedCopyHasItsOwnDescriptors() throws Exception {
        try (EventFdSemaphore s = new EventFdSemaphore(3, true)) {
            var bytes = new java.io.ByteArrayOutputStream();
            try (var out = new java.io.ObjectOutputStream(bytes)) {
                out.writeObject(s);
            }
            try (var in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()));
                 EventFdSemaphore copy = (EventFdSemaphore) in.readObject()) {
                assertTrue(copy.isFair());
                assertEquals(3, copy.availablePermits());
                assertTrue(copy.permitsDescriptor() != s.permitsDescriptor());
            }
        }
    }

    private interface Body {
        void run() throws Exception;
    }

    private static Throwable catching(Body body) {
        try {
            body.run();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
