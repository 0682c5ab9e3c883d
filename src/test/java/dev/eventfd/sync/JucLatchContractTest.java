package dev.eventfd.sync;

import java.util.concurrent.CountDownLatch;

/** The latch contract run against the reference implementation, {@link java.util.concurrent.CountDownLatch}. */
class JucLatchContractTest extends LatchContractTest {

    @Override
    protected CountDownLatch create(int count) {
        return new CountDownLatch(count);
    }
}
