package dev.eventfd.sync;

import dev.eventfd.sync.internal.Native;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What EventFdLatch adds to the CountDownLatch contract: its descriptors, their protocol, closing. */
@Timeout(60)
class EventFdLatchTest {

    private static void awaitWaiting(Thread... threads) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (Thread t : threads) {
            while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
                if (System.nanoTime() - deadline > 0) throw new AssertionError(t + " never parked");
                Thread.onSpinWait();
            }
        }
    }

    @Test
    void theCountIsTheCountDescriptorAndTheGateOpensAtZero() {
        try (EventFdLatch latch = new EventFdLatch(2)) {
            assertFalse(Native.isReadable(latch.gateDescriptor()));
            latch.countDown();
            assertEquals(1, latch.getCount());
            assertFalse(Native.isReadable(latch.gateDescriptor()));
            latch.countDown();
            assertEquals(0, Native.readCounter(latch.countDescriptor()), "count at zero reads as EAGAIN");
            assertTrue(Native.isReadable(latch.gateDescriptor()), "the gate is open for good");
            assertTrue(Native.isReadable(latch.gateDescriptor()), "watching the gate does not consume it");
        }
    }

    /** A peer that died between its last read and the gate write leaves the gate shut at count 0. */
    @Test
    void aGateLeftShutAtZeroIsRepairedByAwaitAndByCountDown() throws Exception {
        try (EventFdLatch latch = new EventFdLatch(1)) {
            assertEquals(1, Native.readCounter(latch.countDescriptor()));   // the peer's read, no gate write
            assertEquals(0, latch.getCount());
            assertTrue(latch.await(0, TimeUnit.SECONDS), "await sees the count at zero");
            assertTrue(Native.isReadable(latch.gateDescriptor()));
        }
        try (EventFdLatch latch = new EventFdLatch(1)) {
            assertEquals(1, Native.readCounter(latch.countDescriptor()));
            latch.countDown();                                           // at zero: repairs the gate
            assertTrue(Native.isReadable(latch.gateDescriptor()));
        }
    }

    @ParameterizedTest(name = "virtual={0}")
    @ValueSource(booleans = {false, true})
    void closeWakesWaitersWithClosedException(boolean virtual) throws Exception {
        EventFdLatch latch = new EventFdLatch(1);
        AtomicReference<Throwable> untimed = new AtomicReference<>();
        AtomicReference<Throwable> timed = new AtomicReference<>();
        Thread.Builder builder = virtual ? Thread.ofVirtual() : Thread.ofPlatform();
        Thread a = builder.start(() -> untimed.set(catching(latch::await)));
        Thread b = builder.start(() -> timed.set(catching(() -> latch.await(1, TimeUnit.HOURS))));
        awaitWaiting(a, b);
        latch.close();
        for (Thread t : new Thread[] {a, b}) {
            t.join(TimeUnit.SECONDS.toMillis(20));
            assertFalse(t.isAlive());
        }
        assertInstanceOf(ClosedException.class, untimed.get());
        assertInstanceOf(ClosedException.class, timed.get());
    }

    @Test
    void useAfterCloseFailsAndCloseIsIdempotent() {
        EventFdLatch latch = new EventFdLatch(3);
        latch.close();
        latch.close();
        assertTrue(latch.isClosed());
        assertThrows(ClosedException.class, latch::countDown);
        assertThrows(ClosedException.class, latch::await);
        assertThrows(ClosedException.class, latch::getCount);
        assertThrows(ClosedException.class, latch::countDescriptor);
        assertTrue(latch.toString().endsWith("[closed]"), latch.toString());
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
