package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code eventfd-sync demo}: 10,000 virtual threads through an {@link EventFdSemaphore} of 4 permits on a
 * single carrier thread, beside the same run through {@link Semaphore}; then a second JVM joins the
 * semaphore by name and the two share it.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Shows the library at work: virtual threads on one carrier, then two JVMs sharing a semaphore.")
final class DemoCommand implements Callable<Integer> {

    private static final int PERMITS = 4;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "10000", description = "virtual threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--peer", hidden = true, description = "run as the second JVM of the demo, joining this name")
    String peer;

    /** One semaphore under demonstration, seen through the methods both implementations share. */
    private record Row(String label, int mostHolders, int permitsAtEnd, long millis) {}

    @Override
    public Integer call() throws Exception {
        Main.atLeast(spec, "--threads", threads, 1);
        if (peer != null) return runPeer(peer);
        if (!"1".equals(System.getProperty("jdk.virtualThreadScheduler.parallelism"))) {
            return restartWithOneCarrier();
        }
        say("eventfd-sync demo");
        say("=================");
        say("This JVM runs virtual threads on ONE carrier thread (jdk.virtualThreadScheduler.parallelism=1).");
        say("If a blocked acquire held its carrier, nothing else could run and the demo would stop.");
        say("");
        say("1. %,d virtual threads share %d permits; each takes one, works briefly, gives it back.", threads, PERMITS);
        Row ours;
        try (EventFdSemaphore semaphore = new EventFdSemaphore(PERMITS)) {
            ours = crowd("EventFdSemaphore(" + PERMITS + ")", semaphore, semaphore::availablePermits);
        }
        Semaphore juc = new Semaphore(PERMITS);
        Row theirs = crowd("j.u.c.Semaphore(" + PERMITS + ")", juc, juc::availablePermits);
        say("");
        say("   %-26s %14s %15s %10s", "", "most holders", "permits at end", "time");
        for (Row r : List.of(ours, theirs)) {
            say("   %-26s %14d %15d %7d ms", r.label(), r.mostHolders(), r.permitsAtEnd(), r.millis());
        }
        boolean held = ours.mostHolders() <= PERMITS && ours.permitsAtEnd() == PERMITS;
        say(held ? "   The eventfd semaphore never let more than %d threads in, and every permit came back."
                 : "   UNEXPECTED: the eventfd semaphore did not keep its limit of %d permits.", PERMITS);
        say("");
        int shared = twoJvms();
        return held ? shared : 1;
    }

    private Row crowd(String label, Semaphore semaphore, java.util.function.IntSupplier permits) throws Exception {
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        long start = System.nanoTime();
        List<Thread> all = new ArrayList<>(threads);
        for (int i = 0; i < threads; i++) {
            all.add(Thread.ofVirtual().start(() -> {
                semaphore.acquireUninterruptibly();
                try {
                    most.accumulateAndGet(holders.incrementAndGet(), Math::max);
                    Thread.yield();                 // a little work, and a chance for others to run
                    holders.decrementAndGet();
                } finally {
                    semaphore.release();
                }
                done.incrementAndGet();
            }));
        }
        Progress bar = new Progress(label, threads);
        for (Thread t : all) {
            while (!t.join(java.time.Duration.ofMillis(100))) bar.show(done.get());
            bar.show(done.get());
        }
        bar.finish();
        return new Row(label, most.get(), permits.getAsInt(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }

    private int twoJvms() throws Exception {
        String name = "demo-" + ProcessHandle.current().pid();
        say("2. Two JVMs share one semaphore by name ('%s', 2 permits).", name);
        try (EventFdSemaphore shared = EventFdSemaphore.open(name, 2)) {
            Process other = new ProcessBuilder(javaCommand("demo", "--peer", name))
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (BufferedReader fromOther = new BufferedReader(new InputStreamReader(other.getInputStream(), StandardCharsets.UTF_8));
                 PrintWriter toOther = new PrintWriter(other.getOutputStream(), true, StandardCharsets.UTF_8)) {
                String line = fromOther.readLine();
                if (!"HOLDING".equals(line)) throw new IllegalStateException("the second JVM said: " + line);
                say("   The second JVM (pid %d) joined by name and took both permits.", other.pid());
                say("   Here: availablePermits() = %d, tryAcquire() = %s.", shared.availablePermits(), shared.tryAcquire());
                Thread waiter = Thread.ofVirtual().start(shared::acquireUninterruptibly);
                while (shared.getQueueLength() == 0) Thread.onSpinWait();
                say("   A virtual thread here now waits in acquire(): queue length %d, the carrier stays free.",
                        shared.getQueueLength());
                long asked = System.nanoTime();
                toOther.println("RELEASE");
                waiter.join();
                say("   The second JVM released; the poller woke the waiter here after %,d µs.",
                        TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - asked));
                shared.release();
                int status = other.waitFor();
                say("   The second JVM exited (%d); permits here: %d.", status, shared.availablePermits());
                return status;
            }
        }
    }

    private static int runPeer(String name) throws Exception {
        try (EventFdSemaphore shared = EventFdSemaphore.open(name, 2)) {
            shared.acquire(2);
            System.out.println("HOLDING");
            System.out.flush();
            String line = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            shared.release(2);
            return "RELEASE".equals(line) ? 0 : 1;
        }
    }

    private int restartWithOneCarrier() throws Exception {
        List<String> cmd = javaCommand("demo", "--threads", Integer.toString(threads));
        if (Main.debugging(spec.root().commandLine().getParseResult())) cmd.add("--debug");
        cmd.addAll(1, List.of("-Djdk.virtualThreadScheduler.parallelism=1", "-Djdk.virtualThreadScheduler.maxPoolSize=1"));
        return new ProcessBuilder(cmd).inheritIO().start().waitFor();
    }

    /** This program again, in a new JVM of the same java, with native access and the same socket directory. */
    static List<String> javaCommand(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        String dir = System.getProperty("eventfd.sync.dir");
        if (dir != null) cmd.add("-Deventfd.sync.dir=" + dir);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        return cmd;
    }

    static void say(String format, Object... args) {
        System.out.println(String.format(format, args));
    }
}
