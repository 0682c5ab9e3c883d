package dev.eventfd.sync;

import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The Semaphore contract bound to named {@link EventFdSemaphore}s on the shared-memory store: every
 * semaphore the suite creates is a fresh name, opened (and so created) by this JVM. A negative
 * initial count, which a name cannot be created with, is made as {@code Semaphore} would hold it: the
 * name is created with 0 and this JVM reduces its permits. User subclasses are anonymous semaphores
 * (a named semaphore has no constructor to extend).
 */
abstract class NamedSemaphoreContract extends EventFdSemaphoreContract {

    private static final AtomicLong NAMES = new AtomicLong();

    private static String freshName() {
        return "contract-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    @Override
    protected Semaphore create(int permits) {
        return create(permits, false);
    }

    @Override
    protected Semaphore create(int permits, boolean fair) {
        EventFdSemaphore s = EventFdSemaphore.open(freshName(), Math.max(permits, 0), fair);
        if (permits < 0) s.reducePermits(-permits);
        return s;
    }

    /** A deserialized copy is an anonymous semaphore: its own kernel counter, not the name's memory. */
    @Override
    protected void assertSeparateResources(Semaphore original, Semaphore copy) {
        if (original instanceof SemaphoreContractTest.UserSubclass) {   // an anonymous semaphore
            super.assertSeparateResources(original, copy);
            return;
        }
        EventFdSemaphore a = (EventFdSemaphore) original;
        EventFdSemaphore b = (EventFdSemaphore) copy;
        assertNotSame(a, b);
        assertFalse(a.isClosed() || b.isClosed(), "both open");
        assertThrows(UnsupportedOperationException.class, a::permitsDescriptor, "the named original has no counter");
        b.permitsDescriptor();
    }
}
