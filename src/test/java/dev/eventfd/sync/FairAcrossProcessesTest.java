package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fair named semaphores are FIFO across processes: child JVMs that began to wait one after the other
 * (each seen waiting before the next started) get the single permit in that order, one at a time.
 * Without turns, every waiting process is rung by a release and whichever takes first wins: four
 * children then come in their order by chance once in 24 runs.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class FairAcrossProcessesTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    void waitersInFourProcessesGetThePermitInTheOrderTheyBeganToWait() throws Exception {
        String name = name("fifo");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 1, true)) {
            s.acquire();                                   // the only permit: every child waits
            List<Handle> queue = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Handle c = child("waiter" + i);
                assertEquals("0", c.call("open-fair-sem " + name + " 1"));
                c.call("wait-async " + name + " 1");
                awaitWaiting(s, c.pid());                  // its wait began before the next child's
                queue.add(c);
            }
            s.release();
            for (int i = 0; i < queue.size(); i++) {
                Handle next = awaitAcquirer(queue.subList(i, queue.size()));
                assertEquals(queue.get(i).label(), next.label(), () -> "served out of order; " + queue);
                for (Handle later : queue.subList(i + 1, queue.size())) {
                    assertFalse(later.hasSeen("EVENT acquired"), "one permit, one holder");
                }
                next.call("release " + name + " 1");        // the wait-async thread keeps its permit until told
            }
            assertTrue(s.tryAcquire(5, TimeUnit.SECONDS), "the permit is back");
            s.release();
        }
    }

    /** Waits until holders() shows the process {@code pid} waiting. */
    private static void awaitWaiting(EventFdSemaphore s, long pid) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (s.holders().stream().noneMatch(h -> h.pid() == pid && h.waiting() > 0)) {
            assertTrue(System.nanoTime() - deadline < 0, "pid " + pid + " never waited");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    /** The first of {@code waiting} whose waiter has acquired (each is asked in turn until one has). */
    private static Handle awaitAcquirer(List<Handle> waiting) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (;;) {
            for (Handle c : waiting) {
                if (c.hasSeen("EVENT acquired")) return c;
            }
            assertTrue(System.nanoTime() - deadline < 0, "nobody got the permit");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }
}
