package dev.eventfd.sync;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Serial;
import java.util.Collection;
import java.util.concurrent.Semaphore;

/**
 * The Semaphore contract bound to {@link EventFdSemaphore}; one subclass per fairness setting. The
 * protected methods the contract talks about are reachable from this package because
 * {@code EventFdSemaphore} declares them.
 */
abstract class EventFdSemaphoreContract extends SemaphoreContractTest {

    /** The suite's {@link SemaphoreContractTest.UserSubclass}, of {@code EventFdSemaphore}. */
    static final class LabelledEventFdSemaphore extends EventFdSemaphore implements SemaphoreContractTest.UserSubclass {
        @Serial
        private static final long serialVersionUID = 1L;
        private final String label;
        private int marks;

        LabelledEventFdSemaphore(int permits, boolean fair, String label) {
            super(permits, fair);
            this.label = label;
        }

        @Override
        public void reducePermits(int reduction) {
            super.reducePermits(reduction);
        }

        @Override
        public String label() {
            return label;
        }

        @Override
        public synchronized int marks() {
            return marks;
        }

        @Override
        public synchronized void mark() {
            marks++;
        }
    }

    @Override
    protected Semaphore createSubclass(int permits, boolean fair, String label) {
        return new LabelledEventFdSemaphore(permits, fair, label);
    }

    /** A deserialized copy has descriptors of its own: neither object's counter is the other's. */
    @Override
    protected void assertSeparateResources(Semaphore original, Semaphore copy) {
        EventFdSemaphore a = (EventFdSemaphore) original;
        EventFdSemaphore b = (EventFdSemaphore) copy;
        assertFalse(a.isClosed() || b.isClosed(), "both open");
        assertNotEquals(a.permitsDescriptor(), b.permitsDescriptor(), "permits descriptor shared");
        assertNotEquals(a.turnstileDescriptor(), b.turnstileDescriptor(), "turnstile descriptor shared");
        assertTrue(a.permitsDescriptor() != b.turnstileDescriptor() && b.permitsDescriptor() != a.turnstileDescriptor(),
                "descriptors shared");
    }

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
