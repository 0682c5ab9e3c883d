package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the public {@code open} methods do with input they cannot use: names that are empty, too
 * long, contain '/', NUL or other characters outside the allowed set, or are '.' or '..', are refused
 * by {@link EventFdSemaphore#open}, {@link EventFdLatch#open} and {@link EventFdLock#open} with an
 * IllegalArgumentException naming the problem, before anything is created in the socket directory; a
 * name of exactly 64 characters works, however long the directory's path (the socket path limit of
 * 107 bytes does not apply to it); a socket directory that is open to others is refused; negative counts are refused. And the socket a
 * dead process left in the directory (nobody listens on it) is removed and the name created; what is
 * not a socket (a regular file, a directory, a symbolic link with a socket's name) is left alone,
 * never followed, and never stops the name from working.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NamedBadInputTest extends NamedObjectsTest {


    @AfterEach
    void restoreDirectory() {
        System.setProperty("eventfd.sync.dir", dir.toString());
    }

    @org.junit.jupiter.api.BeforeEach
    void useDirectory() {
        System.setProperty("eventfd.sync.dir", dir.toString());
    }

    private static List<Path> entries() throws Exception {
        try (var s = Files.list(dir)) {
            return s.toList();
        }
    }

    private static void refused(String name, String says) throws Exception {
        List<Path> before = entries();
        for (Executable open : List.<Executable>of(() -> EventFdSemaphore.open(name, 1),
                () -> EventFdSemaphore.open(name, 1, true), () -> EventFdLatch.open(name, 1),
                () -> EventFdLock.open(name))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, open,
                    () -> "name '" + name + "' was accepted");
            assertTrue(e.getMessage() != null && e.getMessage().contains(says),
                    () -> "for name '" + name + "' the message should say '" + says + "': " + e.getMessage());
        }
        assertEquals(before, entries(), "a refused name left something in the socket directory");
    }

    @Test
    void namesWithASlashAreRefused() throws Exception {
        refused("a/b", "'/'");
        refused("/", "'/'");
        refused("../../etc/x", "'/'");
        refused("a/", "'/'");
    }

    @Test
    void dotAndDotDotAreRefused() throws Exception {
        refused(".", "'.'");
        refused("..", "'..'");
        refused(".hidden", "start with a letter or digit");
    }

    @Test
    void nulIsRefused() throws Exception {
        refused("a\0b", "NUL");
        refused("\0", "NUL");
    }

    @Test
    void anEmptyNameIsRefused() throws Exception {
        refused("", "empty");
    }

    @Test
    void aNameOverSixtyFourCharactersIsRefusedAndOneOfSixtyFourWorks() throws Exception {
        refused("n".repeat(65), "longer than 64");
        refused("n".repeat(1000), "longer than 64");
        String longest = (NAMES.incrementAndGet() + "-" + "x".repeat(64)).substring(0, 64);
        try (EventFdSemaphore s = EventFdSemaphore.open(longest, 2); EventFdSemaphore t = EventFdSemaphore.open(longest, 9)) {
            assertEquals(2, t.availablePermits(), "the second open must join the first");
            t.acquire();
            assertEquals(1, s.availablePermits());
        }
    }

    @Test
    void otherCharactersAreRefused() throws Exception {
        for (String bad : List.of("a b", "a*", "a?", "a[b]", "a\\b", "a:b", "caf\u00e9", "a\nb", "a\tb", "-lead",
                "_lead", "\u00e9t\u00e9", "a$b", "a%2Fb")) {
            refused(bad, "letters, digits");
        }
    }

    @Test
    void aNullNameIsRefused() {
        assertThrows(NullPointerException.class, () -> EventFdSemaphore.open(null, 1));
        assertThrows(NullPointerException.class, () -> EventFdLatch.open(null, 1));
        assertThrows(NullPointerException.class, () -> EventFdLock.open(null));
    }

    @Test
    void negativeCountsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EventFdSemaphore.open(name("neg"), -1));
        assertTrue(e.getMessage().contains("-1"), e.getMessage());
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> EventFdLatch.open(name("neg"), -1));
        assertTrue(f.getMessage().contains("-1"), f.getMessage());
    }

    @Test
    void aSixtyFourCharacterNameWorksHoweverLongTheDirectorysPathIs() throws Exception {
        // the socket path limit (107 bytes) is far below this directory's path plus the name
        Path deep = Files.createDirectories(dir.resolve("d".repeat(100)).resolve("e".repeat(100)));
        Files.setPosixFilePermissions(deep, PosixFilePermissions.fromString("rwx------"));
        System.setProperty("eventfd.sync.dir", deep.toString());
        String longest = (NAMES.incrementAndGet() + "-" + "y".repeat(64)).substring(0, 64);
        try (EventFdSemaphore s = EventFdSemaphore.open(longest, 2); EventFdSemaphore t = EventFdSemaphore.open(longest, 9);
             EventFdLatch l = EventFdLatch.open(longest, 3); EventFdLatch m = EventFdLatch.open(longest, 7)) {
            assertEquals(2, t.availablePermits(), "the second open must join the first");
            t.acquire();
            assertEquals(1, s.availablePermits());
            assertEquals(3, m.getCount(), "the second latch open must join the first");
            List<Path> sockets = NamedParticipantChild.sockets(deep, "semaphore", longest);
            assertEquals(2, sockets.size(), sockets::toString);
            for (Path p : sockets) assertTrue(p.toString().length() > 250, p::toString);
        }
        try (var left = Files.list(deep)) {
            assertEquals(List.of(), left.toList(), "the names left files behind");
        }
    }

    @Test
    void aSocketDirectoryOpenToOthersIsRefused() throws Exception {
        Path loose = Files.createDirectory(dir.resolve("loose-" + NAMES.incrementAndGet()));
        Files.setPosixFilePermissions(loose, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.setProperty("eventfd.sync.dir", loose.toString());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open(name("loose"), 1));
        assertTrue(e.getMessage().contains("rwxr-xr-x") && e.getMessage().contains("rwx------"), e.getMessage());
        try (var s = Files.list(loose)) {
            assertEquals(List.of(), s.toList(), "nothing may be created in a refused directory");
        }
    }

    @Test
    void aMissingSocketDirectoryIsCreatedPrivate() throws Exception {
        Path fresh = dir.resolve("fresh-" + NAMES.incrementAndGet());
        System.setProperty("eventfd.sync.dir", fresh.toString());
        try (EventFdSemaphore s = EventFdSemaphore.open(name("fresh"), 1)) {
            assertEquals(1, s.availablePermits());
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)));
            try (var l = Files.list(fresh)) {
                for (Path p : l.filter(p -> p.toString().endsWith(".sock")).toList()) {
                    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p::toString);
                }
            }
        }
    }

    @Test
    void aStaleSocketFileNobodyListensOnIsReplaced() throws Exception {
        String name = name("stale-socket");
        Path stale = dir.resolve("semaphore." + name + ".4194000-7.sock");
        try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(stale));
        }                                                    // closed: the file stays, nobody listens
        assertTrue(Files.exists(stale));
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3)) {
            assertEquals(3, s.availablePermits());
            assertFalse(Files.exists(stale), "the stale socket was not removed");
            List<Path> sockets = NamedParticipantChild.sockets(dir, "semaphore", name);
            assertEquals(1, sockets.size(), sockets::toString);
            assertTrue(sockets.getFirst().getFileName().toString()
                    .startsWith("semaphore." + name + "." + ProcessHandle.current().pid() + "-"), sockets::toString);
            try (EventFdSemaphore joined = EventFdSemaphore.open(name, 8)) {
                assertEquals(3, joined.availablePermits(), "the replacement serves");
            }
        }
    }

    @Test
    void aRegularFileWithASocketsNameIsLeftAloneAndTheNameStillWorks() throws Exception {
        String name = name("stale-file");
        Path file = Files.writeString(dir.resolve("latch." + name + ".123-1.sock"), "not a socket");
        try (EventFdLatch l = EventFdLatch.open(name, 2)) {
            assertEquals(2, l.getCount());
            try (EventFdLatch joined = EventFdLatch.open(name, 5)) {
                assertEquals(2, joined.getCount(), "the second open must join the first");
            }
        }
        assertEquals("not a socket", Files.readString(file), "a file that is not a socket was changed or removed");
    }

    @Test
    void aDirectoryWithASocketsNameIsLeftAloneAndTheNameStillWorks() throws Exception {
        String name = name("stale-dir");
        Path sub = Files.createDirectory(dir.resolve("semaphore." + name + ".77-7.sock"));
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3); EventFdSemaphore t = EventFdSemaphore.open(name, 8)) {
            assertEquals(3, t.availablePermits(), "the second open must join the first");
        }
        assertTrue(Files.isDirectory(sub, LinkOption.NOFOLLOW_LINKS), "a directory with a socket's name was removed");
    }

    @Test
    void aSymbolicLinkWithASocketsNameIsNeverFollowed() throws Exception {
        // a link planted where a participant's socket would be, to another name's live socket: a
        // joiner that followed it would join the wrong object
        String other = name("other");
        String name = name("linked");
        try (EventFdSemaphore o = EventFdSemaphore.open(other, 5)) {
            Path target = NamedParticipantChild.sockets(dir, "semaphore", other).getFirst();
            Path link = Files.createSymbolicLink(dir.resolve("semaphore." + name + ".55-5.sock"), target);
            try (EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
                assertEquals(1, s.availablePermits(), "open() followed a link to another name's socket");
                assertEquals(5, o.availablePermits());
            }
            assertTrue(Files.isSymbolicLink(link), "the link was removed");
            assertEquals(target, Files.readSymbolicLink(link));
        }
    }

    @Test
    void theSameNameAsALatchAndAsASemaphoreAreDifferentObjects() throws Exception {
        String name = name("both");
        try (EventFdLatch l = EventFdLatch.open(name, 4); EventFdSemaphore s = EventFdSemaphore.open(name, 1)) {
            assertEquals(4, l.getCount());
            assertEquals(1, s.availablePermits());
        }
    }
}
