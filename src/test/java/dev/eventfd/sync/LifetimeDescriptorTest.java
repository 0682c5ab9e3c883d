package dev.eventfd.sync;

import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lifetimeDescriptors()}: the shared store's memfd description, which holds this process's
 * liveness lock, and the participant's lease on the name's lock file. What inheriting them does is
 * tested end to end by the command's RunJobIT; here a process that holds the lease stands for one
 * that inherited it.
 */
class LifetimeDescriptorTest extends NamedObjectsTest {

    @Test
    @Timeout(60)
    void areTheSharedSegmentAndTheLeaseOnTheSharedStoreAndRefusedElsewhere() {
        String name = name("life");
        try (EventFdSemaphore named = EventFdSemaphore.open(name, 1);
             EventFdSemaphore kernel = EventFdSemaphore.open(name("kernel"), 1, false, EventFdSemaphore.Store.KERNEL_COUNTER);
             EventFdSemaphore anonymous = new EventFdSemaphore(1)) {
            int[] fds = named.lifetimeDescriptors();
            assertEquals(2, fds.length);
            assertTrue(ProcFs.link(fds[0]).orElse("").startsWith("/memfd:eventfd-sync"), () -> "a memfd: " + ProcFs.link(fds[0]));
            assertEquals(lockFile(name).toString(), ProcFs.link(fds[1]).orElse(""), "the lease is on the name's lock file");
            assertArrayEquals(fds, named.lifetimeDescriptors(), "the same descriptors every time");
            fds[0] = -1;
            assertTrue(named.lifetimeDescriptors()[0] >= 0, "a new array every time");
            assertThrows(UnsupportedOperationException.class, kernel::lifetimeDescriptors);
            assertThrows(UnsupportedOperationException.class, anonymous::lifetimeDescriptors);
            named.close();
            assertThrows(ClosedException.class, named::lifetimeDescriptors);
        }
    }

    @Test
    @Timeout(60)
    void aLeaseThatOutlivesEveryParticipantKeepsTheNameFromBeingCreatedAfresh() throws Exception {
        String name = name("leased");
        Path lock = lockFile(name);
        EventFdSemaphore first = EventFdSemaphore.open(name, 1);
        first.acquire();
        // holds a read lock (OFD) on byte 0 of the lock file, as a process that inherited the lease does
        Process leaseholder = new ProcessBuilder("python3", "-c", String.join("\n",
                "import fcntl, os, struct, sys",
                "fd = os.open(sys.argv[1], os.O_RDONLY)",
                "fcntl.fcntl(fd, 37, struct.pack('hhxxxxqqixxxx', 0, 0, 0, 1, 0))   # F_OFD_SETLK, F_RDLCK",
                "print('leased', flush=True)",
                "sys.stdin.read()"), lock.toString()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(leaseholder.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("leased", out.readLine());
            first.close();                              // the last participant leaves, its permit unreturnable elsewhere
            assertTrue(Files.exists(lock), "a held lease keeps the lock file");
            OrphanedPermitsException refused = assertThrows(OrphanedPermitsException.class, () -> EventFdSemaphore.open(name, 1));
            assertTrue(refused.getMessage().contains("'" + name + "'"), refused.getMessage());
            assertThrows(OrphanedPermitsException.class, () -> EventFdSemaphore.open(name, 1), "still, while it is held");
            assertEquals(null, EventFdSemaphore.openExisting(name), "nobody serves it");
            leaseholder.getOutputStream().close();     // the leaseholder exits
            assertTrue(leaseholder.waitFor(30, TimeUnit.SECONDS));
            try (EventFdSemaphore again = EventFdSemaphore.open(name, 1)) {
                assertTrue(again.tryAcquire(), "created afresh once the lease is gone");
                again.release();
            }
            assertFalse(Files.exists(lock), "and the name leaves nothing behind");
        } finally {
            leaseholder.destroyForcibly();
        }
    }

    @Test
    @Timeout(60)
    void closingDropsTheLeaseEvenWhileACopyOfItIsOpen() throws Throwable {
        String name = name("closed-lease");
        EventFdSemaphore first = EventFdSemaphore.open(name, 1);
        int copy = dup(first.lifetimeDescriptors()[1]);   // as a child that inherited it would hold
        try {
            first.close();                                  // returns what this process held: the lease too
            try (EventFdSemaphore again = EventFdSemaphore.open(name, 1)) {
                assertTrue(again.tryAcquire(), "created afresh: a closed participant keeps nothing");
                again.release();
            }
        } finally {
            close(copy);
        }
    }

    private static final java.lang.foreign.Linker LINKER = java.lang.foreign.Linker.nativeLinker();

    private static int dup(int fd) throws Throwable {
        java.lang.invoke.MethodHandle dup = LINKER.downcallHandle(LINKER.defaultLookup().find("dup").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT));
        int copy = (int) dup.invokeExact(fd);
        assertTrue(copy >= 0, "dup failed");
        return copy;
    }

    private static void close(int fd) throws Throwable {
        java.lang.invoke.MethodHandle close = LINKER.downcallHandle(LINKER.defaultLookup().find("close").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.JAVA_INT));
        int ignored = (int) close.invokeExact(fd);
    }

    private Path lockFile(String name) {
        return dir.resolve("semaphore." + name + ".lock");
    }
}
