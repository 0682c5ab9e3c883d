package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A named latch across JVMs: three child JVMs join {@code EventFdLatch.open(name, ...)} created here
 * with a count of 2 and await it; they are still waiting after the first count-down here (and all see
 * the count 1), and all return after the second; each then exits 0. A latch opened after that by a
 * newcomer (while the others still have it open) is already open.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NamedLatchAcrossJvmsTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @Test
    void threeChildJvmsAwaitANamedLatchThatThisJvmCountsDown() {
        String name = "latch-" + System.nanoTime();
        try (EventFdLatch latch = EventFdLatch.open(name, 2)) {
            for (int i = 0; i < 3; i++) children.add(Handle.start("awaiter-" + i, dir));
            for (Handle c : children) {
                // the count argument (9) is ignored by a joiner: it sees the count this JVM created
                assertEquals("2", c.call("open-latch " + name + " 9"), c + " did not join the latch");
                c.call("await-async " + name);
            }
            latch.countDown();
            for (Handle c : children) {
                assertEquals("1", c.call("count " + name), c + " does not see the first count-down");
            }
            for (Handle c : children) {
                assertFalse(c.hasSeen("EVENT returned"), c + " returned from await at count 1:\n" + c.transcript());
            }
            latch.countDown();
            for (Handle c : children) {
                String line = c.expect(PATIENCE, "EVENT returned", "EVENT timed-out", "EVENT failed");
                assertEquals("EVENT returned " + name, line, () -> c + ":\n" + c.transcript());
                assertEquals("0", c.call("count " + name));
            }
            Handle late = Handle.start("late", dir);
            children.add(late);
            assertEquals("0", late.call("open-latch " + name + " 5"), "a latecomer must join the open latch");
            late.call("await-async " + name);
            late.expect(PATIENCE, "EVENT returned " + name);
            for (Handle c : children) {
                c.call("close " + name);
                assertEquals(0, c.exit(PATIENCE), () -> c + " did not exit 0:\n" + c.transcript());
            }
            assertTrue(latch.await(0, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
