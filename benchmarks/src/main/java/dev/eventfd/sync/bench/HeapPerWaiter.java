package dev.eventfd.sync.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Row 5, memory: heap retained per virtual thread blocked in {@code acquire()} on one semaphore of 0
 * permits. After two warm-up rounds, for each repetition: live heap after full GC (the heap pools'
 * collection usage) before; start N virtual threads that block; wait until all N are queued; live heap
 * after full GC; (after - before) / N; then release them all and join. Prints one JSON object (medians
 * over the repetitions) to stdout, and each repetition to stderr.
 *
 * <pre>
 *   java --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC -Xmx4g -cp benchmarks.jar \
 *        dev.eventfd.sync.bench.HeapPerWaiter IMPL WAITERS [REPETITIONS]
 * </pre>
 * IMPL is {@code juc} or {@code eventfd}. Run each implementation in its own JVM (run.sh does).
 */
public final class HeapPerWaiter {
    private HeapPerWaiter() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: HeapPerWaiter juc|eventfd WAITERS [REPETITIONS]");
            System.exit(2);
        }
        String impl = args[0];
        int waiters = Integer.parseInt(args[1]);
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 3;

        // Warm-up at full size (up to 100k): the size of a parked virtual thread's stack chunk depends
        // on the compiled size of the frames it froze, so the acquire path must be JIT-compiled first,
        // or the first repetition measures interpreter frames (about twice as large).
        for (int i = 0; i < 2; i++) measure(impl, Math.min(waiters, 100_000), false);

        double[] perWaiter = new double[reps];
        double[] releaseMillis = new double[reps];
        for (int r = 0; r < reps; r++) {
            double[] m = measure(impl, waiters, true);
            perWaiter[r] = m[0];
            releaseMillis[r] = m[1];
        }
        System.out.printf(Locale.ROOT,
                "{\"impl\": \"%s\", \"waiters\": %d, \"repetitions\": %d, \"bytesPerWaiterMedian\": %.1f, "
                        + "\"bytesPerWaiter\": %s, \"releaseAllMillisMedian\": %.2f, \"jdk\": \"%s\"}%n",
                impl, waiters, reps, median(perWaiter), Arrays.toString(perWaiter), median(releaseMillis),
                Runtime.version());
    }

    /** @return {bytes per waiter, ms to release all} */
    private static double[] measure(String impl, int n, boolean log) throws Exception {
        Semaphore s = Impl.semaphore(impl, 0);
        try {
            CountDownLatch done = new CountDownLatch(n);
            Runnable waiter = () -> {
                try {
                    s.acquire();
                    done.countDown();
                } catch (InterruptedException e) {
                    // not expected
                }
            };
            long before = liveHeap();
            Thread[] threads = new Thread[n];            // held in both runs alike: 4 bytes per waiter
            for (int i = 0; i < n; i++) threads[i] = Thread.ofVirtual().start(waiter);
            ReleaseAllBenchmark.awaitQueued(s, n, 300);
            long after = liveHeap();
            if (log) System.err.printf(Locale.ROOT, "%s, %d waiters: live heap before %,d B, blocked %,d B: %.1f B/waiter%n",
                    impl, n, before, after, (after - before) / (double) n);
            long t0 = System.nanoTime();
            s.release(n);
            if (!done.await(300, TimeUnit.SECONDS)) throw new IllegalStateException("waiters never woke");
            long t1 = System.nanoTime();
            Impl.joinAll(threads, 60_000);
            return new double[] {(after - before) / (double) n, (t1 - t0) / 1e6};
        } finally {
            Impl.close(s);
        }
    }

    /**
     * The heap in use right after a full GC: the sum of every heap pool's collection usage (which,
     * unlike {@code MemoryMXBean} used heap, does not count the unused rest of threads' TLABs). GCs
     * until it stops shrinking: the garbage of a previous repetition can take a few cycles to go.
     */
    private static long liveHeap() throws InterruptedException {
        long best = Long.MAX_VALUE;
        for (int i = 0, stable = 0; i < 12 && stable < 2; i++) {
            System.gc();
            Thread.sleep(100);
            long live = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getCollectionUsage() != null) {
                    live += pool.getCollectionUsage().getUsed();
                }
            }
            if (live < best) {
                stable = best - live < 64 * 1024 ? stable + 1 : 0;
                best = live;
            } else {
                stable++;
            }
        }
        return best;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
}
