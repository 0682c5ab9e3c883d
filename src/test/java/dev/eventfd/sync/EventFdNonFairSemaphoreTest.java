package dev.eventfd.sync;

/** The Semaphore contract, in non-fair mode, against {@link EventFdSemaphore}. */
class EventFdNonFairSemaphoreTest extends EventFdSemaphoreContract {
    @Override
    protected boolean fair() {
        return false;
    }
}
