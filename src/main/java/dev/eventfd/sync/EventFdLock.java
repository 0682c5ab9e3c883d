package dev.eventfd.sync;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;

/**
 * A mutual-exclusion {@link Lock} that several processes can share: a binary
 * {@link EventFdSemaphore} with an owner. Waiting parks (a waiting virtual thread holds no carrier),
 * and a lock opened by name ({@link #open(String)}) excludes every thread of every process that opens
 * the same name.
 *
 * <pre> {@code
 * try (EventFdLock lock = EventFdLock.open("build-cache")) {
 *   lock.lock();
 *   try {
 *     updateCache();                  // one process at a time, on this machine
 *   } finally {
 *     lock.unlock();
 *   }
 * }}</pre>
 *
 * <p>The lock is <b>not reentrant</b>: a thread that already holds it and calls {@code lock()} or
 * {@code tryLock()} again gets an {@link IllegalMonitorStateException} instead of deadlocking with
 * itself. Only the holding thread may {@link #unlock()}; any other thread gets an
 * {@code IllegalMonitorStateException}, as with {@link java.util.concurrent.locks.ReentrantLock}.
 * Ownership is a thread of this JVM; between processes the permit itself is the exclusion. A process
 * killed while holding a named lock releases it: the death wakes the next waiter, in any process (the
 * named semaphore's shared-memory store; see {@link EventFdSemaphore.Store#SHARED_MEMORY}), and
 * the next holder can ask {@link #previousHolderDied()}, as a robust mutex reports {@code EOWNERDEAD}:
 * the first holder after the death is told, in whatever process, and nobody else. Processes that take
 * the permit through {@code EventFdSemaphore.open(name, 1)} (or a non-Java peer) are not told, and
 * leave the report to the next holder through an {@code EventFdLock}. A process that closes the lock
 * while one of its threads holds it counts as one that died holding it.
 *
 * <p>{@link #newCondition()} is not supported: a condition would have to wake waiters in other
 * processes, which an eventfd permit cannot express. It throws {@link UnsupportedOperationException}.
 *
 * <p>Memory consistency effects: as for {@link Lock}, within one JVM: a successful {@code lock}
 * happens-after the previous {@code unlock} in this JVM.
 */
public class EventFdLock implements Lock, AutoCloseable {

    private final EventFdSemaphore permit;
    /** The holding thread of this JVM, or null. Written only by the holder (volatile). */
    private volatile Thread owner;
    /** Whether the holder before the current one died holding the lock. Written by the holder, before owner. */
    private boolean previousDied;

    /** Creates an unnamed lock, shareable through its semaphore's descriptors only. */
    public EventFdLock() {
        this(new EventFdSemaphore(1));
    }

    private EventFdLock(EventFdSemaphore permit) {
        this.permit = permit;
        permit.objectKind = "lock";
    }

    /**
     * Opens the lock called {@code name}, shared by every process of this user that opens the same
     * name. Names, lifetime and access are as for {@link EventFdSemaphore#open(String, int, boolean)};
     * the lock is the named semaphore with one permit, so processes that open
     * {@code EventFdSemaphore.open(name, 1)} take part too.
     *
     * @param name the name, as for {@link EventFdSemaphore#open(String, int, boolean)}
     * @return the lock, joined or created
     */
    public static EventFdLock open(String name) {
        return new EventFdLock(EventFdSemaphore.open(name, 1));
    }

    /**
     * The semaphore whose single permit is this lock (for its descriptors, and for monitoring).
     *
     * @return the underlying semaphore
     */
    public EventFdSemaphore semaphore() {
        return permit;
    }

    /**
     * Acquires the lock, parking until it is free. Interrupts are remembered and re-asserted.
     *
     * @throws IllegalMonitorStateException if the current thread already holds it
     * @throws ClosedException              if the lock is, or while waiting becomes, closed
     */
    @Override
    public void lock() {
        checkNotHeld();
        permit.acquireUninterruptibly();
        acquired();
    }

    /**
     * Acquires the lock unless the current thread is interrupted.
     *
     * @throws InterruptedException         if interrupted on entry or while waiting (status cleared)
     * @throws IllegalMonitorStateException if the current thread already holds it
     */
    @Override
    public void lockInterruptibly() throws InterruptedException {
        checkNotHeld();
        permit.acquire();
        acquired();
    }

    /**
     * Acquires the lock only if it is free at the time of invocation.
     *
     * @throws IllegalMonitorStateException if the current thread already holds it
     */
    @Override
    public boolean tryLock() {
        checkNotHeld();
        if (!permit.tryAcquire()) return false;
        acquired();
        return true;
    }

    /**
     * Acquires the lock if it becomes free within the given waiting time and the current thread is not
     * interrupted. A time of zero or less does not wait.
     *
     * @throws InterruptedException         if interrupted on entry or while waiting (status cleared)
     * @throws IllegalMonitorStateException if the current thread already holds it
     */
    @Override
    public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        checkNotHeld();
        if (!permit.tryAcquire(time, unit)) return false;
        acquired();
        return true;
    }

    /**
     * Releases the lock.
     *
     * @throws IllegalMonitorStateException if the current thread does not hold it
     */
    @Override
    public void unlock() {
        if (owner != Thread.currentThread()) {
            throw new IllegalMonitorStateException("the current thread does not hold this EventFdLock");
        }
        owner = null;
        permit.release();                     // the release edge: see EventFdSemaphore
    }

    private void acquired() {
        previousDied = permit.takeDeathReport();
        owner = Thread.currentThread();      // volatile write after previousDied: the owner that reads owner sees it
    }

    /**
     * Whether the process that held this lock before the current thread acquired it died holding it
     * (killed, or exited without unlocking), as a robust mutex's {@code EOWNERDEAD} says. The lock was
     * released by that death; what it protected may be half-updated, for the new holder to check or
     * repair. Always {@code false} for an unnamed lock.
     *
     * @return {@code true} if the previous holder died holding the lock
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    public boolean previousHolderDied() {
        if (owner != Thread.currentThread()) {
            throw new IllegalMonitorStateException("the current thread does not hold this EventFdLock");
        }
        return previousDied;
    }

    /**
     * Whether the current thread holds the lock.
     *
     * @return {@code true} if the current thread holds the lock and {@code false} otherwise
     */
    public boolean isHeldByCurrentThread() {
        return owner == Thread.currentThread();
    }

    /** @throws UnsupportedOperationException always: see the class documentation */
    @Override
    public Condition newCondition() {
        throw new UnsupportedOperationException("EventFdLock has no conditions: they could not wake other processes");
    }

    /** Closes the underlying semaphore; see {@link EventFdSemaphore#close()}. */
    @Override
    public void close() {
        permit.close();
    }

    private void checkNotHeld() {
        if (owner == Thread.currentThread()) {
            throw new IllegalMonitorStateException("EventFdLock is not reentrant: the current thread already holds it");
        }
    }

    @Override
    public String toString() {
        Thread o = owner;
        return getClass().getName() + "@" + Integer.toHexString(hashCode())
                + (o == null ? "[Unlocked in this JVM]" : "[Locked by thread " + o.getName() + "]");
    }
}
