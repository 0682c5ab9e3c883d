package dev.eventfd.sync;

import java.util.concurrent.CountDownLatch;

/** The latch contract run against {@link EventFdLatch}: passing it is what "drop-in" means. */
class EventFdLatchContractTest extends LatchContractTest {

    @Override
    protected CountDownLatch create(int count) {
        return new EventFdLatch(count);
    }
}
