package dev.eventfd.sync.internal;

import dev.eventfd.sync.EventFdSemaphore;
import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Sharing between users is an explicit opt-in: a socket directory named by {@code eventfd.sync.dir}
 * with mode rwxrwx--- is shared with its group, whose members are answered; everyone else is refused.
 * The processes of other users are real: Python children that switch uid and gid (needs root).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SharedDirectoryTest {

    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final int NOGROUP = 65534;
    private Path dir;

    @BeforeEach
    void sharedDirectory() throws Exception {
        dir = NamedParticipantChild.newSocketDirectory();
        System.setProperty("eventfd.sync.dir", dir.toString());
    }

    @AfterEach
    void removeDirectory() {
        System.clearProperty("eventfd.sync.dir");
        NamedParticipantChild.deleteTree(dir);
    }

    private void shareWithGroup(int gid) throws Exception {
        Process chgrp = new ProcessBuilder("chgrp", Integer.toString(gid), dir.toString()).inheritIO().start();
        assertEquals(0, chgrp.waitFor());
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
    }

    private Path socketOf(String name) throws Exception {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().startsWith("semaphore." + name + ".")
                    && p.toString().endsWith(".sock")).findFirst().orElseThrow();
        }
    }

    @Test
    void membersOfTheDirectorysGroupAreAnsweredOthersRefused() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to run processes of other users");
        shareWithGroup(NOGROUP);
        try (EventFdSemaphore s = EventFdSemaphore.open("shared", 2)) {
            Path socket = socketOf("shared");
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertEquals(NOGROUP, (int) (Integer) Files.getAttribute(socket, "unix:gid"), "the socket has the directory's group");
            // uid and gid 65534: a member of the directory's group
            try (Handle member = Handle.python("member", "connect-as", Integer.toString(NOGROUP), socket.toString())) {
                assertEquals("RESPONSE status=" + Rendezvous.OK + " fds=2 bytes=16",
                        member.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), member::transcript);
            }
            // uid and gid 65533: not in the group; it can reach the socket only because we open it up here
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx--x"));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            try (Handle stranger = Handle.python("stranger", "connect-as", "65533", socket.toString())) {
                assertEquals("RESPONSE status=" + Rendezvous.REFUSED + " fds=0 bytes=16",
                        stranger.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), stranger::transcript);
            } finally {
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
            }
            assertEquals(2, s.availablePermits());
        }
    }

    @Test
    void aDirectoryOpenToOthersIsRefused() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx--x"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("x", 1));
        assertTrue(e.getMessage().contains("rwxrwx---"), e.getMessage());
    }

    @Test
    void theGroupModeIsHonouredOnlyForAnExplicitDirectory() {
        assertEquals(-1, Rendezvous.place().sharedGid(), "a private directory shares with nobody");
    }
}
