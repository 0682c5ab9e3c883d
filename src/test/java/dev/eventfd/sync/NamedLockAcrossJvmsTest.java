package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A named lock (and the same thing as a named one-permit semaphore) excludes across JVMs: four child
 * JVMs and this one each increment an int kept in a shared file 500 times, read-then-write with plain
 * file I/O and nothing but the named object to exclude each other. Any overlap of two critical sections
 * loses an increment, so the final value is exactly 2500 only if the exclusion held every time. The
 * children are started first, each opens the name and then waits on a named start latch, so all five
 * processes contend from the moment the test counts the latch down. Afterwards the single permit is
 * back.
 *
 * <p>Also: a second test with {@code acquire(3)/release(3)} on a named semaphore of 4 permits in two
 * children and here (two gatherers can never both be satisfied, so this exercises the turnstile across
 * processes): everyone finishes and the 4 permits are back.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NamedLockAcrossJvmsTest extends NamedObjectsTest {

    private static final int CHILDREN = 4;
    private static final int ITERATIONS = 500;
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    private static String unique(TestInfo info, String what) {
        return what + "-" + info.getTestMethod().orElseThrow().getName().hashCode() % 10000 + "-" + System.nanoTime() % 100000;
    }

    private static Path counterFile() throws Exception {
        Path f = Files.createTempFile(dir, "counter", ".bin");
        Files.write(f, new byte[4]);
        return f;
    }

    private static int readCounter(Path f) throws Exception {
        return ByteBuffer.wrap(Files.readAllBytes(f)).getInt();
    }

    @Test
    void namedLockExcludesFourChildJvmsAndThisOne(TestInfo info) throws Exception {
        String name = unique(info, "lock");
        String start = unique(info, "start");
        Path file = counterFile();
        try (EventFdLock lock = EventFdLock.open(name); EventFdLatch go = EventFdLatch.open(start, 1)) {
            assertEquals(1, lock.semaphore().availablePermits());
            runContended(go, start, "counter lock " + name + " " + start + " " + file + " " + ITERATIONS,
                    h -> h.call("open-lock " + name), ch -> {
                        lock.lock();
                        try {
                            NamedParticipantChild.increment(ch);
                        } finally {
                            lock.unlock();
                        }
                    }, file);
            assertEquals((CHILDREN + 1) * ITERATIONS, readCounter(file), "lost increments: the exclusion failed");
            assertEquals(1, lock.semaphore().availablePermits(), "the lock's permit is not back");
            for (Handle c : children) assertEquals("1", c.call("permits " + name), c + " sees another count");
        }
    }

    @Test
    void namedOnePermitSemaphoreExcludesFourChildJvmsAndThisOne(TestInfo info) throws Exception {
        String name = unique(info, "sem");
        String start = unique(info, "start");
        Path file = counterFile();
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 1); EventFdLatch go = EventFdLatch.open(start, 1)) {
            assertEquals(1, s.availablePermits());
            runContended(go, start, "counter sem " + name + " " + start + " " + file + " " + ITERATIONS,
                    h -> assertEquals("1", h.call("open-sem " + name + " 1")), ch -> {
                        s.acquire();
                        try {
                            NamedParticipantChild.increment(ch);
                        } finally {
                            s.release();
                        }
                    }, file);
            assertEquals((CHILDREN + 1) * ITERATIONS, readCounter(file), "lost increments: the exclusion failed");
            assertEquals(1, s.availablePermits(), "the permit is not back");
            for (Handle c : children) assertEquals("1", c.call("permits " + name), c + " sees another count");
        }
    }

    @Test
    void multiPermitAcquiresAcrossThreeJvmsNeverDeadlock(TestInfo info) throws Exception {
        String name = unique(info, "multi");
        String start = unique(info, "start");
        int rounds = 200;
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 4); EventFdLatch go = EventFdLatch.open(start, 1)) {
            List<Handle> workers = new ArrayList<>();
            for (int i = 0; i < 2; i++) workers.add(child("multi-" + i));
            for (Handle w : workers) {
                assertEquals("4", w.call("open-sem " + name + " 4"), "a child did not join the 4-permit semaphore");
                w.call("open-latch " + start + " 1");
                w.send("multi " + name + " " + start + " " + rounds + " 3");
            }
            for (Handle w : workers) w.expect(PATIENCE, "EVENT ready");
            go.countDown();
            for (int i = 0; i < rounds; i++) {
                s.acquire(3);
                s.release(3);
            }
            for (Handle w : workers) {
                String done = w.expect(PATIENCE, "OK multi", "ERR multi");
                assertEquals("OK multi " + rounds, done, () -> w + " failed:\n" + w.transcript());
            }
            assertEquals(4, s.availablePermits(), "permits are not back to 4");
            for (Handle w : workers) assertEquals("4", w.call("permits " + name));
        }
    }

    interface Step<T> {
        void run(T t) throws Exception;
    }

    /**
     * Starts the children, has each open the object ({@code open}) and the start latch and begin
     * {@code command} (which waits on the latch), waits until all are ready, counts the latch down and
     * runs {@code ITERATIONS} of {@code critical} here at the same time; then checks every child did its
     * share.
     */
    private void runContended(EventFdLatch go, String start, String command, Step<Handle> open,
                              Step<FileChannel> critical, Path file) throws Exception {
        for (int i = 0; i < CHILDREN; i++) child("counter-" + i);
        for (Handle c : children) {           // started together; now open and get ready, each in turn
            open.run(c);
            assertEquals("1", c.call("open-latch " + start + " 1"), c + " did not join the start latch");
            c.send(command);
        }
        for (Handle c : children) c.expect(PATIENCE, "EVENT ready");
        go.countDown();
        CompletableFuture<Void> mine = CompletableFuture.runAsync(() -> {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                for (int i = 0; i < ITERATIONS; i++) critical.run(ch);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, r -> Thread.ofPlatform().name("parent-counter").start(r));
        mine.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        for (Handle c : children) {
            String done = c.expect(PATIENCE, "OK counter", "ERR counter");
            assertEquals("OK counter " + ITERATIONS, done, () -> c + " failed:\n" + c.transcript());
        }
    }
}
