package dev.eventfd.sync.internal.store;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Wall-clock milliseconds for time stamps that a hot path takes and a person reads, such as when a
 * process began to hold permits ({@link SlotPermits#holders}): a volatile read instead of a clock
 * read. {@link System#currentTimeMillis()} costs about 20 ns even through the vDSO, three times a
 * whole {@link java.util.concurrent.Semaphore} acquire and release, and an uncontended take stamps
 * its slot each time its process's holding rises from zero.
 *
 * <h2>Implementation overview</h2>
 * One daemon platform thread per JVM, the ticker, started by {@link #start()} when the JVM first
 * joins a shared-memory store (not by a stamp: a stamp never makes a thread or a system call). It is
 * a platform thread because virtual threads that keep every carrier busy would freeze the time. It
 * is either <em>ticking</em>, refreshing {@code now} every {@value #TICK_MILLIS} ms, or
 * <em>resting</em>, parked for {@value #REST_MILLIS} ms at a time, so a JVM whose semaphores are
 * idle wakes once a second. A stamp while it ticks reads {@code now} and sets {@code used}; a stamp
 * while it rests (or with no ticker) reads the clock itself and sets {@code wanted}. The ticker
 * rests after {@value #IDLE_TICKS} ticks no stamp used, and ticks again once it finds
 * {@code wanted} set, writing {@code now} before it sets {@code ticking}: a stamp reads
 * {@code now} only once it is fresh. So a stamp lags the clock by at most one tick plus however
 * late the OS runs the ticker, and never leads it; stamps that begin while it rests pay the clock
 * read for up to {@value #REST_MILLIS} ms. A stamp never throws: without a ticker, stamps read the
 * clock.
 */
final class CoarseClock {

    /** How often the ticker refreshes the time while stamps are taken. */
    static final long TICK_MILLIS = 10;
    /** How long the ticker parks at a time while nobody stamps. */
    static final long REST_MILLIS = 1_000;
    /** Ticks that no stamp used before the ticker rests. */
    static final int IDLE_TICKS = 10;

    /** Whether the ticker refreshes {@code now} (written by the ticker only). */
    private static volatile boolean ticking;
    /** The time as of the last tick; valid while ticking. */
    private static volatile long now;
    /** A stamp used {@code now} since the last tick; cleared by the ticker. */
    private static volatile boolean used;
    /** A stamp read the clock while the ticker rested; cleared by the ticker. */
    private static volatile boolean wanted;
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private CoarseClock() {}

    /** Milliseconds since the epoch, at most about {@value #TICK_MILLIS} ms behind the clock. */
    static long millis() {
        if (ticking) {                       // then now is a tick's value (written before ticking was set)
            if (!used) used = true;          // a plain check first: the common case writes nothing
            return now;
        }
        if (!wanted) wanted = true;
        return System.currentTimeMillis();
    }

    /** Starts the ticker unless it runs; off the hot path (a store's join). Never throws. */
    static void start() {
        if (STARTED.get() || !STARTED.compareAndSet(false, true)) return;
        try {
            Thread.ofPlatform().daemon().name("eventfd-sync clock").start(CoarseClock::tick);
        } catch (RuntimeException | OutOfMemoryError e) {
            STARTED.set(false);              // no ticker: stamps read the clock; the next join tries again
        }
    }

    /** Whether the ticker refreshes the time now, for tests. */
    static boolean ticking() {
        return ticking;
    }

    private static void tick() {
        for (int idle = 0; ; ) {
            if (!ticking) {
                LockSupport.parkNanos(REST_MILLIS * 1_000_000L);
                if (!wanted) continue;
                wanted = false;
                now = System.currentTimeMillis();
                used = false;
                idle = 0;
                ticking = true;              // after now: a stamp that sees it reads a fresh time
                continue;
            }
            LockSupport.parkNanos(TICK_MILLIS * 1_000_000L);
            now = System.currentTimeMillis();
            if (used) {
                used = false;
                idle = 0;
            } else if (++idle >= IDLE_TICKS) {
                ticking = false;             // nobody stamped for a while: rest until someone does
            }
        }
    }
}
