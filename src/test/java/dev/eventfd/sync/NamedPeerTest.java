package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Joining by name from processes that inherit nothing: a Python process (standard library only,
 * src/test/resources/named/named_peer.py) that implements the protocol itself (lists the socket
 * directory, connects, sends the 8-byte request, receives the 16-byte response and two descriptors
 * with {@code socket.recv_fds}) and then takes and gives permits with 8-byte {@code read}/{@code write}
 * that this JVM sees, and the reverse; the same for a latch count-down. And a child JVM started with
 * {@link ProcessBuilder}, which closes every inherited descriptor, that holds none of the object's
 * eventfds before it opens the name and holds exactly those (same {@code eventfd-id}) afterwards.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class NamedPeerTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(60);
    private static final Pattern JOINED = Pattern.compile(
            "magic=45464453 version=1 status=(\\d+) kind=(\\d+) initial=(-?\\d+) server=(\\d+) fds=(\\d+) sem=(\\S+)");
    private final List<Handle> peers = new ArrayList<>();

    @AfterEach
    void killPeers() {
        for (Handle p : peers) p.close();
    }

    private Handle python() {
        Handle h = Handle.python("python");
        peers.add(h);
        return h;
    }

    private static Matcher joined(String answer) {
        Matcher m = JOINED.matcher(answer);
        assertTrue(m.find(), "unexpected join answer: " + answer);
        return m;
    }

    @Test
    void aPythonProcessJoinsANamedSemaphoreAndSharesItsPermits() throws Exception {
        String name = name("py-sem");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
            Handle py = python();
            Matcher m = joined(py.call("join semaphore " + name + " " + dir));
            assertEquals("0", m.group(1), "status");
            assertEquals("1", m.group(2), "kind");
            assertEquals("3", m.group(3), "initial");
            assertEquals(String.valueOf(ProcessHandle.current().pid()), m.group(4), "the serving pid");
            assertEquals("2", m.group(5), "descriptors");
            assertEquals("1,1", m.group(6), "both descriptors of a semaphore are EFD_SEMAPHORE");

            py.call("take 2");
            assertEquals(1, s.availablePermits(), "the JVM does not see the peer's acquire");
            s.acquire();
            assertEquals("EAGAIN", py.call("try"), "the peer does not see the JVM's acquire");
            assertEquals("0", py.call("count"));

            CompletableFuture<Void> two = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    s.acquire(2);
                    two.complete(null);
                } catch (Throwable t) {
                    two.completeExceptionally(t);
                }
            });
            py.call("release 1");
            py.call("release 1");
            two.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);     // completed by the peer's releases
            assertEquals(0, s.availablePermits());
            s.release(3);
            assertEquals("3", py.call("count"), "the peer does not see the JVM's release");
            py.call("take 3");
            assertEquals(0, s.availablePermits());
            py.call("release 3");
            assertEquals(3, s.availablePermits());
            py.call("closefds");
            assertEquals(0, py.exit(PATIENCE), py::transcript);
        }
    }

    @Test
    void aPythonProcessJoinsANamedLatchAndCountsItDown() throws Exception {
        String name = name("py-latch");
        try (EventFdLatch latch = EventFdLatch.open(name, 2)) {
            CompletableFuture<Void> released = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    latch.await();
                    released.complete(null);
                } catch (Throwable t) {
                    released.completeExceptionally(t);
                }
            });
            Handle py = python();
            Matcher m = joined(py.call("join latch " + name + " " + dir));
            assertEquals("0", m.group(1), "status");
            assertEquals("2", m.group(2), "kind");
            assertEquals("2", m.group(5), "descriptors");
            assertEquals("1,0", m.group(6), "a latch is an EFD_SEMAPHORE count and a plain gate");
            py.call("countdown");
            assertEquals(1, latch.getCount(), "the JVM does not see the peer's count-down");
            assertFalse(released.isDone(), "await returned at count 1");
            py.call("countdown");
            released.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
            assertEquals(0, latch.getCount());
            assertEquals(0, py.exit(PATIENCE), py::transcript);
        }
    }

    @Test
    void aChildStartedWithProcessBuilderInheritsNothingAndJoinsByName() throws Exception {
        String name = name("pb");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 2, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
            long permitsId = ProcFs.eventfdId(s.permitsDescriptor()).orElseThrow();
            long turnstileId = ProcFs.eventfdId(s.turnstileDescriptor()).orElseThrow();
            Handle child = Handle.start("pb-child", dir);
            peers.add(child);
            String before = child.call("eventfd-ids");
            assertFalse(ids(before).contains(permitsId) || ids(before).contains(turnstileId),
                    "the child inherited the semaphore's eventfds: " + before);

            assertEquals("2", child.call("open-kernel-sem " + name + " 5"));
            String after = child.call("eventfd-ids");
            assertTrue(ids(after).containsAll(List.of(permitsId, turnstileId)),
                    "the child does not hold the very eventfds of the named semaphore: " + after
                            + " vs " + List.of(permitsId, turnstileId));

            child.call("acquire " + name + " 2");
            assertEquals(0, s.availablePermits());
            assertFalse(s.tryAcquire());
            child.call("release " + name + " 2");
            assertEquals(2, s.availablePermits());
            child.call("close " + name);
            assertEquals(0, child.exit(PATIENCE), child::transcript);
            assertEquals(2, s.availablePermits());
        }
    }

    private static List<Long> ids(String printed) {
        String inner = printed.replace("[", "").replace("]", "").strip();
        if (inner.isEmpty()) return List.of();
        return java.util.Arrays.stream(inner.split(",")).map(Long::parseLong).toList();
    }
}
