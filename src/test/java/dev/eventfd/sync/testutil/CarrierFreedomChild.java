package dev.eventfd.sync.testutil;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Poller;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Child JVM for CarrierFreedomTest, run with one carrier thread: {@code descriptors x perDescriptor}
 * virtual threads await empty eventfds through a poller while a ticker virtual thread must keep running;
 * then one write per descriptor wakes them all. Prints {@code CARRIER-FREEDOM OK ...} and exits 0, or
 * prints {@code CARRIER-FREEDOM FAIL ...} and exits 1.
 */
public final class CarrierFreedomChild {

    private static final long DEADLINE_SECONDS = 60;

    public static void main(String[] args) throws Exception {
        try {
            if (args[0].equals("control")) {
                control();
            } else {
                int descriptors = Integer.parseInt(args[0]);
                int perDescriptor = Integer.parseInt(args[1]);
                run(descriptors, perDescriptor, descriptors * perDescriptor);
            }
        } catch (Throwable t) {
            System.out.println("CARRIER-FREEDOM FAIL " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run(int descriptors, int perDescriptor, int total) throws Exception {
        check("parallelism=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.parallelism")));
        check("maxPoolSize=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.maxPoolSize")));
        Poller poller = Poller.start("child-poller");
        List<EventFd> fds = new ArrayList<>();
        for (int i = 0; i < descriptors; i++) fds.add(EventFd.create(0, false, "fd" + i));

        AtomicLong ticks = new AtomicLong();
        // The ticker parks between ticks rather than spinning on Thread.yield(): a yielding virtual
        // thread goes back to the carrier's local queue, which the only carrier would serve before the
        // external queue that the waiters are started into, starving them.
        Thread ticker = Thread.ofVirtual().name("ticker").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                ticks.incrementAndGet();
                LockSupport.parkNanos(200_000);
            }
        });

        CountDownLatch done = new CountDownLatch(total);
        AtomicLong ready = new AtomicLong();
        Map<String, Long> others = new ConcurrentHashMap<>();
        List<Thread> waiters = new ArrayList<>(total);
        for (int i = 0; i < total; i++) {
            EventFd fd = fds.get(i % descriptors);
            waiters.add(Thread.ofVirtual().start(() -> {
                try {
                    Poller.Outcome o = poller.await(fd, false, 0, true);
                    if (o == Poller.Outcome.READY) ready.incrementAndGet();
                    else others.merge(o.name(), 1L, Long::sum);
                } catch (Throwable t) {
                    others.merge(t.toString(), 1L, Long::sum);
                } finally {
                    done.countDown();
                }
            }));
        }

        waitUntil("all " + total + " waiters are queued", () -> poller.queuedWaiters() == total);
        check("one registration per descriptor", poller.registeredDescriptors() == descriptors);
        waitUntil("every waiter is parked", () -> waiters.stream().allMatch(t -> t.getState() == Thread.State.WAITING));
        // every waiter is blocked now: the one carrier must still run the ticker
        long before = ticks.get();
        waitUntil("the ticker advances while all waiters are blocked", () -> ticks.get() >= before + 100);
        long advanced = ticks.get() - before;
        check("still all queued while the ticker ran", poller.queuedWaiters() == total);
        check("nobody returned early", done.getCount() == total);
        long carrierThreads = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ForkJoinPool-") && t.getName().contains("worker")).count();
        check("at most one carrier thread (found " + carrierThreads + ")", carrierThreads <= 1);

        for (EventFd fd : fds) check("write", fd.tryWrite(1));
        check("all " + total + " woken", done.await(DEADLINE_SECONDS, TimeUnit.SECONDS));
        check("all READY (ready=" + ready.get() + ", others=" + others + ")", ready.get() == total && others.isEmpty());
        for (Thread t : waiters) check("waiter ended", t.join(java.time.Duration.ofSeconds(DEADLINE_SECONDS)));
        check("nothing registered afterwards (" + poller.registeredDescriptors() + ")", poller.registeredDescriptors() == 0);
        check("nothing queued afterwards (" + poller.queuedWaiters() + ")", poller.queuedWaiters() == 0);
        ticker.interrupt();
        check("ticker ended", ticker.join(java.time.Duration.ofSeconds(DEADLINE_SECONDS)));
        for (EventFd fd : fds) fd.close();
        poller.shutdown();
        System.out.println("CARRIER-FREEDOM OK waiters=" + total + " descriptors=" + descriptors
                + " ticksWhileBlocked=" + advanced + " carrierThreads=" + carrierThreads);
        System.out.flush();
    }

    /**
     * The negative control: a virtual thread blocked in a native read of a blocking eventfd keeps the
     * only carrier, so the ticker stops until the read returns. Shows that the harness can see it.
     */
    private static void control() throws Exception {
        check("parallelism=1", "1".equals(System.getProperty("jdk.virtualThreadScheduler.parallelism")));
        AtomicLong ticks = new AtomicLong();
        Thread ticker = Thread.ofVirtual().name("ticker").start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                ticks.incrementAndGet();
                LockSupport.parkNanos(200_000);
            }
        });
        waitUntil("the ticker runs", () -> ticks.get() >= 10);
        int fd = dev.eventfd.sync.internal.Native.eventfd(0, dev.eventfd.sync.internal.Native.EFD_CLOEXEC);
        AtomicLong entered = new AtomicLong();
        Thread blocked = Thread.ofVirtual().start(() -> {
            entered.set(ticks.get());
            dev.eventfd.sync.internal.Native.readCounter(fd);  // blocking read: holds the carrier
        });
        waitUntil("the reader started", () -> entered.get() != 0);
        long before = ticks.get();
        // a negative check needs some time to pass: the ticker must not move while the carrier is held
        Thread.sleep(500);
        long during = ticks.get() - before;
        dev.eventfd.sync.internal.Native.writeCounter(fd, 1);
        check("reader ended", blocked.join(java.time.Duration.ofSeconds(DEADLINE_SECONDS)));
        long after = ticks.get();
        waitUntil("the ticker runs again", () -> ticks.get() >= after + 10);
        ticker.interrupt();
        dev.eventfd.sync.internal.Native.close(fd);
        System.out.println("CARRIER-FREEDOM CONTROL ticksWhileCarrierHeld=" + during);
        System.out.flush();
    }

    private static void check(String what, boolean ok) {
        if (!ok) throw new AssertionError(what);
    }

    private static void waitUntil(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) throw new AssertionError("timed out waiting until " + what);
            LockSupport.parkNanos(1_000_000);
        }
    }
}
