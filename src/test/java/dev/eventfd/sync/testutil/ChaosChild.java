package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdSemaphore;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A child JVM of the kill-chaos test: opens the named semaphore (args: name, permits, store), prints
 * {@code READY}, and loops on two virtual threads until a {@code stop} line arrives on stdin, one
 * thread with {@code acquire()}/{@code release()}, the other with {@code acquire(n)}/{@code release(n)}
 * for n of 2 or 3. Then it prints {@code DONE grants=<acquires>}, closes the semaphore and exits 0.
 */
public final class ChaosChild {

    public static void main(String[] args) throws Exception {
        EventFdSemaphore s = EventFdSemaphore.open(args[0], Integer.parseInt(args[1]), false,
                EventFdSemaphore.Store.valueOf(args[2]));
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong grants = new AtomicLong();
        Thread single = Thread.ofVirtual().start(() -> loop(s, stop, grants, false));
        Thread multi = Thread.ofVirtual().start(() -> loop(s, stop, grants, true));
        System.out.println("READY");
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        for (String line; (line = in.readLine()) != null && !line.equals("stop"); ) {
            // nothing else is asked
        }
        stop.set(true);
        single.join();
        multi.join();
        System.out.println("DONE grants=" + grants.get());
        s.close();
    }

    private static void loop(EventFdSemaphore s, AtomicBoolean stop, AtomicLong grants, boolean multi) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        try {
            while (!stop.get()) {
                int n = multi ? 2 + r.nextInt(2) : 1;
                if (!s.tryAcquire(n, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) continue;   // looks at stop again
                grants.incrementAndGet();
                for (int spin = r.nextInt(2_000); spin > 0; spin--) Thread.onSpinWait();   // the work done holding
                s.release(n);
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
