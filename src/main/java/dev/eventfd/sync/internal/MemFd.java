package dev.eventfd.sync.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A sealed {@code memfd}: memory that processes share by passing its descriptor, with one open file
 * description lock per byte index as the liveness lock of whatever the index stands for.
 *
 * <p>Each process works through an open file description of its own: {@link #adopt} opens the
 * received file again through its {@code /proc/self/fd} link and closes the received descriptor,
 * since a descriptor received over {@code SCM_RIGHTS} shares the sender's description, and with it
 * the sender's OFD locks. The kernel drops a description's locks when its last descriptor closes,
 * which is when the process dies, however it dies.
 *
 * <p>The file is created sealed against shrinking and growing, and {@link #adopt} refuses one that
 * is not, or that is smaller than the caller needs: a mapping of it can never lose a page.
 */
public final class MemFd extends NativeFd {

    private final long bytes;

    private MemFd(int fd, long bytes, String owner) {
        super(fd, owner);
        this.bytes = bytes;
    }

    /** Creates a zeroed, sealed memfd of {@code bytes} bytes. */
    public static MemFd create(long bytes, String owner) {
        Availability.ensureAvailable();
        return new MemFd(Native.memfdCreate("eventfd-sync " + owner, bytes), bytes, owner);
    }

    /**
     * Takes a descriptor received from another process: checks that it is a memfd sealed against
     * shrinking and growing, of at least {@code minBytes} bytes, and opens it again for this process's
     * own open file description. {@code fd} is closed either way.
     *
     * @throws IllegalArgumentException naming what is wrong with it
     */
    public static MemFd adopt(int fd, long minBytes, String owner) {
        try {
            int seals = Native.seals(fd);
            if (seals < 0) throw new IllegalArgumentException("descriptor " + fd + " is not a memfd");
            int needed = Native.F_SEAL_SHRINK | Native.F_SEAL_GROW;
            if ((seals & needed) != needed) {
                throw new IllegalArgumentException("memfd " + fd + " is not sealed against shrinking and growing");
            }
            long size = Native.fileSize(fd);
            if (size < minBytes) {
                throw new IllegalArgumentException("memfd " + fd + " has " + size + " bytes, fewer than " + minBytes);
            }
            return new MemFd(Native.reopen(fd), size, owner);
        } finally {
            Native.close(fd);
        }
    }

    /** The file's size in bytes. */
    public long byteSize() {
        return bytes;
    }

    /**
     * Maps the whole file, shared; the mapping goes when {@code arena} closes. Use a shared arena:
     * closing it waits out accesses in flight and makes later ones throw, so no thread can touch
     * the memory after it is unmapped.
     */
    public MemorySegment map(Arena arena) {
        int fd = begin();
        try {
            long addr = Native.mapShared(fd, bytes);
            long size = bytes;
            return MemorySegment.ofAddress(addr).reinterpret(size, arena, s -> Native.unmap(addr, size));
        } finally {
            end();
        }
    }

    /** Takes the lock of {@code index} for this process's description, without waiting. @return whether it was taken */
    public boolean tryLock(int index) {
        return byteLock(index, 0);
    }

    /** Drops this description's lock of {@code index}. */
    public void unlock(int index) {
        byteLock(index, 1);
    }

    /** Whether another open file description (another process) holds the lock of {@code index}. */
    public boolean lockedByAnother(int index) {
        return byteLock(index, 2);
    }

    private boolean byteLock(int index, int op) {
        int fd = begin();
        try {
            return Native.byteLock(fd, index, op);
        } finally {
            end();
        }
    }
}
