package dev.eventfd.sync.internal;

import dev.eventfd.sync.ClosedException;
import dev.eventfd.sync.NativeCallException;
import dev.eventfd.sync.testutil.ProcFs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EventFdTest {

    private static final long MAX = 0xffff_ffff_ffff_fffeL;
    /** A descriptor number no process has open (far above any RLIMIT_NOFILE). */
    private static final int NEVER_OPEN = Integer.MAX_VALUE;

    private final List<EventFd> opened = new ArrayList<>();

    private EventFd create(long initial, boolean semaphore) {
        EventFd fd = EventFd.create(initial, semaphore, "test-eventfd");
        opened.add(fd);
        return fd;
    }

    @AfterEach
    void closeAll() {
        opened.forEach(EventFd::close);
    }

    // ------------------------------------------------------------------ reads and writes

    @Test
    void semaphoreModeReadsOneUnitPerRead() {
        EventFd fd = create(3, true);
        assertEquals(3, fd.count());
        assertEquals(1, fd.tryRead());
        assertEquals(2, fd.count());
        assertEquals(1, fd.tryRead());
        assertEquals(1, fd.tryRead());
        assertEquals(0, fd.tryRead(), "empty semaphore eventfd reads 0 (EAGAIN)");
        assertEquals(0, fd.count());
    }

    @Test
    void counterModeReadsTheWholeCount() {
        EventFd fd = create(5, false);
        assertEquals(5, fd.tryRead());
        assertEquals(0, fd.count());
        assertEquals(0, fd.tryRead(), "empty eventfd reads 0 (EAGAIN)");
        assertTrue(fd.tryWrite(7));
        assertTrue(fd.tryWrite(4));
        assertEquals(11, fd.tryRead());
        assertEquals(0, fd.tryRead());
    }

    @Test
    void emptyDescriptorsReadZero() {
        assertEquals(0, create(0, false).tryRead());
        assertEquals(0, create(0, true).tryRead());
    }

    @Test
    void tryWriteAddsToTheCounter() {
        EventFd fd = create(0, true);
        assertTrue(fd.tryWrite(2));
        assertEquals(2, fd.count());
        assertTrue(fd.tryWrite(3));
        assertEquals(5, fd.count());
        assertEquals(1, fd.tryRead());
        assertEquals(4, fd.count());
    }

    @Test
    void fullCounterRefusesWriteAndKeepsItsCount() {
        EventFd fd = create(0, false);
        assertTrue(fd.tryWrite(MAX));
        assertEquals(MAX, fd.count(), "0xfffffffffffffffe, read unsigned");
        assertFalse(fd.tryWrite(1), "a write past 0xfffffffffffffffe is EAGAIN on a non-blocking eventfd");
        assertEquals(MAX, fd.count(), "the refused write left the counter unchanged");
        assertTrue(fd.isReadable());
        assertEquals(MAX, fd.tryRead());
        assertEquals(0, fd.count());
        assertTrue(fd.tryWrite(1), "room again once drained");
        assertEquals(1, fd.count());
    }

    @Test
    void fullSemaphoreRefusesWriteAndKeepsItsCount() {
        EventFd fd = create(1, true);
        assertTrue(fd.tryWrite(MAX - 1));
        assertEquals(MAX, fd.count());
        assertFalse(fd.tryWrite(1));
        assertEquals(MAX, fd.count());
        assertEquals(1, fd.tryRead());
        assertEquals(MAX - 1, fd.count());
    }

    @Test
    void writingAllOnesIsInvalidAndNamesTheCall() {
        EventFd fd = create(3, false);
        NativeCallException e = assertThrows(NativeCallException.class, () -> fd.tryWrite(-1L));
        assertEquals("write: EINVAL (Invalid argument)", e.getMessage());
        assertEquals("write", e.call());
        assertEquals(22, e.errno());
        assertEquals("EINVAL", e.errnoName());
        assertEquals(3, fd.count(), "the failed write left the counter unchanged");
    }

    @Test
    void createRejectsAnInitialValueOutOfRange() {
        assertThrows(IllegalArgumentException.class, () -> EventFd.create(-1, false, "x"));
        assertThrows(IllegalArgumentException.class, () -> EventFd.create(0x1_0000_0000L, false, "x"));
        assertEquals(0xFFFF_FFFEL, create(0xFFFF_FFFEL, false).count(), "largest initial value, unsigned");
    }

    // ------------------------------------------------------------------ count() through fdinfo

    @Test
    void countMatchesFdinfoAndDoesNotConsume() {
        EventFd fd = create(255, false);
        assertEquals(255, fd.count(), "fdinfo prints ff: parsed as hex");
        assertEquals(255, fd.count(), "reading fdinfo does not consume");
        assertEquals("ff", ProcFs.field(ProcFs.fdinfo(fd.fd()).orElseThrow(), "eventfd-count").orElseThrow());
        assertTrue(fd.tryWrite(0x0123_4567_89ab_cdefL - 255));
        assertEquals(0x0123_4567_89ab_cdefL, fd.count());
        assertEquals(0x0123_4567_89ab_cdefL, fd.tryRead());
        assertEquals(0, fd.count());
        for (long v : new long[] {1, 9, 10, 15, 16, 0xabcdef, Long.MAX_VALUE}) {
            assertTrue(fd.tryWrite(v));
            assertEquals(v, fd.count(), () -> "after writing " + v);
            assertEquals(v, fd.tryRead());
            assertEquals(0, fd.count());
        }
    }

    @Test
    void countOfASemaphoreFollowsReadsAndWrites() {
        EventFd fd = create(0, true);
        for (int i = 1; i <= 20; i++) {
            assertTrue(fd.tryWrite(1));
            assertEquals(i, fd.count());
        }
        for (int i = 19; i >= 0; i--) {
            assertEquals(1, fd.tryRead());
            assertEquals(i, fd.count());
        }
    }

    // ------------------------------------------------------------------ isReadable

    @Test
    void isReadableFollowsTheCounter() {
        EventFd fd = create(0, true);
        assertFalse(fd.isReadable());
        assertTrue(fd.tryWrite(2));
        assertTrue(fd.isReadable());
        assertEquals(1, fd.tryRead());
        assertTrue(fd.isReadable());
        assertEquals(1, fd.tryRead());
        assertFalse(fd.isReadable());
        assertTrue(create(1, false).isReadable());
    }

    // ------------------------------------------------------------------ close

    @Test
    void closeIsIdempotent() {
        EventFd fd = create(1, false);
        assertFalse(fd.isClosed());
        fd.close();
        assertTrue(fd.isClosed());
        assertDoesNotThrow(fd::close);
        assertDoesNotThrow(fd::close);
        assertTrue(fd.isClosed());
        assertTrue(fd.toString().contains("closed"), fd::toString);
    }

    @Test
    void useAfterCloseThrowsClosedException() {
        EventFd fd = EventFd.create(1, false, "my-owner");
        fd.close();
        List<Executable> uses = List.of(fd::tryRead, () -> fd.tryWrite(1), fd::isReadable, fd::count);
        assertAll(uses.stream().map(use -> () -> {
            ClosedException e = assertThrows(ClosedException.class, use);
            assertEquals("my-owner is closed", e.getMessage());
        }));
    }

    @Test
    void closeReallyClosesTheDescriptor() {
        EventFd fd = EventFd.create(0, false, "x");
        int n = fd.fd();
        String before = ProcFs.fdinfo(n).orElseThrow();
        assertEquals("anon_inode:[eventfd]", ProcFs.link(n).orElseThrow());
        assertTrue(ProcFs.isSameEventFd(n, before));
        fd.close();
        assertFalse(ProcFs.isSameEventFd(n, before), () -> "descriptor " + n + " still open:\n" + ProcFs.fdinfo(n));
    }

    @Test
    void closeAlsoClosesTheFdinfoDescriptorThatCountOpened() throws IOException {
        EventFd fd = EventFd.create(4, false, "x");
        int n = fd.fd();
        String fdinfoPath = "/proc/" + ProcessHandle.current().pid() + "/fdinfo/" + n;
        assertEquals(0, ProcFs.descriptorsLinkingTo(fdinfoPath));
        assertEquals(4, fd.count());
        assertEquals(1, ProcFs.descriptorsLinkingTo(fdinfoPath), "count() keeps fdinfo open");
        assertEquals(4, fd.count());
        assertEquals(1, ProcFs.descriptorsLinkingTo(fdinfoPath), "and reuses it");
        String before = ProcFs.fdinfo(n).orElseThrow();
        fd.close();
        assertFalse(ProcFs.isSameEventFd(n, before));
        assertEquals(0, ProcFs.descriptorsLinkingTo(fdinfoPath), "close() released the fdinfo descriptor too");
    }

    // ------------------------------------------------------------------ errors

    @Test
    void nativeErrorsNameTheCallAndTheErrnoSymbolically() {
        NativeCallException read = assertThrows(NativeCallException.class, () -> Native.readCounter(-1));
        assertEquals("read: EBADF (Bad file descriptor)", read.getMessage());
        assertEquals("read", read.call());
        assertEquals(Native.EBADF, read.errno());
        assertEquals("EBADF", read.errnoName());

        assertEquals("read: EBADF (Bad file descriptor)",
                assertThrows(NativeCallException.class, () -> Native.readCounter(NEVER_OPEN)).getMessage());
        assertEquals("write: EBADF (Bad file descriptor)",
                assertThrows(NativeCallException.class, () -> Native.writeCounter(NEVER_OPEN, 1)).getMessage());
        assertEquals("poll: EBADF (Bad file descriptor)",
                assertThrows(NativeCallException.class, () -> Native.isReadable(NEVER_OPEN)).getMessage());
        assertEquals("close: EBADF (Bad file descriptor)",
                assertThrows(NativeCallException.class, () -> Native.close(NEVER_OPEN)).getMessage());
        assertEquals("open /nonexistent/x: ENOENT (No such file or directory)",
                assertThrows(NativeCallException.class, () -> Native.openReadOnly("/nonexistent/x")).getMessage());
        assertEquals("epoll_ctl(EPOLL_CTL_ADD, fd 0): EBADF (Bad file descriptor)",
                assertThrows(NativeCallException.class,
                        () -> Native.epollCtl(NEVER_OPEN, Native.EPOLL_CTL_ADD, 0, Native.EPOLLIN, 1, 0)).getMessage());
        assertEquals("eventfd: EINVAL (Invalid argument)",
                assertThrows(NativeCallException.class, () -> Native.eventfd(0, 0x4000_0000)).getMessage());
    }

    @Test
    void readingAClosedDescriptorNumberIsEbadf() {
        // close a raw eventfd and read its number at once: a concurrent open could take the number, so
        // retry a few times and accept a round where the number was not reused
        for (int attempt = 0; attempt < 20; attempt++) {
            int n = Native.eventfd(0, Native.EFD_NONBLOCK | Native.EFD_CLOEXEC);
            Native.close(n);
            try {
                Native.readCounter(n);
            } catch (NativeCallException e) {
                assertEquals("read: EBADF (Bad file descriptor)", e.getMessage());
                return;
            }
        }
        throw new AssertionError("descriptor number reused 20 times in a row");
    }

    // ------------------------------------------------------------------ the Cleaner safety net

    private record Dropped(int fd, String fdinfo, String fdinfoPath) {}

    /** Creates a handle, uses count() (so it owns two descriptors) and drops it without close(). */
    private static Dropped createAndDrop() {
        EventFd fd = EventFd.create(6, false, "dropped");
        assertEquals(6, fd.count());
        return new Dropped(fd.fd(), ProcFs.fdinfo(fd.fd()).orElseThrow(),
                "/proc/" + ProcessHandle.current().pid() + "/fdinfo/" + fd.fd());
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void cleanerClosesAHandleThatWasDroppedWithoutClose() throws IOException {
        Dropped d = createAndDrop();
        assertTrue(ProcFs.isSameEventFd(d.fd(), d.fdinfo()));
        assertEquals(1, ProcFs.descriptorsLinkingTo(d.fdinfoPath()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ProcFs.isSameEventFd(d.fd(), d.fdinfo())) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("the Cleaner did not close descriptor " + d.fd() + " within 30 s");
            }
            System.gc();
            Thread.onSpinWait();
        }
        // the fdinfo descriptor is released by the same cleaning action, before the eventfd itself
        assertEquals(0, ProcFs.descriptorsLinkingTo(d.fdinfoPath()));
    }
}
