package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdLock;
import dev.eventfd.sync.EventFdSemaphore;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A child JVM that takes part in named eventfd-sync objects, driven line by line over its stdin by the
 * test (see {@link Handle}). Every command answers one line, {@code OK <verb> [result]} or
 * {@code ERR <verb> <exception>}; things that happen asynchronously print {@code EVENT ...} lines.
 * The socket directory comes from {@code -Deventfd.sync.dir}, which {@link Handle#start} passes.
 *
 * <p>Commands: {@code open-sem NAME PERMITS} (also {@code open-fair-sem}, and {@code open-kernel-sem} on the kernel-counter store), {@code open-lock NAME}, {@code open-latch NAME COUNT}
 * (answer: the permits/count now), {@code acquire NAME N}, {@code try NAME N}, {@code release NAME N},
 * {@code lock NAME} (answer: whether the previous holder died holding it), {@code unlock NAME},
 * {@code wait-async NAME N} (a thread acquires N and keeps them; later {@code EVENT acquired NAME}),
 * {@code contend NAME START SECONDS THREADS} (THREADS loop acquire/release for SECONDS after START; answer: the grants),
 * {@code permits NAME}, {@code count NAME}, {@code countdown NAME}, {@code await-async NAME} (answers at
 * once; later {@code EVENT returned NAME}), {@code close NAME}, {@code eventfd-ids} (the eventfd-ids of
 * this process's descriptors), {@code counter lock|sem NAME START FILE ITERATIONS} (prints
 * {@code EVENT ready}, awaits latch START, then increments the int in FILE ITERATIONS times under the
 * lock/semaphore), {@code multi NAME START ITERATIONS N} (acquire(N)/release(N) loop after START),
 * {@code exit}. A watchdog halts the child after {@code -Dnamed.child.watchdog.seconds} (default 120)
 * so that it never outlives a broken test for long; end of stdin (the test JVM died) exits too.
 */
public final class NamedParticipantChild {

    private static final Map<String, Object> OBJECTS = new HashMap<>();
    private static final long AWAIT_SECONDS = 60;

    public static void main(String[] args) throws Exception {
        long watchdog = Long.getLong("named.child.watchdog.seconds", 120);
        Thread.ofPlatform().daemon().name("watchdog").start(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(watchdog));   // a deadline, not synchronization
            } catch (InterruptedException ignored) {
                // fall through
            }
            say("EVENT watchdog fired");
            Runtime.getRuntime().halt(3);
        });
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        say("EVENT started pid=" + ProcessHandle.current().pid());
        String line;
        while ((line = in.readLine()) != null) {
            line = line.strip();
            if (line.isEmpty()) continue;
            String[] a = line.split(" ");
            if (a[0].equals("exit")) {
                say("OK exit");
                System.exit(0);
            }
            try {
                String result = execute(a);
                say("OK " + a[0] + (result.isEmpty() ? "" : " " + result));
            } catch (Throwable t) {
                say("ERR " + a[0] + " " + t.toString().replace('\n', ' '));
            }
        }
        System.exit(0);   // the test JVM went away
    }

    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static EventFdSemaphore semaphore(String name) {
        Object o = OBJECTS.get(name);
        if (o instanceof EventFdLock l) return l.semaphore();
        if (o instanceof EventFdSemaphore s) return s;
        throw new IllegalArgumentException("no semaphore or lock open as " + name);
    }

    private static EventFdLatch latch(String name) {
        if (OBJECTS.get(name) instanceof EventFdLatch l) return l;
        throw new IllegalArgumentException("no latch open as " + name);
    }

    private static String execute(String[] a) throws Exception {
        switch (a[0]) {
            case "open-sem", "open-kernel-sem", "open-fair-sem": {
                EventFdSemaphore s = EventFdSemaphore.open(a[1], Integer.parseInt(a[2]), a[0].equals("open-fair-sem"),
                        a[0].equals("open-kernel-sem") ? EventFdSemaphore.Store.KERNEL_COUNTER : EventFdSemaphore.Store.SHARED_MEMORY);
                OBJECTS.put(a[1], s);
                return String.valueOf(s.availablePermits());
            }
            case "open-lock": {
                EventFdLock l = EventFdLock.open(a[1]);
                OBJECTS.put(a[1], l);
                return String.valueOf(l.semaphore().availablePermits());
            }
            case "open-latch": {
                EventFdLatch l = EventFdLatch.open(a[1], Integer.parseInt(a[2]));
                OBJECTS.put(a[1], l);
                return String.valueOf(l.getCount());
            }
            case "acquire":
                semaphore(a[1]).acquire(Integer.parseInt(a[2]));
                return "";
            case "try":
                return String.valueOf(semaphore(a[1]).tryAcquire(Integer.parseInt(a[2])));
            case "release":
                semaphore(a[1]).release(Integer.parseInt(a[2]));
                return "";
            case "lock": {                               // the result: whether the previous holder died holding it
                EventFdLock l = (EventFdLock) OBJECTS.get(a[1]);
                l.lock();
                return String.valueOf(l.previousHolderDied());
            }
            case "unlock":
                ((EventFdLock) OBJECTS.get(a[1])).unlock();
                return "";
            case "wait-async": {                         // a thread that waits for N permits (and then keeps them)
                EventFdSemaphore sem = semaphore(a[1]);
                int n = Integer.parseInt(a[2]);
                Thread.ofVirtual().start(() -> {
                    try {
                        sem.acquire(n);
                        say("EVENT acquired " + a[1]);
                    } catch (Throwable t) {
                        say("EVENT failed " + a[1] + " " + t);
                    }
                });
                return "";
            }
            case "permits":
                return String.valueOf(semaphore(a[1]).availablePermits());
            case "count":
                return String.valueOf(latch(a[1]).getCount());
            case "countdown":
                latch(a[1]).countDown();
                return "";
            case "await-async": {
                EventFdLatch l = latch(a[1]);
                Thread.ofPlatform().name("await " + a[1]).start(() -> {
                    try {
                        say(l.await(AWAIT_SECONDS, TimeUnit.SECONDS) ? "EVENT returned " + a[1] : "EVENT timed-out " + a[1]);
                    } catch (Throwable t) {
                        say("EVENT failed " + a[1] + " " + t);
                    }
                });
                return "";
            }
            case "close": {
                Object o = OBJECTS.remove(a[1]);
                if (o == null) throw new IllegalArgumentException("nothing open as " + a[1]);
                ((AutoCloseable) o).close();
                return "";
            }
            case "eventfd-ids":
                return eventfdIds().toString().replace(" ", "");
            case "counter":
                return String.valueOf(counter(a[1], a[2], a[3], Path.of(a[4]), Integer.parseInt(a[5])));
            case "contend":                              // contend NAME START SECONDS THREADS: the grants
                return String.valueOf(contend(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4])));
            case "multi":
                return String.valueOf(multi(a[1], a[2], Integer.parseInt(a[3]), Integer.parseInt(a[4])));
            default:
                throw new IllegalArgumentException("unknown command " + a[0]);
        }
    }

    private static void awaitStart(String start) throws InterruptedException {
        EventFdLatch go = latch(start);
        say("EVENT ready");
        if (!go.await(AWAIT_SECONDS, TimeUnit.SECONDS)) throw new IllegalStateException("no start signal");
    }

    /** Increments the int in {@code file} {@code iterations} times, each under the lock or one permit. */
    private static int counter(String mode, String name, String start, Path file, int iterations) throws Exception {
        awaitStart(start);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int i = 0; i < iterations; i++) {
                if (mode.equals("lock")) {
                    EventFdLock lock = (EventFdLock) OBJECTS.get(name);
                    lock.lock();
                    try {
                        increment(ch);
                    } finally {
                        lock.unlock();
                    }
                } else {
                    EventFdSemaphore s = semaphore(name);
                    s.acquire();
                    try {
                        increment(ch);
                    } finally {
                        s.release();
                    }
                }
            }
        }
        return iterations;
    }

    /**
     * THREADS virtual threads loop acquire()/release() for SECONDS after START opens, holding each
     * permit for a moment of work; returns how many acquires succeeded in all.
     */
    private static long contend(String name, String start, int seconds, int threads) throws Exception {
        awaitStart(start);
        EventFdSemaphore s = semaphore(name);
        java.util.concurrent.atomic.LongAdder grants = new java.util.concurrent.atomic.LongAdder();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> all = new java.util.ArrayList<>();
        for (int i = 0; i < threads; i++) {
            all.add(Thread.ofVirtual().start(() -> {
                try {
                    while (System.nanoTime() - end < 0) {
                        if (!s.tryAcquire(1, TimeUnit.SECONDS)) continue;
                        try {
                            grants.increment();
                            for (int spin = 0; spin < 200; spin++) Thread.onSpinWait();   // the work under the permit
                        } finally {
                            s.release();
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
        }
        for (Thread t : all) t.join();
        return grants.sum();
    }

    private static int multi(String name, String start, int iterations, int n) throws Exception {
        awaitStart(start);
        EventFdSemaphore s = semaphore(name);
        for (int i = 0; i < iterations; i++) {
            s.acquire(n);
            s.release(n);
        }
        return iterations;
    }

    /** Reads the int at offset 0 and writes it back plus one (plain positional file I/O). */
    public static void increment(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        while (b.hasRemaining()) {
            if (ch.read(b, b.position()) < 0) throw new IOException("counter file shorter than 4 bytes");
        }
        int v = b.flip().getInt();
        b.clear().putInt(v + 1).flip();
        while (b.hasRemaining()) ch.write(b, b.position());
    }

    /** The eventfd-ids of every eventfd this process has open. */
    public static TreeSet<Long> eventfdIds() throws IOException {
        TreeSet<Long> ids = new TreeSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : fds.toList()) {
                ProcFs.eventfdId(Integer.parseInt(p.getFileName().toString())).ifPresent(ids::add);
            }
        }
        return ids;
    }

    // ------------------------------------------------------------------ the test's side

    /**
     * A fresh socket directory for one test class: {@code /tmp/efd-<random>}, mode 0700 (short, so that
     * socket paths stay well under the 107-byte limit). Set it as {@code eventfd.sync.dir}.
     */
    public static Path newSocketDirectory() {
        java.util.random.RandomGenerator random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; ; attempt++) {
            Path dir = Path.of("/tmp", "efd-" + Integer.toString(random.nextInt(36 * 36 * 36 * 36), 36));
            try {
                return Files.createDirectory(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                        java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
            } catch (java.nio.file.FileAlreadyExistsException taken) {
                if (attempt > 1000) throw new IllegalStateException("no free /tmp/efd-* name");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Deletes {@code dir} and everything under it; missing entries are not an error. */
    public static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The socket files of {@code kind} ("semaphore", "latch") and {@code name} in {@code dir}. */
    public static List<Path> sockets(Path dir, String kind, String name) {
        String prefix = kind + "." + name + ".";
        try (Stream<Path> all = Files.list(dir)) {
            return all.filter(p -> {
                String f = p.getFileName().toString();
                return f.startsWith(prefix) && f.substring(prefix.length()).matches("[0-9]+-[0-9]+\\.sock");
            }).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A running child, driven from the test JVM. */
    public static final class Handle implements AutoCloseable {
        private static final String EOF = "\u0000EOF";

        private final String label;
        private final Process process;
        private final OutputStream stdin;
        private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final List<String> backlog = new ArrayList<>();
        private final StringBuffer transcript = new StringBuffer();

        private Handle(String label, Process process) {
            this.label = label;
            this.process = process;
            this.stdin = process.getOutputStream();
            Thread.ofPlatform().daemon().name("reader " + label).start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) {
                        transcript.append(l).append('\n');
                        lines.add(l);
                    }
                } catch (IOException e) {
                    transcript.append("(reader: ").append(e).append(")\n");
                } finally {
                    lines.add(EOF);
                }
            });
        }

        /**
         * Starts a child JVM (the same java and class path as this one, through {@link ProcessBuilder},
         * so it inherits no descriptor above 2) with {@code -Deventfd.sync.dir=dir}, and waits until it
         * runs.
         */
        public static Handle start(String label, Path dir) {
            List<String> options = List.of("--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
                    "-Deventfd.sync.dir=" + dir, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx128m",
                    "-Xss1m");
            return startCommand(label, ForkedJvm.command(options, NamedParticipantChild.class));
        }

        /**
         * Starts any program speaking the same line protocol (e.g. {@code named_peer.py}), through
         * {@link ProcessBuilder}, stdout and stderr merged.
         */
        public static Handle startCommand(String label, List<String> command) {
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(ForkedJvm.baseDir().toFile())
                    .redirectErrorStream(true);
            try {
                return new Handle(label, pb.start());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** {@code python3 -u named_peer.py <args>} (src/test/resources/named/named_peer.py). */
        public static Handle python(String label, String... args) {
            List<String> command = new ArrayList<>(List.of("python3", "-u", pythonPeer().toString()));
            command.addAll(List.of(args));
            return startCommand(label, command);
        }

        /** The Python peer script as a file. */
        public static Path pythonPeer() {
            for (Path p : List.of(ForkedJvm.testClasses().resolve("named/named_peer.py"),
                    ForkedJvm.baseDir().resolve("src/test/resources/named/named_peer.py"))) {
                if (Files.isRegularFile(p)) return p;
            }
            throw new IllegalStateException("named/named_peer.py not found under " + ForkedJvm.baseDir());
        }

        public long pid() {
            return process.pid();
        }

        public String label() {
            return label;
        }

        public String transcript() {
            return transcript.toString();
        }

        /** Sends one command line. */
        public void send(String command) {
            try {
                stdin.write((command + "\n").getBytes(StandardCharsets.UTF_8));
                stdin.flush();
            } catch (IOException e) {
                throw new AssertionError(label + " (pid " + pid() + "): cannot send '" + command + "': " + e
                        + "\n" + transcript(), e);
            }
        }

        /** Sends {@code command} and returns its result, failing on ERR, on exit or after {@code timeout}. */
        public String call(String command, Duration timeout) {
            send(command);
            String verb = command.split(" ")[0];
            String line = expect(timeout, "OK " + verb, "ERR " + verb);
            if (line.startsWith("ERR ")) {
                throw new AssertionError(label + " (pid " + pid() + "): '" + command + "' failed: " + line
                        + "\ntranscript:\n" + transcript());
            }
            return line.length() > 4 + verb.length() ? line.substring(4 + verb.length()) : "";
        }

        /** {@link #call} with 60 s of patience. */
        public String call(String command) {
            return call(command, Duration.ofSeconds(60));
        }

        /** Sends {@code command} and returns the ERR line it must fail with. */
        public String callExpectingError(String command) {
            send(command);
            String verb = command.split(" ")[0];
            String line = expect(Duration.ofSeconds(60), "OK " + verb, "ERR " + verb);
            if (!line.startsWith("ERR ")) {
                throw new AssertionError(label + ": '" + command + "' succeeded: " + line);
            }
            return line;
        }

        /**
         * The next line (in order of arrival, skipping earlier lines that match none of the prefixes,
         * which stay available to later calls) starting with one of {@code prefixes}.
         */
        public String expect(Duration timeout, String... prefixes) {
            for (int i = 0; i < backlog.size(); i++) {
                if (matches(backlog.get(i), prefixes)) return backlog.remove(i);
            }
            long deadline = System.nanoTime() + timeout.toNanos();
            for (;;) {
                String l;
                try {
                    l = lines.poll(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new AssertionError("interrupted", e);
                }
                if (l == null) {
                    throw new AssertionError(label + " (pid " + pid() + "): no line starting with "
                            + List.of(prefixes) + " within " + timeout + "; transcript:\n" + transcript());
                }
                if (l.equals(EOF)) {
                    lines.add(EOF);
                    throw new AssertionError(label + " (pid " + pid() + ") ended before printing a line starting with "
                            + List.of(prefixes) + "; transcript:\n" + transcript());
                }
                if (matches(l, prefixes)) return l;
                backlog.add(l);
            }
        }

        /** Whether a line starting with {@code prefix} has arrived (and not been taken); never waits. */
        public boolean hasSeen(String prefix) {
            String l;
            while ((l = lines.poll()) != null) {
                if (l.equals(EOF)) {
                    lines.add(EOF);
                    break;
                }
                backlog.add(l);
            }
            return backlog.stream().anyMatch(b -> b.startsWith(prefix));
        }

        private static boolean matches(String line, String[] prefixes) {
            for (String p : prefixes) if (line.startsWith(p)) return true;
            return false;
        }

        /** Asks the child to exit and returns its exit code. */
        public int exit(Duration timeout) {
            send("exit");
            return waitFor(timeout);
        }

        /** Waits for the child to end; kills it and fails after {@code timeout}. */
        public int waitFor(Duration timeout) {
            try {
                if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    process.destroyForcibly();
                    throw new AssertionError(label + " (pid " + pid() + ") did not end within " + timeout
                            + "; transcript:\n" + transcript());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
            return process.exitValue();
        }

        /** {@code kill -9}, then reaps the child. */
        public void kill() {
            process.destroyForcibly();     // SIGKILL on Linux
            try {
                if (!process.waitFor(30, TimeUnit.SECONDS)) throw new AssertionError(label + " survived SIGKILL");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }

        public boolean isAlive() {
            return process.isAlive();
        }

        /** Kills the child if it still runs. */
        @Override
        public void close() {
            if (process.isAlive()) kill();
        }

        @Override
        public String toString() {
            return label + "[pid " + pid() + "]";
        }
    }
}
