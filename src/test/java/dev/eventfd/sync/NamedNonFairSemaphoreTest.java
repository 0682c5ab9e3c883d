package dev.eventfd.sync;

/** The Semaphore contract, in non-fair mode, against named semaphores on the shared-memory store. */
class NamedNonFairSemaphoreTest extends NamedSemaphoreContract {
    @Override
    protected boolean fair() {
        return false;
    }
}
