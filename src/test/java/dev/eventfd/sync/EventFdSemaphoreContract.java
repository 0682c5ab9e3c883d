package dev.eventfd.sync;

import java.util.Collection;
import java.util.concurrent.Semaphore;

/**
 * The Semaphore contract bound to {@link EventFdSemaphore}; one subclass per fairness setting. The
 * protected methods the contract talks about are reachable from this package because
 * {@code EventFdSemaphore} declares them.
 */
abstract class EventFdSemaphoreContract extends SemaphoreContractTest {

    @Override
    protected Semaphore create(int permits) {
        return new EventFdSemaphore(permits);
    }

    @Override
    protected Semaphore create(int permits, boolean fair) {
        return new EventFdSemaphore(permits, fair);
    }

    @Override
    protected void reducePermits(Semaphore s, int n) {
        ((EventFdSemaphore) s).reducePermits(n);
    }

    @Override
    protected Collection<Thread> queuedThreads(Semaphore s) {
        return ((EventFdSemaphore) s).getQueuedThreads();
    }
}
