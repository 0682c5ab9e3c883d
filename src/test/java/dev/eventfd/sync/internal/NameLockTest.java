package dev.eventfd.sync.internal;

import dev.eventfd.sync.EventFdSemaphore;
import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.SocketDirectoryTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The name's lock file, which serializes joining, creating and leaving a name: how {@code open()}
 * waits for it.
 *
 * <p>Joining, creating and leaving are serialized by it: two threads that open and close one name in
 * a loop never see a participant half gone (an {@code open()} that fails because the participant it
 * asked closed meanwhile), and never see the name split (two objects of one name at once: both would
 * hand out the one permit).
 *
 * <p>The lock file goes when the name does: the last participant to leave removes it (as does an
 * {@code openExisting()} that finds nobody), so names leave nothing behind. A joiner that was
 * waiting for a lock file that is removed meanwhile locks a file nobody else will lock again: once it
 * has it, it sees that the directory no longer names it and starts again with the current one.
 *
 * <p>{@code open()} is not interruptible (it declares no InterruptedException): a thread interrupted
 * while it waits for the lock keeps waiting, parked rather than spinning, and returns with its
 * interrupt status still set.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NameLockTest extends SocketDirectoryTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);
    private static final AtomicLong NAMES = new AtomicLong();

    private static String name(String what) {
        return what + "-" + NAMES.incrementAndGet();
    }

    /** Takes the lock of semaphore {@code name} as another process would: flock on its lock file. */
    private static int holdLock(String name) {
        int fd = Native.openAt(Native.AT_FDCWD, lockFile(name).toString(), Native.O_RDONLY | Native.O_CREAT, 0600);
        assertTrue(Native.tryLockExclusive(fd), "the lock is free");
        return fd;
    }

    private static Path lockFile(String name) {
        return dir.resolve("semaphore." + name + ".lock");
    }

    /** Everything in the socket directory that belongs to semaphore {@code name}. */
    private static java.util.List<String> filesOf(String name) throws IOException {
        try (var all = Files.list(dir)) {
            return all.map(p -> p.getFileName().toString()).filter(f -> f.startsWith("semaphore." + name + "."))
                    .sorted().toList();
        }
    }

    /** Fields 3 on of /proc/self/task/TID/stat: the state, then the counters. */
    private static String[] stat(String tid) throws IOException {
        String stat = Files.readString(Path.of("/proc/self/task", tid, "stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    }

    /** The CPU time (user + system) the kernel has counted for a thread. */
    private static long cpuMillis(String tid) throws IOException {
        String[] f = stat(tid);
        return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10;   // utime, stime; USER_HZ is 100
    }

    @Test
    void anInterruptedOpenWaitsForTheLockWithoutSpinningAndReturnsWithItsInterruptStatusSet() throws Exception {
        String name = name("interrupted");
        EventFdSemaphore.open(name("warm-up"), 1).close();   // classes loaded, poller started
        AtomicReference<String> tid = new AtomicReference<>();
        int held = holdLock(name);
        CountDownLatch waiting = new CountDownLatch(1);
        AtomicInteger permits = new AtomicInteger(-1);
        AtomicReference<Boolean> interruptedOnReturn = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread opener = Thread.ofPlatform().name("interrupted opener").start(() -> {
            try {   // "<pid>/task/<tid>": the kernel's id of this thread, whose CPU time the test reads
                tid.set(Files.readSymbolicLink(Path.of("/proc/thread-self")).getFileName().toString());
            } catch (IOException e) {
                failure.set(e);
            }
            Thread.currentThread().interrupt();
            waiting.countDown();
            try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
                interruptedOnReturn.set(Thread.currentThread().isInterrupted());
                permits.set(s.availablePermits());
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        try {
            assertTrue(waiting.await(PATIENCE.toSeconds(), TimeUnit.SECONDS));
            assertNull(failure.get());
            long cpuBefore = cpuMillis(tid.get());
            long wallBefore = System.nanoTime();
            // A negative check: for this long the opener must stay blocked, and be asleep. A thread
            // that spins is always running or runnable (state R); on a loaded machine it may get
            // little CPU, so the samples of its state tell more than its CPU time does.
            int samples = 0;
            int asleep = 0;
            for (long end = wallBefore + TimeUnit.SECONDS.toNanos(3); System.nanoTime() - end < 0; samples++) {
                assertFalse(opener.join(Duration.ofMillis(15)), "open() returned while the name's lock was held");
                if (stat(tid.get())[0].equals("S")) asleep++;
            }
            long cpu = cpuMillis(tid.get()) - cpuBefore;
            long wall = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - wallBefore);
            String seen = "an interrupted open() waiting " + wall + " ms for the lock used " + cpu
                    + " ms of CPU and was asleep in " + asleep + " of " + samples + " samples";
            System.out.println(seen);
            assertTrue(asleep * 2 > samples && cpu * 2 < wall, seen + ": it spins instead of parking");
        } finally {
            Native.close(held);
        }
        assertTrue(opener.join(PATIENCE), "open() did not return once the lock was free");
        assertNull(failure.get(), () -> "open() failed: " + failure.get());
        assertEquals(3, permits.get(), "open() created the semaphore");
        assertEquals(Boolean.TRUE, interruptedOnReturn.get(), "open() must return with the interrupt status still set");
    }

    @Test
    void openAndCloseOfOneNameRacingInTwoThreadsNeverFailAndNeverSplitTheName() throws Exception {
        String name = name("race");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        AtomicInteger opens = new AtomicInteger();
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger split = new AtomicInteger();
        java.util.Queue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        Runnable loop = () -> {
            for (int i = 0; i < 3000 && System.nanoTime() - until < 0; i++) {
                try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
                    opens.incrementAndGet();
                    if (s.tryAcquire()) {
                        // while this one is open the name exists: nobody else can hold its one permit
                        if (holders.incrementAndGet() > 1) split.incrementAndGet();
                        holders.decrementAndGet();
                        s.release();
                    }
                } catch (Throwable t) {
                    failures.add(t);
                }
            }
        };
        Thread a = Thread.ofPlatform().name("racer a").start(loop);
        Thread b = Thread.ofPlatform().name("racer b").start(loop);
        assertTrue(a.join(PATIENCE) & b.join(PATIENCE), "the racers did not finish");
        assertTrue(opens.get() > 100, "only " + opens.get() + " opens");
        assertTrue(failures.isEmpty(), () -> failures.size() + " of " + (opens.get() + failures.size())
                + " opens failed, the first: " + failures.peek());
        assertEquals(0, split.get(), "two objects of one name held its one permit at once");
        assertEquals(java.util.List.of(), NamedParticipantChild.sockets(dir, "semaphore", name),
                "closed participants left sockets");
    }

    @Test
    void theLastParticipantToLeaveRemovesTheLockFileAndNamesLeaveNothingBehind() throws Exception {
        java.util.List<String> names = new java.util.ArrayList<>();
        for (int i = 0; i < 50; i++) {
            String name = name("many");
            names.add(name);
            EventFdSemaphore.open(name, 1).close();
        }
        for (String name : names) assertEquals(java.util.List.of(), filesOf(name), name);

        String name = name("two");
        EventFdSemaphore first = EventFdSemaphore.open(name, 2);
        try (EventFdSemaphore second = EventFdSemaphore.open(name, 9)) {
            assertEquals(2, second.availablePermits());
            first.close();
            assertTrue(Files.exists(lockFile(name)), "the lock file went while a participant was left");
        }
        assertEquals(java.util.List.of(), filesOf(name), "the last participant left files behind");

        String nobody = name("nobody");
        assertNull(EventFdSemaphore.openExisting(nobody));
        assertEquals(java.util.List.of(), filesOf(nobody), "openExisting() of an unused name left files behind");
    }

    @Test
    void aJoinerThatLockedALockFileRemovedMeanwhileStartsAgainWithTheCurrentOne() throws Exception {
        String name = name("removed");
        EventFdSemaphore.open(name("warm-up"), 1).close();
        int old = holdLock(name);                  // as a participant that is leaving holds it
        AtomicInteger permits = new AtomicInteger(-1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread joiner = Thread.ofPlatform().name("joiner").start(() -> {
            try (EventFdSemaphore s = EventFdSemaphore.open(name, 4)) {
                permits.set(s.availablePermits());
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        int current = -1;
        try {
            assertFalse(joiner.join(Duration.ofMillis(300)), "open() did not wait for the held lock");
            // the leaving participant removes the file while it holds it; someone else makes a new
            // one at once and holds that: the waiting joiner must not take the old one for the lock
            Native.unlink(lockFile(name).toString());
            current = holdLock(name);
            Native.close(old);
            old = -1;
            // a negative check: for 3 s the joiner must neither return nor start serving
            for (long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3); System.nanoTime() - end < 0; ) {
                assertFalse(joiner.join(Duration.ofMillis(50)) || !NamedParticipantChild.sockets(dir, "semaphore", name).isEmpty(),
                        "open() went ahead holding a lock file that was no longer the name's");
            }
        } finally {
            if (old >= 0) Native.close(old);
            if (current >= 0) Native.close(current);
        }
        assertTrue(joiner.join(PATIENCE), "open() did not return once the current lock was free");
        assertNull(failure.get(), () -> "open() failed: " + failure.get());
        assertEquals(4, permits.get());
        assertEquals(java.util.List.of(), filesOf(name));
    }
}
