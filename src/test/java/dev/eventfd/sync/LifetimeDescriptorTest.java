package dev.eventfd.sync;

import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lifetimeDescriptor()}: the shared store's memfd description, which holds this process's
 * liveness lock (what inheriting it does is tested end to end by the command's RunJobIT).
 */
class LifetimeDescriptorTest extends NamedObjectsTest {

    @Test
    @Timeout(60)
    void isTheSharedSegmentOnTheSharedStoreAndRefusedElsewhere() {
        try (EventFdSemaphore named = EventFdSemaphore.open(name("life"), 1);
             EventFdSemaphore kernel = EventFdSemaphore.open(name("kernel"), 1, false, EventFdSemaphore.Store.KERNEL_COUNTER);
             EventFdSemaphore anonymous = new EventFdSemaphore(1)) {
            int fd = named.lifetimeDescriptor();
            assertTrue(ProcFs.link(fd).orElse("").startsWith("/memfd:eventfd-sync"), () -> "a memfd: " + ProcFs.link(fd));
            assertEquals(fd, named.lifetimeDescriptor(), "the same descriptor every time");
            assertThrows(UnsupportedOperationException.class, kernel::lifetimeDescriptor);
            assertThrows(UnsupportedOperationException.class, anonymous::lifetimeDescriptor);
            named.close();
            assertThrows(ClosedException.class, named::lifetimeDescriptor);
        }
    }
}
