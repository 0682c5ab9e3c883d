package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The library's JFR events, recorded with their default settings and read back from the file: a wait
 * past the threshold (20 ms), the permits of a holder killed with SIGKILL recovered, and the name
 * joined. An acquire that does not wait records nothing, whatever the threshold.
 */
class JfrEventsTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    @Timeout(120)
    void aLongWaitAndTheRecoveryOfAKilledHoldersPermitsAreRecorded(@TempDir Path tmp) throws Exception {
        String name = name("jfr");
        Handle holder = child("holder");
        assertEquals("1", holder.call("open-sem " + name + " 1"));
        holder.call("acquire " + name + " 1");
        Path file = tmp.resolve("events.jfr");
        long waitStarted;
        try (Recording recording = new Recording()) {
            recording.enable("dev.eventfd.sync.Wait");            // its default threshold: 20 ms
            recording.enable("dev.eventfd.sync.PermitsRecovered");
            recording.enable("dev.eventfd.sync.NamedOpen");
            recording.start();
            try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
                assertFalse(s.tryAcquire(), "the holder has the permit");   // no wait: nothing recorded (checked below)
                AtomicLong started = new AtomicLong();
                Thread waiter = Thread.ofVirtual().start(() -> {
                    started.set(System.nanoTime());
                    s.acquireUninterruptibly();
                });
                while (!s.hasQueuedThreads()) LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                waitStarted = started.get();
                // past the threshold before the holder dies: the wait is then at least this long
                while (System.nanoTime() - waitStarted < TimeUnit.MILLISECONDS.toNanos(30)) {
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
                }
                holder.kill();
                holder.waitFor(PATIENCE);
                assertTrue(waiter.join(PATIENCE), "the waiter got the dead holder's permit");
                s.release();
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file);
        List<RecordedEvent> waits = of(events, "dev.eventfd.sync.Wait");
        assertEquals(1, waits.size(), () -> "one wait, the long one: " + waits);
        RecordedEvent wait = waits.getFirst();
        assertEquals("semaphore", wait.getString("objectKind"));
        assertEquals(name, wait.getString("name"));
        assertEquals(1, wait.getLong("permits"));
        assertEquals("acquired", wait.getString("outcome"));
        assertTrue(wait.getDuration().compareTo(Duration.ofMillis(30)) >= 0, () -> "it waited past the kill: " + wait.getDuration());
        assertTrue(wait.getStackTrace() != null && !wait.getStackTrace().getFrames().isEmpty(), "with the waiter's stack");

        List<RecordedEvent> recovered = of(events, "dev.eventfd.sync.PermitsRecovered");
        assertEquals(1, recovered.size(), () -> "one death, recorded once: " + recovered);
        RecordedEvent r = recovered.getFirst();
        assertEquals(name, r.getString("name"));
        assertEquals(holder.pid(), r.getLong("pid"));
        assertEquals(1, r.getLong("permits"));
        assertTrue(r.getLong("pidNamespace") != 0, "the namespace is known here");

        List<RecordedEvent> opened = of(events, "dev.eventfd.sync.NamedOpen");
        assertEquals(1, opened.size(), () -> "" + opened);
        assertEquals(name, opened.getFirst().getString("name"));
        assertFalse(opened.getFirst().getBoolean("created"), "the holder created it; this process joined");
        assertTrue(opened.getFirst().getString("objectKind").contains("shared-memory"), opened.getFirst()::toString);
    }

    @Test
    @Timeout(60)
    void aLatchWaitAndALockWaitAreRecordedAsSuch(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("events.jfr");
        try (Recording recording = new Recording()) {
            recording.enable("dev.eventfd.sync.Wait").withThreshold(Duration.ZERO);
            recording.start();
            try (EventFdLatch latch = new EventFdLatch(1); EventFdLock lock = new EventFdLock();
                 EventFdSemaphore free = new EventFdSemaphore(1)) {
                free.acquire();                                    // no wait: no event, even at threshold 0
                free.release();
                Thread waiter = Thread.ofVirtual().start(() -> {
                    try {
                        assertFalse(latch.await(1, TimeUnit.MILLISECONDS));
                    } catch (InterruptedException e) {
                        throw new AssertionError(e);
                    }
                });
                assertTrue(waiter.join(PATIENCE));
                lock.lock();
                Thread locker = Thread.ofVirtual().start(() -> {
                    lock.lock();
                    lock.unlock();
                });
                while (!lock.semaphore().hasQueuedThreads()) LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
                lock.unlock();
                assertTrue(locker.join(PATIENCE));
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> waits = of(RecordingFile.readAllEvents(file), "dev.eventfd.sync.Wait");
        assertEquals(2, waits.size(), () -> "the latch's wait and the lock's, nothing for the uncontended acquire: " + waits);
        assertTrue(waits.stream().anyMatch(e -> e.getString("objectKind").equals("latch") && e.getString("outcome").equals("timed out")
                && e.getString("name").isEmpty() && e.getLong("permits") == 0), () -> "the latch's wait: " + waits);
        assertTrue(waits.stream().anyMatch(e -> e.getString("objectKind").equals("lock") && e.getString("outcome").equals("acquired")
                && e.getLong("permits") == 1), () -> "the lock's wait: " + waits);
    }

    @Test
    @Timeout(60)
    void aDeserializedSemaphoreRecordsItsWaitsAsASemaphoresToo(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("events.jfr");
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (EventFdSemaphore original = new EventFdSemaphore(0);
             java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(original);
        }
        try (Recording recording = new Recording();
             java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()));
             EventFdSemaphore copy = (EventFdSemaphore) in.readObject()) {
            recording.enable("dev.eventfd.sync.Wait").withThreshold(Duration.ZERO);
            recording.start();
            assertFalse(copy.tryAcquire(1, TimeUnit.MILLISECONDS), "no permit: it waits and times out");
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> waits = of(RecordingFile.readAllEvents(file), "dev.eventfd.sync.Wait");
        assertEquals(1, waits.size(), () -> "" + waits);
        assertEquals("semaphore", waits.getFirst().getString("objectKind"));
        assertEquals("timed out", waits.getFirst().getString("outcome"));
    }

    private static List<RecordedEvent> of(List<RecordedEvent> events, String type) {
        return events.stream().filter(e -> e.getEventType().getName().equals(type)).toList();
    }
}
