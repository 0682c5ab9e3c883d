package dev.eventfd.sync.internal;

import java.nio.file.Path;

/**
 * One non-blocking, close-on-exec {@code AF_UNIX} stream socket, owned by this object. Waiting for it
 * is done through the {@link Poller}, never inside a native call.
 */
public final class UnixSocket extends NativeFd {

    private UnixSocket(int fd) {
        super(fd, "UnixSocket");
    }

    /** Binds and listens on {@code path} (which must not exist). */
    static UnixSocket listen(Path path, int backlog) {
        return listen(path.toString(), backlog);
    }

    /** Binds and listens on {@code path} (which must not exist; EADDRINUSE if it does). */
    static UnixSocket listen(String path, int backlog) {
        UnixSocket s = new UnixSocket(Native.unixSocket());
        try {
            Native.bindAndListen(s.begin(), path, backlog);
            s.end();
            return s;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /**
     * @return a connected socket, or {@code null} if nobody listens on {@code path} (or it is gone)
     * @throws BacklogFull if a listener is there but its backlog is full
     */
    static UnixSocket connect(Path path) {
        return connect(path.toString(), path.toString());
    }

    /**
     * Connects to the socket file that {@code opathFd} (an {@code O_PATH} descriptor) refers to,
     * through its {@code /proc/self/fd} link: whatever the length of the file's own path, and without
     * looking the path up again.
     *
     * @param shown the file's path, for messages
     * @return a connected socket, or {@code null} if nobody listens on it
     * @throws BacklogFull if a listener is there but its backlog is full
     */
    static UnixSocket connectThrough(int opathFd, String shown) {
        return connect("/proc/self/fd/" + opathFd, shown);
    }

    private static UnixSocket connect(String path, String shown) {
        UnixSocket s = new UnixSocket(Native.unixSocket());
        try {
            int r = Native.connect(s.begin(), path);
            s.end();
            if (r == 0) return s;
            s.close();
            if (r == -Native.EAGAIN) throw new BacklogFull(shown);
            return null;
        } catch (RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /** A listener is there, but its backlog is full: it is alive and busy. */
    static final class BacklogFull extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        BacklogFull(String shown) {
            super(shown + " is alive but its backlog is full");
        }
    }

    /** @return a pending connection, or {@code null} if none */
    UnixSocket accept() {
        int fd = begin();
        try {
            int c = Native.accept(fd);
            return c < 0 ? null : new UnixSocket(c);
        } finally {
            end();
        }
    }

    Native.PeerCredentials peerCredentials() {
        int fd = begin();
        try {
            return Native.peerCredentials(fd);
        } finally {
            end();
        }
    }

    /** @return bytes sent, or {@code -errno} (EAGAIN, EPIPE, ECONNRESET) */
    long send(byte[] data, int... fds) {
        int fd = begin();
        try {
            return Native.sendWithFds(fd, data, fds);
        } finally {
            end();
        }
    }

    /** @return what one receive brought, or {@code null} if nothing is available yet */
    Native.Received receive(int max, int maxFds) {
        int fd = begin();
        try {
            return Native.receiveWithFds(fd, max, maxFds);
        } finally {
            end();
        }
    }
}
