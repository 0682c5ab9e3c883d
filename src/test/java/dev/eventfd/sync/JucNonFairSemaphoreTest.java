package dev.eventfd.sync;

/** The Semaphore contract, in non-fair mode, against {@link java.util.concurrent.Semaphore} itself. */
class JucNonFairSemaphoreTest extends JucSemaphoreContract {
    @Override
    protected boolean fair() {
        return false;
    }
}
