package dev.eventfd.sync.bench;

import dev.eventfd.sync.EventFdLock;
import dev.eventfd.sync.EventFdSemaphore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Row 7: lock recovery. A child JVM ({@link CrossProcessPeer} {@code holdLock} / {@code holdFileLock})
 * holds the lock and a thread of this JVM waits for it (checked before the measurement: the named
 * lock's {@code holders()} shows it waiting and this JVM's epoll set has the holder's pidfd;
 * {@code /proc/locks} shows the blocked {@code fcntl}). One
 * op = SIGKILL of the holder until the waiter holds the lock: the kernel's teardown of the killed
 * process, the release the death causes and the waiter's wake-up. Single shot, ms.
 * <ul>
 * <li>{@code eventfdLock}: a named {@link EventFdLock}; the waiter is a virtual thread, woken through
 *     the poller when the holder's pidfd becomes readable (its slot is then recovered, the waiters rung);
 * <li>{@code fileLock}: {@code FileChannel.lock()} on a shared file; the waiter is a platform thread
 *     blocked in {@code fcntl(F_SETLKW)}, which the kernel grants when the holder's locks go.
 * </ul>
 * A new child per op: its start (about a second) is in the untimed per-invocation setup.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 10)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx512m"})
public class LockRecoveryBenchmark {

    @Param({"eventfdLock", "fileLock"})
    public String impl;

    private final long pid = ProcessHandle.current().pid();
    private String name;
    private Path file;
    private EventFdLock lock;
    private FileChannel channel;

    private Process holder;
    private Thread waiter;
    private CountDownLatch acquired;
    private CountDownLatch done;
    private volatile Throwable waiterFailure;

    @Setup(Level.Trial)
    public void setupTrial() throws IOException {
        switch (impl) {
            case "eventfdLock" -> {
                name = "bench-recovery-" + pid;
                lock = EventFdLock.open(name);
            }
            case "fileLock" -> {
                file = Files.createTempFile("bench-recovery-", ".lock");
                channel = FileChannel.open(file, StandardOpenOption.WRITE);
            }
            default -> throw new IllegalArgumentException("impl " + impl);
        }
    }

    @TearDown(Level.Trial)
    public void tearDownTrial() throws IOException {
        if (lock != null) lock.close();
        if (channel != null) channel.close();
        if (file != null) Files.deleteIfExists(file);
    }

    @Setup(Level.Invocation)
    public void startHolderAndWaiter() throws Exception {
        holder = CrossProcessHandOffBenchmark.startChild(
                lock != null ? List.of("holdLock", name) : List.of("holdFileLock", file.toString()));
        CrossProcessHandOffBenchmark.awaitReady(holder, 60);
        acquired = new CountDownLatch(1);
        done = new CountDownLatch(1);
        waiterFailure = null;
        waiter = (lock != null ? Thread.ofVirtual() : Thread.ofPlatform().daemon()).name("waiter").start(this::waitForLock);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!waiting()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the waiter did not start waiting within 30 s");
            if (acquired.getCount() == 0) throw new IllegalStateException("the waiter got the lock while the holder lived", waiterFailure);
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);   // a polling pause between reads of /proc
        }
    }

    /** The waiter: takes the lock, says so, keeps it until the invocation's teardown. */
    private void waitForLock() {
        try {
            if (lock != null) {
                lock.lock();
                try {
                    acquired.countDown();
                    done.await();
                } finally {
                    lock.unlock();
                }
            } else {
                try (FileLock held = channel.lock()) {
                    acquired.countDown();
                    done.await();
                }
            }
        } catch (Throwable t) {
            waiterFailure = t;
            acquired.countDown();
        }
    }

    /** Whether the waiter waits: shown in the named lock's holders, or as a blocked request in /proc/locks. */
    private boolean waiting() throws IOException {
        if (lock != null) {
            for (EventFdSemaphore.Holder h : lock.semaphore().holders()) {
                if (h.pid() == pid && h.waiting() > 0) return watchesExitOf(holder.pid());
            }
            return false;
        }
        String mine = " " + pid + " ";
        for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
            if (line.contains("->") && line.contains(mine)) return true;   // "N: -> POSIX  ADVISORY  WRITE PID ..."
        }
        return false;
    }

    /**
     * Whether this JVM watches {@code holderPid}'s exit: a pidfd of it (fdinfo {@code Pid}) is in an
     * epoll set (an {@code eventpoll} descriptor's fdinfo lists it as a {@code tfd}). Until then the
     * waiter's watch is still asking the holder for its pidfd, and a kill would be noticed by the
     * library's fallback for participants that die while asked, not as the event measured here.
     */
    private static boolean watchesExitOf(long holderPid) throws IOException {
        Set<String> pidfds = new HashSet<>();
        List<Path> epolls = new ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException closed) {
                    continue;
                }
                Path info = Path.of("/proc/self/fdinfo", fd.getFileName().toString());
                if (target.equals("anon_inode:[eventpoll]")) epolls.add(info);
                else if (target.equals("anon_inode:[pidfd]") && lines(info).contains("Pid:\t" + holderPid)) pidfds.add(fd.getFileName().toString());
            }
        }
        for (Path ep : epolls) {
            for (String line : lines(ep)) {
                String[] words = line.strip().split("\\s+");           // "tfd:       12 events: ..."
                if (words.length > 1 && words[0].equals("tfd:") && pidfds.contains(words[1])) return true;
            }
        }
        return false;
    }

    private static List<String> lines(Path p) {
        try {
            return Files.readAllLines(p);
        } catch (IOException closed) {
            return List.of();
        }
    }

    @Benchmark
    public void killHolderUntilWaiterHolds() throws Exception {
        holder.destroyForcibly();                        // SIGKILL
        if (!acquired.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("the waiter did not get the lock within 30 s of the kill");
        if (waiterFailure != null) throw new IllegalStateException("the waiter failed", waiterFailure);
    }

    @TearDown(Level.Invocation)
    public void stopHolderAndWaiter() throws InterruptedException {
        if (done != null) done.countDown();
        if (holder != null) {
            holder.destroyForcibly();                    // a no-op after the measurement; not after a failed setup
            if (!holder.waitFor(10, TimeUnit.SECONDS)) throw new IllegalStateException("holder " + holder.pid() + " survived SIGKILL");
        }
        if (waiter != null && !waiter.join(java.time.Duration.ofSeconds(10))) {
            waiter.interrupt();
            throw new IllegalStateException("the waiter did not finish within 10 s");
        }
    }
}
