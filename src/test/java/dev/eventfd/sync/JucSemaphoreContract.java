package dev.eventfd.sync;

import java.io.Serial;
import java.util.Collection;
import java.util.concurrent.Semaphore;

/** The Semaphore contract bound to {@link java.util.concurrent.Semaphore} itself; one subclass per fairness setting. */
abstract class JucSemaphoreContract extends SemaphoreContractTest {

    /** Makes the protected methods the contract talks about callable from the suite. */
    static final class ExposedSemaphore extends Semaphore {
        ExposedSemaphore(int permits) {
            super(permits);
        }

        ExposedSemaphore(int permits, boolean fair) {
            super(permits, fair);
        }

        @Override
        public void reducePermits(int reduction) {
            super.reducePermits(reduction);
        }

        @Override
        public Collection<Thread> getQueuedThreads() {
            return super.getQueuedThreads();
        }
    }

    /** The suite's {@link SemaphoreContractTest.UserSubclass}, of {@code Semaphore} itself. */
    static final class LabelledSemaphore extends Semaphore implements SemaphoreContractTest.UserSubclass {
        @Serial
        private static final long serialVersionUID = 1L;
        private final String label;
        private int marks;

        LabelledSemaphore(int permits, boolean fair, String label) {
            super(permits, fair);
            this.label = label;
        }

        @Override
        public void reducePermits(int reduction) {
            super.reducePermits(reduction);
        }

        @Override
        public String label() {
            return label;
        }

        @Override
        public synchronized int marks() {
            return marks;
        }

        @Override
        public synchronized void mark() {
            marks++;
        }

        /** For the suite's queue checks; not an override (the subclass keeps getQueuedThreads protected). */
        Collection<Thread> queued() {
            return getQueuedThreads();
        }
    }

    @Override
    protected Semaphore createSubclass(int permits, boolean fair, String label) {
        return new LabelledSemaphore(permits, fair, label);
    }

    @Override
    protected Semaphore create(int permits) {
        return new ExposedSemaphore(permits);
    }

    @Override
    protected Semaphore create(int permits, boolean fair) {
        return new ExposedSemaphore(permits, fair);
    }

    @Override
    protected void reducePermits(Semaphore s, int n) {
        if (s instanceof LabelledSemaphore l) {
            l.reducePermits(n);
        } else {
            ((ExposedSemaphore) s).reducePermits(n);
        }
    }

    @Override
    protected Collection<Thread> queuedThreads(Semaphore s) {
        return s instanceof LabelledSemaphore l ? l.queued() : ((ExposedSemaphore) s).getQueuedThreads();
    }
}
