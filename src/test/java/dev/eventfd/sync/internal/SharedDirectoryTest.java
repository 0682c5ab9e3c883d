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
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Sharing between users is an explicit opt-in: a socket directory named by {@code eventfd.sync.dir}
 * with mode rwxrwx--T (1770) is shared with its group, whose members are answered; everyone else is
 * refused. The processes of other users are real: Python children that switch uid and gid (needs root).
 *
 * <p>A member of the group can write to the directory, so what it leaves there is hostile input:
 * a lock file planted as a symbolic link or a hard link to another file, or something that is not a
 * regular file, is refused and left as it is, and the file it points to is never opened, re-moded or
 * re-grouped. The directory must be sticky, so that no member can remove another's socket (which
 * would let a newcomer create the name afresh beside the live object).
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
        shareWithGroup(gid, "1770");
    }

    private void shareWithGroup(int gid, String mode) throws Exception {
        Process chgrp = new ProcessBuilder("chgrp", Integer.toString(gid), dir.toString()).inheritIO().start();
        assertEquals(0, chgrp.waitFor());
        chmod(mode);
    }

    /** chmod with the special bits (which Files.setPosixFilePermissions clears). */
    private void chmod(String mode) throws Exception {
        Process chmod = new ProcessBuilder("chmod", mode, dir.toString()).inheritIO().start();
        assertEquals(0, chmod.waitFor());
    }

    /**
     * Runs {@code script} in Python as uid and gid {@code uid} (no supplementary groups); returns its
     * output. Modules it needs are imported before the switch (the interpreter's may not be readable after).
     */
    private static String runAs(int uid, String script) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", "import os, sys, fcntl\nos.setgroups([])\nos.setgid(" + uid
                + ")\nos.setuid(" + uid + ")\n" + script).redirectErrorStream(true).start();
        assertTrue(p.waitFor(PATIENCE.toSeconds(), TimeUnit.SECONDS), "python did not finish");
        return new String(p.getInputStream().readAllBytes()).strip();
    }

    /** A private file of this user's, outside the shared directory: what a planted link would point to. */
    private Path victimFile() throws Exception {
        Path home = NamedParticipantChild.newSocketDirectory();
        victimHome = home;
        Path secret = home.resolve("secret");
        Files.writeString(secret, "not for the group");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        return secret;
    }

    private Path victimHome;

    @AfterEach
    void removeVictim() {
        NamedParticipantChild.deleteTree(victimHome);
    }

    private static void assertUntouched(Path secret) throws Exception {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secret)),
                "the victim's file was re-moded through a planted link");
        assertEquals(0, (int) (Integer) Files.getAttribute(secret, "unix:gid"), "the victim's file was re-grouped");
        assertEquals("not for the group", Files.readString(secret));
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
        try (EventFdSemaphore s = EventFdSemaphore.open("shared", 2, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
            Path socket = socketOf("shared");
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertEquals(NOGROUP, (int) (Integer) Files.getAttribute(socket, "unix:gid"), "the socket has the directory's group");
            // uid and gid 65534: a member of the directory's group
            try (Handle member = Handle.python("member", "connect-as", Integer.toString(NOGROUP), socket.toString())) {
                assertEquals("RESPONSE status=" + Rendezvous.OK + " fds=2 bytes=16",
                        member.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), member::transcript);
            }
            // uid and gid 65533: not in the group; it can reach the socket only because we open it up here
            chmod("1771");
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            try (Handle stranger = Handle.python("stranger", "connect-as", "65533", socket.toString())) {
                assertEquals("RESPONSE status=" + Rendezvous.REFUSED + " fds=0 bytes=16",
                        stranger.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), stranger::transcript);
            } finally {
                chmod("1770");
            }
            assertEquals(2, s.availablePermits());
        }
    }

    @Test
    void aDirectoryOpenToOthersIsRefused() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx--x"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("x", 1));
        assertTrue(e.getMessage().contains("rwxrwx--x") && e.getMessage().contains("rwxrwx--T"), e.getMessage());
    }

    @Test
    void aLockFilePlantedAsASymbolicLinkIsRefusedAndItsTargetLeftAlone() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to plant the link as another user");
        shareWithGroup(NOGROUP);
        Path secret = victimFile();
        Path lock = dir.resolve("semaphore.planted.lock");
        Files.createSymbolicLink(lock, secret);
        Files.getFileAttributeView(lock, java.nio.file.attribute.PosixFileAttributeView.class,
                java.nio.file.LinkOption.NOFOLLOW_LINKS).setOwner(
                dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("planted", 1));
        assertTrue(e.getMessage().contains("symbolic link") && e.getMessage().contains(lock.toString()), e.getMessage());
        assertUntouched(secret);
        assertTrue(Files.isSymbolicLink(lock), "the planted link must be left for its owner to remove");
        assertEquals(List.of(lock), entries(), "nothing else may be created for the name");
    }

    @Test
    void aLockFilePlantedAsAHardLinkIsRefusedAndLeftAlone() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to link another user's file");
        shareWithGroup(NOGROUP);
        Path secret = victimFile();
        Path lock = dir.resolve("semaphore.linked.lock");
        Files.createLink(lock, secret);

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("linked", 1));
        assertTrue(e.getMessage().contains("2 links") && e.getMessage().contains(lock.toString()), e.getMessage());
        assertUntouched(secret);
    }

    @Test
    void aLockFileThatIsNotARegularFileIsRefusedWithoutWaitingOnIt() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to run processes of other users");
        shareWithGroup(NOGROUP);
        Path fifo = dir.resolve("semaphore.fifo.lock");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertEquals(0, mkfifo.waitFor());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("fifo", 1));
        assertTrue(e.getMessage().contains("not a regular file") && e.getMessage().contains(fifo.toString()), e.getMessage());

        Path sub = Files.createDirectory(dir.resolve("semaphore.sub.lock"));
        IllegalStateException d = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("sub", 1));
        assertTrue(d.getMessage().contains("not a regular file") && d.getMessage().contains(sub.toString()), d.getMessage());
    }

    @Test
    void theLockFileIsCreatedThroughItsDescriptorWithTheGroupsMode() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to run processes of other users");
        shareWithGroup(NOGROUP);
        try (EventFdSemaphore s = EventFdSemaphore.open("made", 1)) {
            Path lock = dir.resolve("semaphore.made.lock");
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(lock)));
            assertEquals(NOGROUP, (int) (Integer) Files.getAttribute(lock, "unix:gid"), "the lock file has the directory's group");
            // a member can take it: it opens it and locks it
            assertEquals("LOCKED", runAs(NOGROUP, "fd = os.open('" + lock + "', os.O_RDONLY)\n"
                    + "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nprint('LOCKED')"));
        }
    }

    @Test
    void aSharedDirectoryThatIsNotStickyIsRefused() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to give the directory another group");
        shareWithGroup(NOGROUP, "0770");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> EventFdSemaphore.open("loose", 1));
        assertTrue(e.getMessage().contains("sticky") && e.getMessage().contains("rwxrwx---")
                && e.getMessage().contains(dir.toString()), e.getMessage());
        assertEquals(List.of(), entries(), "nothing may be created in a refused directory");
    }

    @Test
    void aMemberCannotRemoveAParticipantsSocketSoTheNameNeverSplits() throws Exception {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root to run processes of other users");
        shareWithGroup(NOGROUP);
        try (EventFdSemaphore s = EventFdSemaphore.open("kept", 2)) {
            Path socket = socketOf("kept");
            String removal = runAs(NOGROUP, "try:\n    os.unlink('" + socket + "')\n    print('REMOVED')\n"
                    + "except PermissionError as e:\n    print('REFUSED', e.errno)");
            assertEquals("REFUSED 1", removal, "a member removed a participant's socket");
            assertTrue(Files.exists(socket));
            try (EventFdSemaphore joined = EventFdSemaphore.open("kept", 9)) {
                assertEquals(2, joined.availablePermits(), "the newcomer created the name afresh beside the live one");
                joined.acquire();
                assertEquals(1, s.availablePermits());
            }
        }
    }

    private List<Path> entries() throws Exception {
        try (var files = Files.list(dir)) {
            return files.sorted().toList();
        }
    }

    @Test
    void theGroupModeIsHonouredOnlyForAnExplicitDirectory() {
        assertEquals(-1, Rendezvous.place().sharedGid(), "a private directory shares with nobody");
    }
}
