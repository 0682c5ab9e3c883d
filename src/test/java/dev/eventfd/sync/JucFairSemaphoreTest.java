package dev.eventfd.sync;

/** The Semaphore contract, in fair mode, against {@link java.util.concurrent.Semaphore} itself. */
class JucFairSemaphoreTest extends JucSemaphoreContract {
    @Override
    protected boolean fair() {
        return true;
    }
}
