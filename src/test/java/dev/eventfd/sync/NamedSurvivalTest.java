package dev.eventfd.sync;

import dev.eventfd.sync.internal.Rendezvous;
import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A named object outlives the processes that take part in it, however they end: {@code kill -9} of a
 * participant holding nothing, or of the one that created the name and served it, leaves the others
 * working and lets newcomers join the same object (they see its permits, not their own initial
 * count); once every participant has gone, the name is created afresh with the new initial count, and
 * the socket file a killed process left behind is found dead, removed and replaced.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NamedSurvivalTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);

    private static List<Path> sockets(String name) {
        return NamedParticipantChild.sockets(dir, "semaphore", name);
    }

    private static Path socketOf(String name, long pid) {
        List<Path> mine = sockets(name).stream()
                .filter(p -> p.getFileName().toString().startsWith("semaphore." + name + "." + pid + "-")).toList();
        assertEquals(1, mine.size(), () -> "expected one socket of pid " + pid + " for " + name + ": " + sockets(name));
        return mine.getFirst();
    }

    @Test
    void killingAParticipantThatHoldsNothingLeavesTheOthersWorkingAndNewcomersJoin() throws Exception {
        String name = name("idle");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 2)) {
            Handle a = child("a");
            Handle b = child("b");
            assertEquals("2", a.call("open-sem " + name + " 9"));
            assertEquals("2", b.call("open-sem " + name + " 9"));
            a.call("acquire " + name + " 1");
            a.call("release " + name + " 1");            // a has used it, and holds nothing now
            a.kill();

            // the survivors carry on, and see each other's changes
            s.acquire();
            assertEquals("1", b.call("permits " + name));
            b.call("acquire " + name + " 1");
            assertEquals(0, s.availablePermits());
            assertEquals("false", b.call("try " + name + " 1"));
            b.call("release " + name + " 1");
            s.release();
            assertEquals(2, s.availablePermits());

            // a newcomer joins the same object: it sees 2 permits, not its own 7
            Handle c = child("c");
            assertEquals("2", c.call("open-sem " + name + " 7"));
            c.call("acquire " + name + " 2");
            assertEquals(0, s.availablePermits());
            assertEquals("0", b.call("permits " + name));
            c.call("release " + name + " 2");
            assertEquals(2, s.availablePermits());

            List<Long> live = Rendezvous.participants(Rendezvous.Kind.SEMAPHORE, name);
            assertFalse(live.contains(a.pid()), "the killed participant is still listed: " + live);
            assertTrue(live.containsAll(List.of(ProcessHandle.current().pid(), b.pid(), c.pid())), live::toString);
        }
    }

    @Test
    void killingTheCreatorThatServedTheNameStillLetsANewcomerJoin() throws Exception {
        String name = name("creator");
        Handle creator = child("creator");
        assertEquals("3", creator.call("open-sem " + name + " 3"));
        Path creatorSocket = socketOf(name, creator.pid());
        Handle b = child("b");
        assertEquals("3", b.call("open-sem " + name + " 9"));       // joined through the creator's socket
        b.call("acquire " + name + " 1");                           // the object now has 2 permits left

        creator.kill();
        assertTrue(Files.exists(creatorSocket), "kill -9 leaves the socket file: " + creatorSocket);

        // this JVM joins the object b still holds (2 permits), it does not create one with 7
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 7)) {
            assertEquals(2, s.availablePermits(), "the newcomer did not join the surviving object");
            s.acquire(2);
            assertEquals("0", b.call("permits " + name));
            b.call("release " + name + " 1");
            assertEquals(1, s.availablePermits());
            s.release(2);
            assertEquals("3", b.call("permits " + name));

            // and a child JVM can join too
            Handle c = child("c");
            assertEquals("3", c.call("open-sem " + name + " 11"));
            List<Long> live = Rendezvous.participants(Rendezvous.Kind.SEMAPHORE, name);
            assertFalse(live.contains(creator.pid()), "the killed creator is still listed: " + live);
            assertEquals(3, live.size(), live::toString);
        }
    }

    @Test
    void killingTheParticipantAJoinerTriesFirstStillLetsItJoinAndRemovesTheDeadSocket() throws Exception {
        // The joiner tries the sockets in directory order: kill the participant whose socket comes
        // first in that order, so that the joiner must find it dead, remove it, and join the other.
        String name = name("first");
        Handle a = child("a");
        Handle b = child("b");
        assertEquals("4", a.call("open-sem " + name + " 4"));
        assertEquals("4", b.call("open-sem " + name + " 8"));
        Path first = inDirectoryOrder(name).getFirst();
        Handle victim = first.getFileName().toString().contains("." + a.pid() + "-") ? a : b;
        Handle survivor = victim == a ? b : a;
        assertEquals(first, socketOf(name, victim.pid()));
        survivor.call("acquire " + name + " 1");                    // 3 left; the victim holds nothing
        victim.kill();
        assertTrue(Files.exists(first), "kill -9 leaves the socket file: " + first);

        try (EventFdSemaphore s = EventFdSemaphore.open(name, 9)) {
            assertEquals(3, s.availablePermits(), "the newcomer did not join the surviving object");
            assertFalse(Files.exists(first), "the dead socket, tried first, was not removed: " + first);
            s.acquire(3);
            assertEquals("0", survivor.call("permits " + name));
            s.release(3);
            survivor.call("release " + name + " 1");
            assertEquals(4, s.availablePermits());
        }
    }

    /** The name's sockets in the order a joiner lists them (readdir order, as Files.newDirectoryStream). */
    private static List<Path> inDirectoryOrder(String name) throws java.io.IOException {
        List<Path> found = new ArrayList<>();
        try (var ds = Files.newDirectoryStream(dir, "semaphore." + name + ".*.sock")) {
            for (Path p : ds) found.add(p);
        }
        assertEquals(2, found.size(), found::toString);
        return found;
    }

    @Test
    void afterAllParticipantsHaveLeftTheNameIsCreatedAfreshWithTheNewInitialPermits() throws Exception {
        String name = name("afresh");
        Handle a = child("a");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 2)) {
            assertEquals("2", a.call("open-sem " + name + " 9"));
            a.call("acquire " + name + " 1");
            assertEquals(1, s.availablePermits());
            a.call("close " + name);
            assertEquals(0, a.exit(PATIENCE), a::transcript);
        }
        assertEquals(List.of(), sockets(name), "closed participants must remove their sockets");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 5)) {
            assertEquals(5, s.availablePermits(), "not created afresh with the new initial permits");
            Handle b = child("b");
            assertEquals("5", b.call("open-sem " + name + " 8"));
        }

        String latchName = name("afresh-latch");
        try (EventFdLatch l = EventFdLatch.open(latchName, 1)) {
            l.countDown();
            assertEquals(0, l.getCount());
        }
        try (EventFdLatch l = EventFdLatch.open(latchName, 3)) {
            assertEquals(3, l.getCount(), "the latch was not created afresh");
        }
    }

    @Test
    void theStaleSocketOfAKilledSoleParticipantIsRemovedAndTheNameCreatedAfresh() throws Exception {
        String name = name("stale");
        Handle a = child("a");
        assertEquals("1", a.call("open-sem " + name + " 1"));
        a.call("acquire " + name + " 1");                           // dies holding the only permit
        Path stale = socketOf(name, a.pid());
        a.kill();
        assertTrue(Files.exists(stale), "kill -9 leaves the socket file: " + stale);

        try (EventFdSemaphore s = EventFdSemaphore.open(name, 4)) {
            assertEquals(4, s.availablePermits(), "the name was not created afresh");
            assertFalse(Files.exists(stale), "the stale socket " + stale + " was not removed");
            Path mine = socketOf(name, ProcessHandle.current().pid());
            assertEquals(List.of(mine), sockets(name));
            // and it serves: a child joins it
            Handle b = child("b");
            assertEquals("4", b.call("open-sem " + name + " 1"));
        }
    }

    @Test
    void theLastParticipantToLeaveRemovesTheSocketAKilledOneLeftAndTheLockFile() throws Exception {
        String name = name("litter");
        Handle a = child("a");
        Path stale;
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
            assertEquals("1", a.call("open-sem " + name + " 9"));
            stale = socketOf(name, a.pid());
            a.kill();
            a.waitFor(PATIENCE);
            assertTrue(Files.exists(stale), "kill -9 leaves the socket file: " + stale);
        }
        assertEquals(List.of(), sockets(name), "the last to leave removes what a killed participant left");
        assertFalse(Files.exists(dir.resolve("semaphore." + name + ".lock")), "and the lock file: the name leaves nothing behind");
    }
}
