package dev.eventfd.sync;

import dev.eventfd.sync.internal.Native;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression tests for the defects of issue 11: close() racing every kind of acquirer, abandoned
 * semaphores with a pending poller watch, and one busy semaphore delaying another's wake-up.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EventFdSemaphoreHardeningTest extends NamedObjectsTest {

    private static void waitUntil(String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            Thread.onSpinWait();
        }
    }

    /**
     * One race: {@code waiters} virtual threads in acquire(), two platform threads looping a barging
     * tryAcquire(n), then close(). Returns the permits that acquirers hold afterwards.
     */
    private static int raceClose(EventFdSemaphore s, int waiters, int n) throws InterruptedException {
        AtomicInteger held = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    s.acquire();
                    held.incrementAndGet();
                } catch (ClosedException | InterruptedException expected) {
                    // woken by close
                }
            }));
        }
        CountDownLatch looping = new CountDownLatch(2);
        for (int i = 0; i < 2; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                looping.countDown();
                try {
                    for (;;) {
                        if (s.tryAcquire(n)) held.addAndGet(n);
                        Thread.yield();    // two cores: leave the waiters room to queue
                    }
                } catch (ClosedException expected) {
                    // closed
                }
            }));
        }
        waitUntil("the waiters queued", () -> s.isClosed() || s.getQueueLength() >= waiters - 3);
        looping.await();
        s.close();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(20));
            if (t.isAlive()) throw new AssertionError("an acquirer did not wake after close(): " + t);
        }
        return held.get();
    }

    /** BUG: close() released Integer.MAX_VALUE/2 fake permits that barging tryAcquire() took. */
    @ParameterizedTest
    @ValueSource(ints = {0, 3})
    void closeRacingBargersNeverGrantsMorePermitsThanExist(int permits) throws Exception {
        for (int round = 0; round < 200; round++) {
            EventFdSemaphore s = new EventFdSemaphore(permits);
            int held = raceClose(s, 20, 1);
            assertTrue(held <= permits, "round " + round + ": " + held + " permits held of " + permits);
        }
    }

    /**
     * BUG: with a named semaphore, close() racing barging acquirers created permits for the surviving
     * participant (and a multi-permit barger racing close() lost the turnstile and permits). Here
     * the survivor must see exactly the permits that exist, and a free turnstile: on the kernel
     * counter, those nobody holds (what the closing JVM's threads hold stays taken); on the shared
     * memory store, all of them (closing returns what the process held, as its death would).
     */
    @ParameterizedTest
    @CsvSource({"1, KERNEL_COUNTER", "2, KERNEL_COUNTER", "1, SHARED_MEMORY", "2, SHARED_MEMORY"})
    void closeRacingBargersOnANamedSemaphoreCreatesAndLosesNothing(int n, EventFdSemaphore.Store store) throws Exception {
        String name = "race-" + n + "-" + UUID.randomUUID().toString().substring(0, 8);
        try (EventFdSemaphore survivor = EventFdSemaphore.open(name, 3, false, store)) {
            for (int round = 0; round < 40; round++) {
                EventFdSemaphore closing = EventFdSemaphore.open(name, 3, false, store);
                int held = raceClose(closing, 10, n);
                assertTrue(held <= 3, "round " + round + ": " + held + " held");
                int stillTaken = store == EventFdSemaphore.Store.KERNEL_COUNTER ? held : 0;
                assertEquals(3 - stillTaken, survivor.availablePermits(),
                        "round " + round + ": the survivor sees the permits that exist (" + held + " held at close)");
                assertTrue(survivor.tryAcquire(3 - stillTaken), "round " + round + ": turnstile free, permits there");
                survivor.release(3);                 // the next round starts with 3 again
            }
        }
    }

    /**
     * The cached acquire and release of a named semaphore run outside the close gate. Threads that
     * acquire and release one permit each in a loop (no one waits, so every step after the first
     * stays in the process's cache) race close(): afterwards every permit is back for the survivor,
     * none created, none lost, whatever each thread held or had cached at that instant; and no
     * acquire or release that began after close() returned succeeds.
     */
    @Test
    void closeRacingCachedAcquiresAndReleasesOnANamedSemaphoreCreatesAndLosesNothing() throws Exception {
        String name = "cached-race-" + UUID.randomUUID().toString().substring(0, 8);
        try (EventFdSemaphore survivor = EventFdSemaphore.open(name, 3, false, EventFdSemaphore.Store.SHARED_MEMORY)) {
            for (int round = 0; round < 40; round++) {
                EventFdSemaphore closing = EventFdSemaphore.open(name, 3, false, EventFdSemaphore.Store.SHARED_MEMORY);
                AtomicInteger pairs = new AtomicInteger(), afterClose = new AtomicInteger();
                AtomicBoolean closed = new AtomicBoolean();
                List<Thread> threads = new ArrayList<>();
                List<Throwable> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
                for (int i = 0; i < 3; i++) {                // as many as permits: nobody waits
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            for (;;) {
                                boolean late = closed.get();     // close() had returned before this acquire began
                                closing.acquire();
                                if (late) afterClose.incrementAndGet();
                                late = closed.get();
                                closing.release();
                                if (late) afterClose.incrementAndGet();
                                pairs.incrementAndGet();
                            }
                        } catch (ClosedException expected) {
                            // closed
                        } catch (Throwable t) {
                            unexpected.add(t);
                        }
                    }));
                }
                waitUntil("the threads looping", () -> pairs.get() >= 1_000);
                closing.close();
                closed.set(true);
                for (Thread t : threads) {
                    t.join(TimeUnit.SECONDS.toMillis(20));
                    if (t.isAlive()) throw new AssertionError("round " + round + ": a thread did not end after close(): " + t);
                }
                assertEquals(List.of(), unexpected, "round " + round);
                assertEquals(0, afterClose.get(), "round " + round + ": acquires or releases begun after close() succeeded");
                assertEquals(3, survivor.availablePermits(), "round " + round + ": every permit back after " + pairs + " pairs");
                assertTrue(survivor.tryAcquire(3), "round " + round);
                survivor.release(3);
            }
        }
    }

    /** BUG: close() spun in a Thread.yield() loop forever when a waiter asked for more than MAX_VALUE/2. */
    @Test
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)   // fails even if close() never returns
    void closeWakesWaitersForHugeRequestsWithoutSpinning() throws Exception {
        EventFdSemaphore s = new EventFdSemaphore(0);
        List<AtomicReference<Throwable>> outcomes = new ArrayList<>();
        List<Thread> waiters = new ArrayList<>();
        for (int request : new int[] {1 << 30, Integer.MAX_VALUE, 1 << 30, 1}) {
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            outcomes.add(outcome);
            waiters.add(Thread.ofVirtual().start(() -> {
                try {
                    s.acquireUninterruptibly(request);
                } catch (Throwable t) {
                    outcome.set(t);
                }
            }));
        }
        waitUntil("4 waiters", () -> s.getQueueLength() == 4);
        long ticksBefore = threadCpuTicks();
        s.close();
        long ticks = threadCpuTicks() - ticksBefore;
        for (Thread t : waiters) assertTrue(t.join(java.time.Duration.ofSeconds(10)), "a waiter woke");
        for (AtomicReference<Throwable> o : outcomes) assertInstanceOf(ClosedException.class, o.get());
        assertTrue(ticks < 100, "close() used " + ticks + " clock ticks of CPU");
    }

    /** BUG: the poller's entry held the descriptor of an abandoned semaphore with a pending watch forever. */
    @Test
    void abandonedSemaphoresWithAPendingWatchGiveTheirDescriptorsBack() throws Exception {
        int before = openDescriptors();
        for (int i = 0; i < 200; i++) new EventFdSemaphore(-1);   // a debt: each watches its counter
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (openDescriptors() > before + 20) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError((openDescriptors() - before) + " descriptors still open after GC");
            }
            System.gc();
            Thread.sleep(20);              // gives the Cleaner thread time to run; the loop checks the result
        }
    }

    /** User and system CPU time of the calling platform thread, in clock ticks (1/100 s). */
    private static long threadCpuTicks() throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);  // fields 14 and 15: utime, stime
    }

    private static int openDescriptors() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    /**
     * BUG: poller callbacks ran the feed under the semaphore's lock on the poller thread: while one
     * semaphore drained a large count, a permit released to another one did not reach its waiter
     * until the drain ended.
     */
    @Test
    void aBusySemaphoreDoesNotDelayAnotherOnesWakeUp() throws Exception {
        int count = 5_000_000;
        try (EventFdSemaphore busy = new EventFdSemaphore(count); EventFdSemaphore other = new EventFdSemaphore(0)) {
            AtomicBoolean otherAcquired = new AtomicBoolean();
            Thread otherWaiter = Thread.ofVirtual().start(() -> {
                try {
                    other.acquire();
                    otherAcquired.set(true);
                } catch (InterruptedException | ClosedException e) {
                    // ends the test
                }
            });
            waitUntil("the other semaphore's waiter queued", () -> other.getQueueLength() == 1);
            // "another process" takes the busy semaphore's turnstile, so a multi-permit waiter there watches it
            assertEquals(1, Native.readCounter(busy.turnstileDescriptor()));
            Thread busyWaiter = Thread.ofVirtual().start(() -> {
                try {
                    busy.acquire(2);
                } catch (InterruptedException | ClosedException e) {
                    // ends the test
                }
            });
            waitUntil("the multi-permit waiter queued", () -> busy.getQueueLength() == 1);
            AtomicBoolean drained = new AtomicBoolean();
            Thread drainer = Thread.ofPlatform().start(() -> {
                busy.drainPermits();
                drained.set(true);
            });
            waitUntil("the drain started", () -> kernelCount(busy.permitsDescriptor()) < count - 10_000);
            assertTrue(Native.writeCounter(busy.turnstileDescriptor(), 1));   // fires the busy semaphore's watch
            assertTrue(Native.writeCounter(other.permitsDescriptor(), 1));    // a peer's release to the other one
            waitUntil("the other waiter acquired", otherAcquired::get);
            assertFalse(drained.get(), "the other semaphore's waiter was woken only after the drain had ended");
            drainer.join();
            busy.close();
            busyWaiter.join();
            otherWaiter.join();
        }
    }

    private static long kernelCount(int fd) {
        String info = ProcFs.fdinfo(fd).orElseThrow();
        return Long.parseUnsignedLong(ProcFs.field(info, "eventfd-count").orElseThrow().strip(), 16);
    }
}
