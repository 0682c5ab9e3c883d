package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code namesInUse()}: the names live processes have open, by kind, and none of a dead process's. */
class NamesInUseTest extends NamedObjectsTest {

    @Test
    @Timeout(120)
    void listsTheNamesLiveProcessesHaveOpenByKindAndForgetsADeadOnesAtOnce() throws Exception {
        String sem = "with.dots-" + name("sem"), lock = name("lock"), latch = name("latch"), dead = name("dead");
        try (EventFdSemaphore s = EventFdSemaphore.open(sem, 1);
             EventFdSemaphore again = EventFdSemaphore.open(sem, 1);      // two participants: listed once
             EventFdLock l = EventFdLock.open(lock);
             EventFdLatch c = EventFdLatch.open(latch, 1)) {
            Handle child = child("holder");
            assertEquals("1", child.call("open-lock " + dead));
            assertEquals(Set.of(sem, lock, dead), EventFdSemaphore.namesInUse(), "locks are semaphores");
            assertEquals(Set.of(latch), EventFdLatch.namesInUse());
            child.kill();
            child.waitFor(Duration.ofSeconds(30));
            assertFalse(EventFdSemaphore.namesInUse().contains(dead), "a dead process's socket is not a name in use");
            assertTrue(EventFdSemaphore.namesInUse().contains(sem));
        }
        assertEquals(Set.of(), EventFdSemaphore.namesInUse(), "closed participants leave no name behind");
        assertEquals(Set.of(), EventFdLatch.namesInUse());
    }
}
