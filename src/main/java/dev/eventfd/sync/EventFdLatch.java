package dev.eventfd.sync;

import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Poller;
import dev.eventfd.sync.internal.Rendezvous;
import dev.eventfd.sync.internal.jfr.Events;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A countdown latch whose state lives in Linux eventfd descriptors, so that other processes can count
 * it down and wait on it, and whose waiters park rather than block in native code, so that a waiting
 * virtual thread never holds a carrier.
 *
 * <p>This class is a drop-in {@link CountDownLatch}: one-shot, {@link #countDown()} at zero does
 * nothing, and the transition to zero releases every waiter, in this JVM and in every other process
 * that waits on the same descriptors.
 *
 * <pre> {@code
 * try (EventFdLatch ready = new EventFdLatch(workers)) {
 *   for (int i = 0; i < workers; i++) {
 *     Thread.startVirtualThread(() -> { prepare(); ready.countDown(); });
 *   }
 *   ready.await();                      // parks; the carrier runs the workers meanwhile
 * }}</pre>
 *
 * <p><b>The descriptors and their protocol.</b> The latch is two eventfds. The <em>count</em>
 * descriptor ({@link #countDescriptor()}, {@code EFD_SEMAPHORE}) holds the remaining count. The
 * <em>gate</em> descriptor ({@link #gateDescriptor()}) is zero while the latch is closed and non-zero
 * for good once it has opened; it is watched, never read. Any process holding both takes part:
 * <ul>
 * <li>count down: {@code read(2)} 8 bytes from the count descriptor ({@code EAGAIN} means the count is
 * already zero: nothing to do); then, if the count descriptor is no longer readable ({@code poll} with
 * {@code POLLIN} and a zero timeout), {@code write(2)} the value 1 to the gate. The process whose read
 * took the count to zero always sees it unreadable, so the gate always opens;
 * <li>await: wait until the gate is readable ({@code poll}, {@code epoll}; never read it).
 * </ul>
 * The count can never go negative: the kernel refuses a read at zero.
 *
 * <p><b>Closing.</b> {@link #close()} releases this object's descriptors; threads waiting in this JVM
 * wake with a {@link ClosedException}, and so does any later use. Other processes keep their own
 * references. A latch that is never closed gives its descriptors back when it is garbage collected.
 *
 * <p>Memory consistency effects: Until the count reaches zero, actions in a thread prior to calling
 * {@code countDown()} <a href="package-summary.html#MemoryVisibility"><i>happen-before</i></a> actions
 * following a successful return from a corresponding {@code await()} in another thread of the same JVM.
 */
public class EventFdLatch extends CountDownLatch implements AutoCloseable {

    /*
     * Implementation overview
     *
     * countDown() reads the count descriptor (one unit, never below zero), then opens the gate if the
     * count is now zero; a countDown() at zero also opens the gate if it finds it shut, which repairs
     * a peer that died between the two steps. await() returns as soon as the gate is readable, or the
     * count is found at zero (it then opens the gate itself); otherwise it parks through the poller on
     * the gate and re-checks on every wake-up. A countDown() in this JVM that opens the gate also
     * signals the poller's waiters on it directly, saving them a hop through the poller thread.
     *
     * A process that dies between its read and its write to the gate leaves the count at zero and
     * the gate shut, and nobody who is already parked on the gate would look again. So while any
     * thread of this JVM waits, one virtual thread (the repair) looks every REPAIR_MILLIS ms, and
     * opens the gate if the count is zero (which wakes every waiter, in every process). A death at any
     * point of countDown() therefore never leaves the latch shut for longer than that, and can never
     * open it early: the gate is only opened when the count is found at zero.
     */

    private final EventFd countFd;
    private final EventFd gateFd;
    private final Poller poller;
    /** Serves the descriptors to other processes when the latch is named; else null. */
    private final Rendezvous participant;
    /** Set once by close() (volatile). */
    private volatile boolean closed;
    /** Set once the gate has been seen open, so later awaits make no system call (volatile). */
    private volatile boolean opened;
    /**
     * Written (volatile) before every count-down's kernel call, read (volatile) after the gate is seen
     * open: the kernel calls are not happens-before edges by themselves, this pair makes one.
     */
    private volatile int kernelEdge;
    /** Threads of this JVM waiting on the gate now (getAndAdd). */
    private final java.util.concurrent.atomic.AtomicInteger waiters = new java.util.concurrent.atomic.AtomicInteger();
    /** Whether the repair thread runs (CAS): see the implementation overview. */
    private final java.util.concurrent.atomic.AtomicBoolean repairing = new java.util.concurrent.atomic.AtomicBoolean();
    /** How often the repair looks for a count at zero behind a shut gate. */
    static final long REPAIR_MILLIS = 100;

    private static final VarHandle KERNEL_EDGE;
    static {
        try {
            KERNEL_EDGE = MethodHandles.lookup().findVarHandle(EventFdLatch.class, "kernelEdge", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /**
     * Constructs an {@code EventFdLatch} initialized with the given count.
     *
     * @param count the number of times {@link #countDown} must be invoked before threads can pass
     *              through {@link #await}
     * @throws IllegalArgumentException      if {@code count} is negative
     * @throws UnsupportedOperationException if eventfd-sync cannot work in this JVM
     * @throws NativeCallException           if the descriptors cannot be created (e.g. {@code EMFILE})
     */
    public EventFdLatch(int count) {
        this(createDescriptors(requireNonNegative(count)), null);
    }

    /** Takes ownership of {@code descriptors} (count, gate) and of the named participant, if any. */
    private EventFdLatch(EventFd[] descriptors, Rendezvous participant) {
        super(0);
        this.countFd = descriptors[0];
        this.gateFd = descriptors[1];
        this.participant = participant;
        this.poller = Poller.shared();
        if (participant != null) participant.closeWhenUnreachable(this);
    }

    private static EventFd[] createDescriptors(int count) {
        EventFdSupport.ensureAvailability();
        EventFd c = EventFd.create(count, true, "EventFdLatch");
        try {
            return new EventFd[] {c, EventFd.create(count == 0 ? 1 : 0, false, "EventFdLatch")};
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
    }

    /**
     * The names of the named latches that a live process has open, sorted; see
     * {@link EventFdSemaphore#namesInUse()}.
     *
     * @return the names in use, sorted; empty if there are none
     */
    public static java.util.SortedSet<String> namesInUse() {
        EventFdSupport.ensureAvailability();
        return Rendezvous.namesInUse(Rendezvous.Kind.LATCH);
    }

    /**
     * Opens the latch called {@code name}, shared by every process of this user that opens the same
     * name: joins it if a process has it open, else creates it with {@code count}. For a process that
     * joins, {@code count} is ignored. Names, lifetime and access are as for
     * {@link EventFdSemaphore#open(String, int, boolean)}; {@link #close()} leaves the latch to the
     * other participants.
     *
     * @param name  the name, as for {@link EventFdSemaphore#open(String, int, boolean)}
     * @param count the count if this call creates the latch; not negative
     * @return the latch, joined or created
     * @throws IllegalArgumentException if the name is not acceptable or {@code count} is negative
     * @throws IllegalStateException    if a participant answers with another protocol version or for
     *                                  another kind of object, or the directory is not safe to use
     */
    public static EventFdLatch open(String name, int count) {
        requireNonNegative(count);
        EventFdSupport.ensureAvailability();
        Rendezvous.Opened o = Rendezvous.open(Rendezvous.Kind.LATCH, name, count, () -> createDescriptors(count));
        return new EventFdLatch(java.util.Arrays.copyOf(o.descriptors(), 2, EventFd[].class), o.participant());
    }

    private static int requireNonNegative(int count) {
        if (count < 0) throw new IllegalArgumentException("count < 0: " + count);
        return count;
    }

    /**
     * Causes the current thread to wait until the latch has counted down to zero, unless the thread is
     * {@linkplain Thread#interrupt interrupted}.
     *
     * <p>If the current count is zero then this method returns immediately. Otherwise the current
     * thread parks until one of these things happens:
     * <ul>
     * <li>The count reaches zero due to invocations of {@link #countDown}, in this or another process;
     * <li>Some other thread interrupts the current thread; or
     * <li>This latch is closed.
     * </ul>
     *
     * @throws InterruptedException if the current thread is interrupted on entry or while waiting; its
     *                              interrupted status is cleared
     * @throws ClosedException      if this latch is, or while waiting becomes, closed
     */
    @Override
    public void await() throws InterruptedException {
        await(false, 0L);
    }

    /**
     * Causes the current thread to wait until the latch has counted down to zero, unless the thread is
     * interrupted, or the specified waiting time elapses. A time of zero or less does not wait.
     *
     * @return {@code true} if the count reached zero and {@code false} if the waiting time elapsed
     *         before the count reached zero
     * @throws InterruptedException if the current thread is interrupted on entry or while waiting
     * @throws ClosedException      if this latch is, or while waiting becomes, closed
     */
    @Override
    public boolean await(long timeout, TimeUnit unit) throws InterruptedException {
        long nanos = unit.toNanos(timeout);
        if (nanos <= 0) {
            if (Thread.interrupted()) throw new InterruptedException();
            ensureOpen();
            return isOpen();
        }
        return await(true, System.nanoTime() + nanos);
    }

    private boolean await(boolean timed, long deadline) throws InterruptedException {
        if (Thread.interrupted()) throw new InterruptedException();
        ensureOpen();
        if (isOpen()) return true;                   // no wait, no event
        return Events.waited("latch", participant == null ? null : participant.name(), 0, () -> awaitGate(timed, deadline));
    }

    private boolean awaitGate(boolean timed, long deadline) throws InterruptedException {
        for (;;) {
            ensureOpen();
            if (isOpen()) return true;
            Poller.Outcome outcome;
            waiters.getAndIncrement();       // Dekker pair "repair", waiter side: counted, then the flag CASed
            try {
                startRepair();
                outcome = poller.await(gateFd, timed, deadline, true);
            } finally {
                waiters.getAndDecrement();
            }
            switch (outcome) {
                case READY -> { }                      // re-check: the loop decides
                case TIMED_OUT -> { return isOpen(); }
                case INTERRUPTED -> {
                    Thread.interrupted();
                    throw new InterruptedException();
                }
                case CLOSED, CANCELLED -> throw new ClosedException(describe());
            }
        }
    }

    /** Starts the repair unless it runs; it runs while a thread here waits (see the implementation overview). */
    private void startRepair() {
        if (!repairing.compareAndSet(false, true)) return;
        try {
            Thread.ofVirtual().name("eventfd-sync latch repair").start(this::repair);
        } catch (RuntimeException | OutOfMemoryError notStarted) {
            repairing.set(false);            // the next waiter tries again
            throw notStarted;
        }
    }


    /** The repair thread's loop; see the implementation overview. */
    private void repair() {
        try {
            while (waiters.get() > 0 && !closed && !opened) {
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(REPAIR_MILLIS));   // a period, not a hand-off
                if (waiters.get() > 0 && !closed) isOpen();   // opens a gate left shut at zero, and wakes the waiters
            }
        } catch (ClosedException closing) {
            // closed meanwhile: the waiters wake with CLOSED
        } finally {
            // Dekker pair "repair", repair side: the flag cleared, then waiters read; a waiter counts
            // itself, then CASes the flag. Either it sees the flag clear and starts one, or this sees it.
            repairing.set(false);
            if (waiters.get() > 0 && !closed && !opened) startRepair();
        }
    }

    /**
     * Decrements the count of the latch, releasing all waiting threads, in every process, if the count
     * reaches zero. If the current count is zero nothing happens.
     *
     * @throws ClosedException if this latch is closed
     */
    @Override
    public void countDown() {
        ensureOpen();
        KERNEL_EDGE.setVolatile(this, 0);          // release edge: prior actions happen-before the read
        boolean decremented = countFd.tryRead() > 0;
        if (!countFd.isReadable() && (decremented || !gateFd.isReadable())) openGate();
    }

    /**
     * Returns the current count, read from the count descriptor without changing it.
     *
     * @throws ClosedException if this latch is closed
     */
    @Override
    public long getCount() {
        ensureOpen();
        return countFd.count();
    }

    /**
     * The count descriptor ({@code EFD_SEMAPHORE}): a process counts down with an 8-byte
     * {@code read(2)}; see the class documentation for the whole protocol.
     *
     * @return the count descriptor, valid until {@link #close()}
     * @throws ClosedException if this latch is closed
     */
    public int countDescriptor() {
        ensureOpen();
        return countFd.fd();
    }

    /**
     * The gate descriptor: readable for good once the count has reached zero. Watch it; never read it.
     *
     * @return the gate descriptor, valid until {@link #close()}
     * @throws ClosedException if this latch is closed
     */
    public int gateDescriptor() {
        ensureOpen();
        return gateFd.fd();
    }

    /**
     * Whether {@link #close()} has been called.
     *
     * @return {@code true} if this latch has been closed
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Releases the descriptors. Threads waiting in this JVM wake with a {@link ClosedException}, and
     * later calls throw it. Idempotent.
     */
    @Override
    public void close() {
        if (closed) return;
        closed = true;                               // volatile: every later ensureOpen() sees it
        if (participant != null) participant.close();
        gateFd.close();                              // wakes the gate's waiters with CLOSED
        countFd.close();
    }

    /**
     * Returns a string identifying this latch, as well as its state. The state, in brackets, includes
     * the String {@code "Count ="} followed by the current count, or {@code "closed"}.
     */
    @Override
    public String toString() {
        String id = getClass().getName() + "@" + Integer.toHexString(hashCode());
        try {
            return closed ? id + "[closed]" : id + "[Count = " + countFd.count() + "]";
        } catch (ClosedException raced) {
            return id + "[closed]";
        }
    }

    /** Whether the gate is open; repairs a gate left shut at count zero. */
    private boolean isOpen() {
        if (opened || gateFd.isReadable() || !countFd.isReadable() && openGate()) {
            opened = true;                                   // the gate never shuts again
            int edge = (int) KERNEL_EDGE.getVolatile(this);  // acquire edge: the count-downs are visible
            return true;
        }
        return false;
    }

    private boolean openGate() {
        gateFd.tryWrite(1);
        poller.signal(gateFd);                     // wake local waiters without a poller hop
        return true;
    }

    private void ensureOpen() {
        if (closed) throw new ClosedException(describe());
    }

    private String describe() {
        return getClass().getSimpleName() + "@" + Integer.toHexString(hashCode());
    }
}
