package dev.eventfd.sync.internal;

import dev.eventfd.sync.testutil.ForkedJvm;
import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Participants in different PID namespaces that share a socket directory (containers sharing a
 * volume, say): a pid means nothing outside its namespace, so nothing may be named or decided by pid.
 *
 * <p>Two JVMs that are each pid 1 of a namespace of their own share a name: their sockets do not
 * collide, and the second joins the first's object.
 *
 * <p>Each child is started by {@code unshare --pid --fork} (needs root). /proc is not remounted: it
 * stays the host's, as in a namespace whose /proc shows another namespace.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class PidNamespaceTest {

    private static final Duration PATIENCE = Duration.ofSeconds(120);
    private Path dir;
    private final List<Handle> children = new ArrayList<>();

    @BeforeEach
    void socketDirectory() {
        assumeTrue(Rendezvous.currentUid() == 0, "needs root for unshare --pid");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")), "needs unshare(1)");
        dir = NamedParticipantChild.newSocketDirectory();
    }

    @AfterEach
    void cleanUp() {
        for (Handle c : children) c.close();
        NamedParticipantChild.deleteTree(dir);
    }

    /** A NamedParticipantChild that is pid 1 of a PID namespace of its own. */
    private Handle childInItsOwnPidNamespace(String label) {
        return childInNamespaces(label, "--pid");
    }

    /**
     * A NamedParticipantChild in new namespaces of the given kinds, PID included: pid 1 there. With
     * {@code --kill-child}, killing the unshare process with SIGKILL kills the child with SIGKILL.
     */
    private Handle childInNamespaces(String label, String... kinds) {
        List<String> command = new ArrayList<>(List.of("unshare"));
        command.addAll(List.of(kinds));
        command.addAll(List.of("--fork", "--kill-child"));
        command.addAll(ForkedJvm.command(List.of("--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
                "-Deventfd.sync.dir=" + dir, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx128m", "-Xss1m"),
                NamedParticipantChild.class));
        Handle h = Handle.startCommand(label, command);
        children.add(h);
        assertEquals("EVENT started pid=1", h.expect(PATIENCE, "EVENT started"), h::transcript);
        return h;
    }

    @Test
    void twoParticipantsWithTheSamePidInDifferentNamespacesShareOneName() {
        Handle a = childInItsOwnPidNamespace("a");
        Handle b = childInItsOwnPidNamespace("b");
        assertEquals("2", a.call("open-sem shared 2", PATIENCE));
        assertEquals("2", b.call("open-sem shared 9", PATIENCE), "b did not join a's semaphore");
        a.call("acquire shared 1", PATIENCE);
        assertEquals("1", b.call("permits shared", PATIENCE));
        List<Path> sockets = NamedParticipantChild.sockets(dir, "semaphore", "shared");
        assertEquals(2, sockets.size(), sockets::toString);
        assertNotEquals(sockets.get(0), sockets.get(1));
    }

    @Test
    void aProcessInOtherPidIpcAndMountNamespacesGetsTheSameCrashExactGuarantees() throws Exception {
        Handle c = childInNamespaces("contained", "--pid", "--ipc", "--mount");
        System.setProperty("eventfd.sync.dir", dir.toString());
        try (dev.eventfd.sync.EventFdLock lock = dev.eventfd.sync.EventFdLock.open("contained-lock");
             dev.eventfd.sync.EventFdSemaphore s = dev.eventfd.sync.EventFdSemaphore.open("contained", 3)) {
            assertEquals("3", c.call("open-sem contained 9", PATIENCE), "the contained process joined");
            assertEquals("1", c.call("open-lock contained-lock", PATIENCE));
            c.call("acquire contained 2", PATIENCE);
            assertEquals("false", c.call("lock contained-lock", PATIENCE));
            long hostPid = ProcessHandle.of(c.pid()).orElseThrow().children().findFirst().orElseThrow().pid();   // unshare's child: pid 1 inside
            List<dev.eventfd.sync.EventFdSemaphore.Holder> h = s.holders();
            assertEquals(1, h.size(), h::toString);
            assertEquals(hostPid, h.getFirst().pid(), () -> "numbered as this process sees it: " + h);
            assertEquals(2, h.getFirst().permits());
            Thread waiter = Thread.ofVirtual().start(() -> s.acquireUninterruptibly(3));
            c.kill();                                        // SIGKILL to unshare, and so to the contained JVM
            assertEquals(true, waiter.join(PATIENCE), "the contained holder's 2 permits never came back");
            assertEquals(0, s.availablePermits());
            s.release(3);
            assertEquals(3, s.availablePermits(), "exactly what it held came back");
            assertEquals(true, lock.tryLock(PATIENCE.toSeconds(), TimeUnit.SECONDS));
            try {
                assertEquals(true, lock.previousHolderDied(), "its death holding the lock is reported here");
            } finally {
                lock.unlock();
            }
        } finally {
            System.clearProperty("eventfd.sync.dir");
        }
    }

    @Test
    void aParticipantInAnotherPidNamespaceAnswersAMemberOfTheGroupByItsSupplementaryGroups() throws Exception {
        // The member's pid, as the participant's namespace numbers it, is not the member's in the /proc
        // the participant sees: the decision must come from the connect's credentials alone.
        int nogroup = 65534;
        assertEquals(0, new ProcessBuilder("chgrp", Integer.toString(nogroup), dir.toString()).inheritIO().start().waitFor());
        assertEquals(0, new ProcessBuilder("chmod", "1770", dir.toString()).inheritIO().start().waitFor());
        Handle a = childInItsOwnPidNamespace("a");
        assertEquals("2", a.call("open-kernel-sem grouped 2", PATIENCE));   // the raw client asks for the kernel counter's kind
        List<Path> sockets = NamedParticipantChild.sockets(dir, "semaphore", "grouped");
        assertEquals(1, sockets.size(), sockets::toString);
        // uid and gid 65533, a member of the directory's group only as a supplementary group
        try (Handle member = Handle.python("member", "connect-as", "65533", sockets.getFirst().toString(),
                Integer.toString(nogroup))) {
            assertEquals("RESPONSE status=" + Rendezvous.OK + " fds=2 bytes=16",
                    member.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), member::transcript);
        }
    }
}
