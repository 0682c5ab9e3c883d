package dev.eventfd.sync;

/** The Semaphore contract, in fair mode, against named semaphores on the shared-memory store. */
class NamedFairSemaphoreTest extends NamedSemaphoreContract {
    @Override
    protected boolean fair() {
        return true;
    }
}
