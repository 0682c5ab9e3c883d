package dev.eventfd.sync.internal.store;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.locks.LockSupport;

/**
 * Wall-clock milliseconds for time stamps that a hot path takes and a person reads, such as when a
 * process began to hold permits ({@link SlotPermits#holders}): a volatile read instead of a clock
 * read. {@link System#currentTimeMillis()} costs about 20 ns even through the vDSO, three times a
 * whole {@link java.util.concurrent.Semaphore} acquire and release, and an uncontended take stamps
 * its slot each time its process's holding rises from zero.
 *
 * <h2>Implementation overview</h2>
 * A daemon platform thread (not a virtual one: virtual threads that keep every carrier busy would
 * freeze the time) refreshes {@code now} every {@value #TICK_MILLIS} ms while stamps are being
 * taken. It stops after {@value #START_MILLIS} ms that no stamp needed, so an idle JVM is never
 * woken, and it starts only once two stamps come within {@value #START_MILLIS} ms of each other, so
 * a short-lived process that stamps once (an {@code eventfd-sync run}) starts no thread, and stamps
 * that keep coming keep the one thread. State goes {@code STOPPED -> STARTING -> RUNNING ->
 * STOPPED}: the stamper that wins the CAS out of STOPPED reads the clock after it and writes
 * {@code now} before it sets RUNNING, so a stamp is read from {@code now} only once it is fresh, and
 * every stamp taken while the state is not RUNNING reads the clock itself. A stamper that saw
 * RUNNING just before the ticker stopped reads a value at most one tick old. So a stamp lags the
 * clock by at most one tick plus however late the OS runs the ticker, and never leads it. A stamp
 * never throws: if the ticker cannot start, stamps go on reading the clock.
 */
final class CoarseClock {

    /** How often the ticker refreshes the time while it runs. */
    static final long TICK_MILLIS = 10;
    /** Stamps closer together than this start the ticker; a ticker this long unused stops. */
    static final long START_MILLIS = 100;

    private static final int STOPPED = 0, STARTING = 1, RUNNING = 2;

    /** STOPPED, STARTING or RUNNING (CAS). */
    private static volatile int state;
    /** The time as of the last tick; valid while RUNNING. */
    private static volatile long now;
    /** A stamp used {@code now} since the last tick; cleared by the ticker. */
    private static volatile boolean used;
    /** The clock as the last stamp that read it saw it. */
    private static volatile long lastRead;
    /** Makes the ticker's thread; replaced by tests that make it fail. */
    static volatile ThreadFactory tickers = Thread.ofPlatform().daemon().name("eventfd-sync clock").factory();

    private static final VarHandle STATE;
    static {
        try {
            STATE = MethodHandles.lookup().findStaticVarHandle(CoarseClock.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private CoarseClock() {}

    /** Milliseconds since the epoch, at most about {@value #TICK_MILLIS} ms behind the clock. */
    static long millis() {
        if (state == RUNNING) {              // then now is a tick's value (written before RUNNING was set)
            if (!used) used = true;          // a plain check first: the common case writes nothing
            return now;
        }
        return start();
    }

    /** Whether the ticker runs, for tests. */
    static boolean running() {
        return state != STOPPED;
    }

    /** Reads the clock, and starts the ticker if it is stopped and stamps come often. */
    private static long start() {
        long t = System.currentTimeMillis(), last = lastRead;
        lastRead = t;
        if (t - last >= START_MILLIS || state != STOPPED || !STATE.compareAndSet(STOPPED, STARTING)) return t;
        t = System.currentTimeMillis();      // after the CAS: a starter that stalled before it publishes no old time
        now = t;
        used = true;
        Thread ticker;
        try {
            ticker = tickers.newThread(CoarseClock::tick);
            if (ticker == null) throw new IllegalStateException("no thread for the clock");
            state = RUNNING;                 // after now: a reader that sees RUNNING sees a fresh now
            ticker.start();
        } catch (RuntimeException | Error e) {
            state = STOPPED;                 // no ticker: stamps read the clock themselves
        }
        return t;
    }

    private static void tick() {
        for (long idle = 0; ; ) {
            LockSupport.parkNanos(TICK_MILLIS * 1_000_000L);
            now = System.currentTimeMillis();
            if (used) {
                used = false;
                idle = 0;
            } else if (++idle * TICK_MILLIS >= START_MILLIS) {   // nobody stamped for a while: stop until someone does
                state = STOPPED;
                return;
            }
        }
    }
}
