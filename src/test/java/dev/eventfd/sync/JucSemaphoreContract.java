package dev.eventfd.sync;

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
        ((ExposedSemaphore) s).reducePermits(n);
    }

    @Override
    protected Collection<Thread> queuedThreads(Semaphore s) {
        return ((ExposedSemaphore) s).getQueuedThreads();
    }
}
