package dev.eventfd.sync;

/** The Semaphore contract, in fair mode, against {@link EventFdSemaphore}. */
class EventFdFairSemaphoreTest extends EventFdSemaphoreContract {
    @Override
    protected boolean fair() {
        return true;
    }
}
