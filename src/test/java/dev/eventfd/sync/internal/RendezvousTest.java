package dev.eventfd.sync.internal;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdSemaphore;
import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The named-object protocol of {@link Rendezvous} against clients and servers that do not follow it.
 *
 * <p>Server side (a real participant in this JVM): garbage, an oversized request, another version or
 * kind are each answered with their status; half a request followed by a hang-up, or a client that
 * connects and sends nothing, are dropped (the latter after {@link Rendezvous#REQUEST_MILLIS}); a
 * client that sends descriptors does not leak them into the server; and a well-behaved {@code open()}
 * joins fine while a misbehaving client is still connected.
 *
 * <p>Client side (fake servers bound on a socket path matching the pattern): another protocol
 * version, another magic, a refusal, descriptors that are not eventfds, eventfds of the wrong mode or
 * not non-blocking, or the wrong number of them: {@code open()} throws an IllegalStateException that
 * says what is wrong, and every descriptor received is closed.
 *
 * <p>Access: {@link Rendezvous#permits} with real {@code SO_PEERCRED} data, from a Python process that
 * has switched to uid 65534 (when the tests run as root) and from this user; and end to end, a real
 * participant answers REFUSED to the other uid.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RendezvousTest {

    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final AtomicLong NAMES = new AtomicLong();
    private static Path dir;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeAll
    static void socketDirectory() {
        dir = NamedParticipantChild.newSocketDirectory();
        System.setProperty("eventfd.sync.dir", dir.toString());
        Poller.shared();       // its own descriptors exist before any count below
    }

    @AfterAll
    static void removeSocketDirectory() {
        System.clearProperty("eventfd.sync.dir");
        NamedParticipantChild.deleteTree(dir);
    }

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) c.close();
    }

    private <T extends AutoCloseable> T closeLater(T c) {
        cleanup.add(c);
        return c;
    }

    private static String name(String what) {
        return what + "-" + NAMES.incrementAndGet();
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] request(int magic, int version, int kind, int extra) {
        return ByteBuffer.allocate(Rendezvous.REQUEST_BYTES).order(ByteOrder.nativeOrder())
                .putInt(magic).putShort((short) version).put((byte) kind).put((byte) extra).array();
    }

    private static byte[] validRequest(Rendezvous.Kind kind) {
        return request(Rendezvous.MAGIC, Rendezvous.VERSION, kind.code, 0);
    }

    private static byte[] response(int magic, int version, int status, int kind, int initial) {
        return ByteBuffer.allocate(Rendezvous.RESPONSE_BYTES).order(ByteOrder.nativeOrder())
                .putInt(magic).putShort((short) version).put((byte) status).put((byte) kind)
                .putInt(initial).putInt((int) ProcessHandle.current().pid()).array();
    }

    /** A decoded response. */
    record Answer(int magic, int version, int status, int kind, int initial, int pid, int[] fds) {
        static Answer of(Native.Received r) {
            assertEquals(Rendezvous.RESPONSE_BYTES, r.data().length, "response length");
            ByteBuffer b = ByteBuffer.wrap(r.data()).order(ByteOrder.nativeOrder());
            return new Answer(b.getInt(), b.getShort() & 0xffff, b.get(), b.get(), b.getInt(), b.getInt(), r.fds());
        }

        void closeFds() {
            for (int fd : fds) Native.close(fd);
        }
    }

    /** Waits for what the other end sends next (or end of stream: empty data). */
    private static Native.Received receive(UnixSocket s, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Native.Received r;
        while ((r = s.receive(256, 4)) == null) {
            if (Poller.shared().await(s, true, deadline, false) == Poller.Outcome.TIMED_OUT) {
                throw new AssertionError("nothing received within " + timeout);
            }
        }
        return r;
    }

    private UnixSocket connect(Path socket) {
        UnixSocket s = UnixSocket.connect(socket);
        assertNotNull(s, "nobody listens on " + socket);
        return closeLater(s);
    }

    /** The socket of this JVM's participant of {@code name} (the only one there is). */
    private static Path participantSocket(Rendezvous.Kind kind, String name) {
        List<Path> all = NamedParticipantChild.sockets(dir, kind.label, name);
        assertEquals(1, all.size(), all::toString);
        return all.getFirst();
    }

    @Test
    void aWatchRequestIsAnsweredWithTheParticipantsOwnPidfd() throws Exception {
        String name = name("watch");
        closeLater(EventFdSemaphore.open(name, 2));
        Path socket = participantSocket(Rendezvous.Kind.SLOT_SEMAPHORE, name);
        try (UnixSocket s = connect(socket);
             PidFd p = Rendezvous.requestPidFd(Rendezvous.Kind.SLOT_SEMAPHORE, s, System.nanoTime() + 5_000_000_000L)) {
            assertTrue(p.fdinfo().contains("Pid:\t" + ProcessHandle.current().pid()), p.fdinfo());
            assertFalse(p.hasExited(), "this process runs");
        }
    }

    /** A semaphore created here with 2 permits, and the socket it serves on. */
    private Path serveSemaphore(String name) {
        EventFdSemaphore s = closeLater(EventFdSemaphore.open(name, 2, false, EventFdSemaphore.Store.KERNEL_COUNTER));
        assertEquals(2, s.availablePermits());
        return participantSocket(Rendezvous.Kind.SEMAPHORE, name);
    }

    /** Opens the name again (here, from another thread) and checks that it joined the 2-permit object. */
    private void assertAWellBehavedClientStillJoins(String name) throws Exception {
        CompletableFuture<Integer> permits = CompletableFuture.supplyAsync(() -> {
            try (EventFdSemaphore joined = EventFdSemaphore.open(name, 9, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
                return joined.availablePermits();
            }
        }, r -> Thread.ofPlatform().name("well-behaved client").start(r));
        assertEquals(2, permits.get(PATIENCE.toSeconds(), TimeUnit.SECONDS),
                "open() did not join the served object while a bad client was connected");
    }

    /** The descriptors of this process whose /proc/self/fd link is exactly {@code target}. */
    private static long linksTo(String target) throws IOException {
        return ProcFs.descriptorsLinkingTo(target);
    }

    /** How many descriptors of this process are the eventfd with this eventfd-id. */
    private static long descriptorsOfEventfd(long id) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.mapToInt(p -> Integer.parseInt(p.getFileName().toString()))
                    .filter(fd -> ProcFs.eventfdId(fd).orElse(-1) == id).count();
        }
    }

    // ------------------------------------------------------------------ names

    @Test
    void badNamesAreRejectedWithAMessageNamingTheProblem() {
        record Bad(String name, String says) {}
        for (Bad b : List.of(new Bad("", "empty"), new Bad("a/b", "'/'"), new Bad("/", "'/'"),
                new Bad(".", "is '.'"), new Bad("..", "is '..'"), new Bad("a\0b", "NUL"),
                new Bad("x".repeat(Rendezvous.MAX_NAME + 1), "longer than " + Rendezvous.MAX_NAME),
                new Bad(".hidden", "start with a letter or digit"), new Bad("-x", "start with a letter or digit"),
                new Bad("a b", "only letters, digits"), new Bad("a*", "only letters, digits"),
                new Bad("caf\u00e9", "only letters, digits"), new Bad("a\nb", "only letters, digits"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Rendezvous.checkName(b.name()),
                    () -> "accepted " + b.name());
            assertTrue(e.getMessage().contains(b.says()), () -> "for '" + b.name() + "': " + e.getMessage());
        }
        assertThrows(NullPointerException.class, () -> Rendezvous.checkName(null));
        Rendezvous.checkName("x".repeat(Rendezvous.MAX_NAME));
        Rendezvous.checkName("A.b_c-9");
    }

    // ------------------------------------------------------------------ misbehaving clients

    @Test
    void garbageIsAnsweredBadRequestAndTheServerKeepsServing() throws Exception {
        String name = name("garbage");
        Path socket = serveSemaphore(name);
        UnixSocket bad = connect(socket);
        byte[] garbage = new byte[Rendezvous.REQUEST_BYTES];
        Arrays.fill(garbage, (byte) 0xA5);
        assertEquals(garbage.length, bad.send(garbage));
        Answer a = Answer.of(receive(bad, PATIENCE));
        assertEquals(Rendezvous.BAD_REQUEST, a.status());
        assertEquals(Rendezvous.MAGIC, a.magic());
        assertArrayEquals(new int[0], a.fds(), "descriptors sent to a bad request");
        assertEquals(0, receive(bad, PATIENCE).data().length, "the server must hang up after answering");
        assertAWellBehavedClientStillJoins(name);
    }

    @Test
    void anOversizedRequestIsAnsweredBadRequest() throws Exception {
        String name = name("oversized");
        Path socket = serveSemaphore(name);
        for (int size : new int[] {Rendezvous.REQUEST_BYTES + 1, 2 * Rendezvous.REQUEST_BYTES, 64}) {
            UnixSocket bad = connect(socket);
            byte[] big = Arrays.copyOf(validRequest(Rendezvous.Kind.SEMAPHORE), size);
            assertEquals(size, bad.send(big));
            Answer a = Answer.of(receive(bad, PATIENCE));
            assertEquals(Rendezvous.BAD_REQUEST, a.status(), "a request of " + size + " bytes");
            assertArrayEquals(new int[0], a.fds());
        }
        assertAWellBehavedClientStillJoins(name);
    }

    @Test
    void anotherVersionOrKindIsAnsweredWithItsStatus() throws Exception {
        String name = name("version");
        Path socket = serveSemaphore(name);

        UnixSocket v = connect(socket);
        v.send(request(Rendezvous.MAGIC, Rendezvous.VERSION + 6, Rendezvous.Kind.SEMAPHORE.code, 0));
        Answer a = Answer.of(receive(v, PATIENCE));
        assertEquals(Rendezvous.BAD_VERSION, a.status());
        assertEquals(Rendezvous.VERSION, a.version(), "the server says which version it speaks");
        assertArrayEquals(new int[0], a.fds());

        for (int kind : new int[] {Rendezvous.Kind.LATCH.code, 0, 0x55}) {
            UnixSocket k = connect(socket);
            k.send(request(Rendezvous.MAGIC, Rendezvous.VERSION, kind, 0));
            Answer b = Answer.of(receive(k, PATIENCE));
            assertEquals(Rendezvous.BAD_KIND, b.status(), "kind " + kind);
            assertEquals(Rendezvous.Kind.SEMAPHORE.code, b.kind(), "the server says which kind it serves");
            assertArrayEquals(new int[0], b.fds());
        }

        // and a valid request gets the two descriptors, the initial count and this pid
        UnixSocket ok = connect(socket);
        ok.send(validRequest(Rendezvous.Kind.SEMAPHORE));
        Answer c = Answer.of(receive(ok, PATIENCE));
        try {
            assertEquals(Rendezvous.OK, c.status());
            assertEquals(2, c.initial());
            assertEquals(ProcessHandle.current().pid(), c.pid());
            assertEquals(2, c.fds().length);
        } finally {
            c.closeFds();
        }
    }

    @Test
    void halfARequestThenAHangUpIsDroppedAndTheServerKeepsServing() throws Exception {
        String name = name("half");
        Path socket = serveSemaphore(name);
        UnixSocket half = UnixSocket.connect(socket);
        assertNotNull(half);
        assertEquals(4, half.send(Arrays.copyOf(validRequest(Rendezvous.Kind.SEMAPHORE), 4)));
        half.close();
        assertAWellBehavedClientStillJoins(name);
    }

    @Test
    void aClientThatSendsHalfARequestAndHangsDoesNotBlockOthersAndIsDroppedAfterTheRequestTimeout()
            throws Exception {
        String name = name("hang");
        Path socket = serveSemaphore(name);
        UnixSocket half = connect(socket);
        assertEquals(4, half.send(Arrays.copyOf(validRequest(Rendezvous.Kind.SEMAPHORE), 4)));
        UnixSocket silent = connect(socket);            // sends nothing at all
        // both are connected and unanswered while a well-behaved client joins
        assertAWellBehavedClientStillJoins(name);
        assertAWellBehavedClientStillJoins(name);
        // then the server gives up on them: end of stream, no answer
        Duration limit = Duration.ofMillis(Rendezvous.REQUEST_MILLIS).plus(PATIENCE);
        assertEquals(0, receive(half, limit).data().length, "the server answered half a request");
        assertEquals(0, receive(silent, limit).data().length, "the server answered no request");
        assertAWellBehavedClientStillJoins(name);
    }

    /** This process's socket descriptors. */
    private static long socketDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().startsWith("socket:");
                } catch (IOException gone) {
                    return false;
                }
            }).count();
        }
    }

    /** Connects to {@code socket}, waiting out a full backlog; null if that lasts {@code PATIENCE}. */
    private static UnixSocket connectPatiently(Path socket) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        for (;;) {
            try {
                return UnixSocket.connect(socket);
            } catch (UnixSocket.BacklogFull full) {
                if (System.nanoTime() - deadline > 0) return null;
                java.util.concurrent.locks.LockSupport.parkNanos(100_000);
            }
        }
    }

    @Test
    void aFloodOfIdleConnectionsHoldsFewDescriptorsInTheServerAndJoinsStillSucceed() throws Exception {
        String name = name("flood");
        Path socket = serveSemaphore(name);
        int flood = 2_000;
        java.util.ArrayDeque<UnixSocket> idle = new java.util.ArrayDeque<>();
        try {
            long before = socketDescriptors();
            for (int i = 0; i < flood; i++) {
                UnixSocket c = connectPatiently(socket);
                assertNotNull(c, "the server stopped accepting");
                idle.add(c);
            }
            // Every connection is this test's (flood of them) or the server's (accepted, not yet
            // closed). The server holds at most SLOW_CLIENTS idle ones; it used to hold each for
            // REQUEST_MILLIS.
            long server = socketDescriptors() - before - flood;
            assertTrue(server <= Rendezvous.SLOW_CLIENTS + 2,
                    "the server holds " + server + " descriptors for " + flood + " idle connections");
            // The flood goes on (oldest connections closed, new ones made) while joiners come.
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            Thread flooder = Thread.ofPlatform().name("flooder").start(() -> {
                while (!stop.get()) {
                    UnixSocket c = connectPatiently(socket);
                    if (c == null) return;
                    synchronized (idle) {
                        idle.add(c);
                        if (idle.size() > flood) idle.poll().close();
                    }
                }
            });
            try {
                for (int i = 0; i < 33; i++) assertAWellBehavedClientStillJoins(name);
            } finally {
                stop.set(true);
                assertTrue(flooder.join(PATIENCE), "the flooder did not stop");
            }
        } finally {
            synchronized (idle) {
                for (UnixSocket c : idle) c.close();
            }
        }
        assertAWellBehavedClientStillJoins(name);
    }

    @Test
    void descriptorsSentToTheServerAreClosedThere() throws Exception {
        String name = name("fds-to-server");
        Path socket = serveSemaphore(name);
        Path marker = Files.createFile(dir.resolve("marker-" + name));
        int[] mine = {Native.openReadOnly(marker.toString()), Native.openReadOnly(marker.toString()),
                Native.openReadOnly(marker.toString())};
        try {
            assertEquals(3, linksTo(marker.toString()));
            UnixSocket c = connect(socket);
            assertEquals(Rendezvous.REQUEST_BYTES, Native.sendWithFds(c.fd(), validRequest(Rendezvous.Kind.SEMAPHORE), mine));
            Answer a = Answer.of(receive(c, PATIENCE));
            a.closeFds();
            assertEquals(Rendezvous.OK, a.status());
            // the server (in this process) received copies of ours: it must have closed them
            assertEquals(0, receive(c, PATIENCE).data().length);
            assertEquals(3, linksTo(marker.toString()), "the server kept descriptors a client sent it");
        } finally {
            for (int fd : mine) Native.close(fd);
        }
    }

    @Test
    void aStaleSocketWhoseListenerIsClosedIsRemovedAndReplaced() throws Exception {
        String name = name("stale");
        Path stale = dir.resolve("semaphore." + name + ".4194999-1.sock");
        UnixSocket.listen(stale, 1).close();           // the file stays: nobody listens on it any more
        assertTrue(Files.exists(stale));
        assertNull(UnixSocket.connect(stale), "a closed listener must refuse connections");
        try (EventFdSemaphore s = EventFdSemaphore.open(name, 3, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
            assertEquals(3, s.availablePermits(), "created afresh");
            assertFalse(Files.exists(stale), "the stale socket was not removed");
            assertEquals(1, NamedParticipantChild.sockets(dir, "semaphore", name).size());
        }
    }

    @Test
    void aParticipantThatDiesWhileAJoinerIsConnectedIsTakenForDeadAndTheNameCreatedAfresh() throws Exception {
        // A process killed (or closing) while a joiner is connected: its listener goes, the joiner's
        // connection ends unanswered (accepted and closed, or reset in the backlog), the file stays.
        for (boolean accepts : new boolean[] {true, false}) {
            String name = name(accepts ? "dies-accepted" : "dies-in-backlog");
            Path path = dir.resolve("semaphore." + name + ".4194304-" + NAMES.incrementAndGet() + ".sock");
            UnixSocket listener = UnixSocket.listen(path, 8);
            Thread dying = Thread.ofVirtual().name("dying participant").start(() -> {
                UnixSocket c = null;
                while (accepts && (c = listener.accept()) == null) {
                    Poller.shared().await(listener, false, 0, false);
                }
                if (!accepts) Poller.shared().await(listener, false, 0, false);   // a connection is queued
                listener.close();           // the listener goes first, then the connection, unanswered
                if (c != null) c.close();
            });
            try (EventFdSemaphore s = EventFdSemaphore.open(name, 3, false, EventFdSemaphore.Store.KERNEL_COUNTER)) {
                assertEquals(3, s.availablePermits(), "created afresh");
                assertFalse(Files.exists(path), "the dead participant's socket was not removed");
            } finally {
                listener.close();
                Native.unlink(path.toString());
            }
            assertTrue(dying.join(PATIENCE));
        }
    }

    // ------------------------------------------------------------------ fake servers

    /**
     * A fake participant bound on a socket path a client will try: it answers every request with
     * {@code answer} and {@code fds} (which stay this test's to close).
     */
    private final class FakeServer implements AutoCloseable {
        final Path path;
        final UnixSocket listener;
        final AtomicInteger served = new AtomicInteger();
        final Thread thread;

        final java.util.concurrent.CountDownLatch answered = new java.util.concurrent.CountDownLatch(1);
        final boolean readFirst;

        FakeServer(Rendezvous.Kind kind, String name, byte[] answer, int... fds) {
            this(true, kind, name, answer, fds);
        }

        /** With {@code readFirst} false it answers as soon as it accepts, as a real server refuses. */
        FakeServer(boolean readFirst, Rendezvous.Kind kind, String name, byte[] answer, int... fds) {
            this.readFirst = readFirst;
            this.path = dir.resolve(kind.label + "." + name + ".4194304-" + NAMES.incrementAndGet() + ".sock");
            this.listener = UnixSocket.listen(path, 8);
            this.thread = Thread.ofVirtual().name("fake server " + name).start(() -> serve(answer, fds));
            closeLater(this);
        }

        private void serve(byte[] answer, int[] fds) {
            try {
                for (;;) {
                    UnixSocket c;
                    while ((c = listener.accept()) == null) {
                        if (Poller.shared().await(listener, false, 0, false) == Poller.Outcome.CLOSED) return;
                    }
                    try (UnixSocket conn = c) {
                        if (readFirst && receive(conn, PATIENCE).data().length == 0) continue;
                        served.incrementAndGet();        // before the answer, which the client may check at once
                        conn.send(answer, fds);
                    }
                    answered.countDown();            // after the hang-up
                }
            } catch (dev.eventfd.sync.ClosedException closed) {
                // closed by the test
            }
        }

        @Override
        public void close() {
            listener.close();
            Native.unlink(path.toString());
            try {
                thread.join(PATIENCE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Opens {@code name} as a semaphore against the fake, which must refuse it with a message saying {@code says}. */
    private static IllegalStateException openFails(String name, String says) {
        return openFails(() -> EventFdSemaphore.open(name, 1, false, EventFdSemaphore.Store.KERNEL_COUNTER), says);
    }

    private static IllegalStateException openFails(Supplier<AutoCloseable> open, String says) {
        AutoCloseable[] opened = new AutoCloseable[1];
        Throwable t;
        try {
            opened[0] = open.get();
            t = null;
        } catch (Throwable e) {
            t = e;
        }
        if (opened[0] != null) {
            try {
                opened[0].close();
            } catch (Exception ignored) {
                // reporting the real problem below
            }
            throw new AssertionError("open() succeeded (it created the object afresh) although the only "
                    + "participant answered badly; expected an IllegalStateException saying '" + says + "'");
        }
        IllegalStateException e = assertInstanceOf(IllegalStateException.class, t);
        assertTrue(e.getMessage().contains(says), () -> "message: " + e.getMessage());
        return e;
    }

    /**
     * Opens against a fake that sends bad descriptors: open() must throw an IllegalStateException
     * saying {@code says}, and {@code noLeak} must hold afterwards. Both are checked and reported.
     */
    private static void rejected(Supplier<AutoCloseable> open, String says, org.junit.jupiter.api.function.Executable noLeak) {
        Throwable thrown = null;
        boolean opened = false;
        try {
            AutoCloseable c = open.get();
            opened = true;
            c.close();
        } catch (Throwable e) {
            thrown = e;
        }
        Throwable t = thrown;
        boolean o = opened;
        org.junit.jupiter.api.Assertions.assertAll(() -> {
            if (o) {
                throw new AssertionError("open() succeeded (it created the object afresh) although the only "
                        + "participant sent bad descriptors; expected an IllegalStateException saying '" + says + "'");
            }
            if (!(t instanceof IllegalStateException) || t.getMessage() == null || !t.getMessage().contains(says)) {
                throw new AssertionError("expected an IllegalStateException saying '" + says + "', got " + t, t);
            }
        }, noLeak);
    }

    private static void rejected(String name, String says, org.junit.jupiter.api.function.Executable noLeak) {
        rejected(() -> EventFdSemaphore.open(name, 1, false, EventFdSemaphore.Store.KERNEL_COUNTER), says, noLeak);
    }

    @Test
    void aServerSpeakingAnotherProtocolVersionIsReportedWithItsVersion() {
        String name = name("fake-version");
        FakeServer fake = new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                response(Rendezvous.MAGIC, 2, Rendezvous.BAD_VERSION, Rendezvous.Kind.SEMAPHORE.code, 0));
        IllegalStateException e = openFails(name, "protocol version 2");
        assertTrue(e.getMessage().contains("version " + Rendezvous.VERSION), e.getMessage());
        assertEquals(1, fake.served.get());
        assertTrue(Files.exists(fake.path), "a live server's socket must not be removed");

        // a newer server that says OK in its own version is refused the same way
        String name2 = name("fake-version-ok");
        new FakeServer(Rendezvous.Kind.SEMAPHORE, name2,
                response(Rendezvous.MAGIC, 3, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 0));
        openFails(name2, "protocol version 3");
    }

    @Test
    void aRefusalThatArrivesBeforeTheRequestIsSentIsStillReportedAsARefusal() throws Exception {
        // A real server answers REFUSED as soon as it has accepted, before reading the request
        // (Rendezvous.answer), and hangs up. A client whose request goes out after that hang-up gets
        // EPIPE from send, although the REFUSED answer is waiting in its socket.
        String name = name("refused-early");
        FakeServer fake = new FakeServer(false, Rendezvous.Kind.SEMAPHORE, name,
                response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.REFUSED, Rendezvous.Kind.SEMAPHORE.code, 0));
        UnixSocket s = connect(fake.path);
        assertTrue(fake.answered.await(PATIENCE.toSeconds(), TimeUnit.SECONDS));
        RuntimeException e = assertThrows(RuntimeException.class, () -> Rendezvous.request(Rendezvous.Kind.SEMAPHORE, s));
        if (!(e instanceof Rendezvous.ProtocolException) || !e.getMessage().contains("refused")) {
            throw new AssertionError("the REFUSED answer was lost; the client reports " + e
                    + " (open() takes that for a dead participant, skips it and may create the name afresh)", e);
        }
    }

    @Test
    void aServerThatIsNotAParticipantOrRefusesIsReported() {
        String name = name("fake-magic");
        new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                response(0x12345678, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 0));
        openFails(name, "not an eventfd-sync participant");

        String refused = name("fake-refused");
        new FakeServer(Rendezvous.Kind.SEMAPHORE, refused,
                response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.REFUSED, Rendezvous.Kind.SEMAPHORE.code, 0));
        openFails(refused, "refused");

        String kind = name("fake-kind");
        new FakeServer(Rendezvous.Kind.SEMAPHORE, kind,
                response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.LATCH.code, 0));
        openFails(kind, "is open as a latch, not as a semaphore");
    }

    @Test
    void descriptorsThatAreNotEventfdsAreRejectedAndClosed() throws Exception {
        String name = name("fake-files");
        Path marker = Files.createFile(dir.resolve("not-an-eventfd-" + name));
        int a = Native.openReadOnly(marker.toString());
        int b = Native.openReadOnly(marker.toString());
        try {
            FakeServer fake = new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1), a, b);
            assertEquals(2, linksTo(marker.toString()));
            rejected(name, "not an eventfd", () -> assertEquals(2, linksTo(marker.toString()),
                    "descriptors received from the fake server were leaked"));
            assertEquals(1, fake.served.get());
        } finally {
            Native.close(a);
            Native.close(b);
        }
    }

    @Test
    void requestRejectsADescriptorThatIsNotAnEventfdWithAProtocolExceptionAndClosesBoth() throws Exception {
        // Rendezvous.request directly: the exception a client gets, and what is left open
        String name = name("fake-request");
        Path marker = Files.createFile(dir.resolve("not-an-eventfd-" + name));
        int a = Native.openReadOnly(marker.toString());
        int b = Native.openReadOnly(marker.toString());
        try {
            FakeServer fake = new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1), a, b);
            UnixSocket s = connect(fake.path);
            RuntimeException e = assertThrows(RuntimeException.class, () -> Rendezvous.request(Rendezvous.Kind.SEMAPHORE, s));
            org.junit.jupiter.api.Assertions.assertAll(() -> {
                if (!(e instanceof Rendezvous.ProtocolException) || !e.getMessage().contains("not an eventfd")) {
                    throw new AssertionError("a descriptor that is not an eventfd must be reported as a "
                            + "ProtocolException saying so, got: " + e, e);
                }
            }, () -> assertEquals(2, linksTo(marker.toString()), "received descriptors were left open"));
        } finally {
            Native.close(a);
            Native.close(b);
        }
    }

    @Test
    void eventfdsOfTheWrongModeAreRejectedAndClosed() throws Exception {
        // both descriptors of a semaphore must be EFD_SEMAPHORE
        EventFd good = EventFd.create(1, true, "test");
        EventFd wrongMode = EventFd.create(1, false, "test");
        try {
            String name = name("fake-mode");
            long goodId = ProcFs.eventfdId(good.fd()).orElseThrow();
            long wrongId = ProcFs.eventfdId(wrongMode.fd()).orElseThrow();
            // the first one wrong: a plain eventfd where the permits should be
            String name2 = name("fake-mode-first");
            new FakeServer(Rendezvous.Kind.SEMAPHORE, name2,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1),
                    wrongMode.fd(), good.fd());
            rejected(name2, "semaphore mode", () -> {
                assertEquals(1, descriptorsOfEventfd(goodId), "the good eventfd received was leaked");
                assertEquals(1, descriptorsOfEventfd(wrongId), "the wrong eventfd received was leaked");
            });

            // the second one (the turnstile) wrong
            new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1),
                    good.fd(), wrongMode.fd());
            rejected(name, "semaphore mode", () -> {
                assertEquals(1, descriptorsOfEventfd(goodId), "the good eventfd received was leaked");
                assertEquals(1, descriptorsOfEventfd(wrongId), "the wrong eventfd received was leaked");
            });

            // a latch's gate must not be EFD_SEMAPHORE
            String latch = name("fake-latch-mode");
            new FakeServer(Rendezvous.Kind.LATCH, latch,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.LATCH.code, 1),
                    good.fd(), good.fd());
            rejected(() -> EventFdLatch.open(latch, 1), "is in semaphore mode",
                    () -> assertEquals(1, descriptorsOfEventfd(goodId), "eventfds received for a latch were leaked"));
        } finally {
            good.close();
            wrongMode.close();
        }
    }

    @Test
    void aBlockingEventfdIsRejectedAndClosed() throws Exception {
        int blocking = Native.eventfd(1, Native.EFD_SEMAPHORE | Native.EFD_CLOEXEC);
        try {
            long id = ProcFs.eventfdId(blocking).orElseThrow();
            String name = name("fake-blocking");
            new FakeServer(Rendezvous.Kind.SEMAPHORE, name,
                    response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1),
                    blocking, blocking);
            rejected(name, "not non-blocking",
                    () -> assertEquals(1, descriptorsOfEventfd(id), "received descriptors were leaked"));
        } finally {
            Native.close(blocking);
        }
    }

    @Test
    void theWrongNumberOfDescriptorsIsRejectedAndClosed() throws Exception {
        EventFd good = EventFd.create(1, true, "test");
        try {
            long id = ProcFs.eventfdId(good.fd()).orElseThrow();
            byte[] ok = response(Rendezvous.MAGIC, Rendezvous.VERSION, Rendezvous.OK, Rendezvous.Kind.SEMAPHORE.code, 1);
            String one = name("fake-one");
            new FakeServer(Rendezvous.Kind.SEMAPHORE, one, ok, good.fd());
            rejected(one, "expected 2 descriptors, got 1",
                    () -> assertEquals(1, descriptorsOfEventfd(id), "a descriptor received was leaked"));

            String three = name("fake-three");
            new FakeServer(Rendezvous.Kind.SEMAPHORE, three, ok, good.fd(), good.fd(), good.fd());
            rejected(three, "expected 2 descriptors, got 3",
                    () -> assertEquals(1, descriptorsOfEventfd(id), "descriptors received were leaked"));

            String none = name("fake-none");
            new FakeServer(Rendezvous.Kind.SEMAPHORE, none, ok);
            openFails(none, "expected 2 descriptors, got 0");
        } finally {
            good.close();
        }
    }

    // ------------------------------------------------------------------ access

    private static boolean runningAsRoot() {
        return Rendezvous.currentUid() == 0;
    }

    @Test
    void permitsRefusesAnotherUidAndAcceptsTheOwnerWithRealPeerCredentials() throws Exception {
        assumeTrue(runningAsRoot(), "needs root to connect as another uid (setuid 65534)");
        Path open = Files.createTempDirectory("efd-peercred");
        try {
            Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
            Path path = open.resolve("s.sock");
            try (UnixSocket listener = UnixSocket.listen(path, 4)) {
                Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxrwxrwx"));

                // another uid: a Python process that switched to 65534 before connecting
                try (Handle other = Handle.python("python-65534", "connect-as", "65534", path.toString())) {
                    String connected = other.expect(PATIENCE, "CONNECTED", "Traceback");
                    assertTrue(connected.startsWith("CONNECTED"), other::transcript);
                    try (UnixSocket c = accept(listener)) {
                        Native.PeerCredentials peer = c.peerCredentials();
                        assertEquals(65534, peer.uid(), peer::toString);
                        assertEquals(other.pid(), peer.pid(), peer::toString);
                        assertFalse(Rendezvous.permits(Rendezvous.currentUid(), peer),
                                "a process of another uid must be refused: " + peer);
                        assertTrue(Rendezvous.permits(65534, peer), "the decision is by uid");
                    }
                    other.expect(PATIENCE, "CLOSED");
                    assertEquals(0, other.waitFor(PATIENCE), other::transcript);
                }

                // this user, from another process and from this one
                try (Handle same = Handle.python("python-root", "connect-as", "-1", path.toString())) {
                    same.expect(PATIENCE, "CONNECTED");
                    try (UnixSocket c = accept(listener)) {
                        Native.PeerCredentials peer = c.peerCredentials();
                        assertEquals(Rendezvous.currentUid(), peer.uid());
                        assertEquals(same.pid(), peer.pid());
                        assertTrue(Rendezvous.permits(Rendezvous.currentUid(), peer), peer::toString);
                    }
                    same.expect(PATIENCE, "CLOSED");
                }
                try (UnixSocket client = UnixSocket.connect(path); UnixSocket c = accept(listener)) {
                    assertNotNull(client);
                    Native.PeerCredentials peer = c.peerCredentials();
                    assertEquals(ProcessHandle.current().pid(), peer.pid());
                    assertTrue(Rendezvous.permits(Rendezvous.currentUid(), peer), peer::toString);
                }
            } finally {
                Native.unlink(path.toString());
            }
        } finally {
            NamedParticipantChild.deleteTree(open);
        }
    }

    private static UnixSocket accept(UnixSocket listener) {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        UnixSocket c;
        while ((c = listener.accept()) == null) {
            if (Poller.shared().await(listener, true, deadline, false) == Poller.Outcome.TIMED_OUT) {
                throw new AssertionError("no connection within " + PATIENCE);
            }
        }
        return c;
    }

    @Test
    void aRealParticipantAnswersRefusedToAnotherUid() throws Exception {
        assumeTrue(runningAsRoot(), "needs root to connect as another uid (setuid 65534)");
        String name = name("refuse");
        Path socket = serveSemaphore(name);
        // let uid 65534 reach the socket: the directory stays owned by us, only search is opened up
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        try {
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            try (Handle other = Handle.python("python-65534", "connect-as", "65534", socket.toString())) {
                String answer = other.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback");
                assertEquals("RESPONSE status=" + Rendezvous.REFUSED + " fds=0 bytes=16", answer, other::transcript);
                other.expect(PATIENCE, "CLOSED");
                System.out.println("uid 65534 client:\n" + other.transcript());
            }
            // while this user still gets an answer
            try (Handle same = Handle.python("python-root", "connect-as", "-1", socket.toString())) {
                assertEquals("RESPONSE status=" + Rendezvous.OK + " fds=2 bytes=16",
                        same.expect(PATIENCE, "RESPONSE", "EOF", "FAIL", "Traceback"), same::transcript);
            }
        } finally {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        }
        assertAWellBehavedClientStillJoins(name);
    }
}
