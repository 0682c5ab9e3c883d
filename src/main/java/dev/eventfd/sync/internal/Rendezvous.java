package dev.eventfd.sync.internal;

import dev.eventfd.sync.NativeCallException;
import dev.eventfd.sync.OrphanedPermitsException;
import dev.eventfd.sync.internal.jfr.Events;
import dev.eventfd.sync.internal.jfr.NamedOpenEvent;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import dev.eventfd.sync.internal.store.SharedSlotStore;
import dev.eventfd.sync.internal.store.SlotPermits;

/**
 * Finds or creates named, cross-process synchronizers: descriptors travel between processes over
 * {@code AF_UNIX} sockets as {@code SCM_RIGHTS}.
 *
 * <h2>Implementation overview</h2>
 * Every process that has a named object open is a <em>participant</em> and serves it: it listens on
 * its own socket, {@code <dir>/<kind>.<name>.<pid>-<n>.sock} ({@code n} random, and the name never
 * replaces an entry, so processes of different PID namespaces with the same pid do not collide; the
 * pid is for people reading the directory and identifies nothing), and answers each connection with
 * the object's descriptors. Sockets are bound and connected to through {@code /proc/self/fd} links,
 * so the 107 bytes of a socket address never limit the directory's path or the name. A newcomer takes the name's lock file ({@code flock}, polled without
 * blocking), tries the participants' sockets in turn (removing those nobody listens on any more: left
 * by a killed process), and either joins through the first that answers or, when none does, creates
 * the object. Either way it starts serving before it lets go of the lock. A participant leaves
 * ({@link #close()}, also run when its owner becomes unreachable) under the same lock, so a joiner never
 * finds one half gone. One killed while a joiner is connected hangs up unanswered: the joiner asks it
 * again, until its listener refuses (then its socket is removed) or {@value #RESPONSE_MILLIS} ms have
 * passed. A participant that is alive but does not answer in time (starved, say, among many JVMs
 * starting at once) is asked again, with the others, for up to {@value #JOIN_MILLIS} ms before open()
 * fails. So the name keeps working as long as any participant lives, whoever created it, and is
 * created afresh once all have gone. Whoever releases the lock when no socket of the name is left
 * (the last participant leaving, an {@code openExisting} that found nobody) first removes the lock
 * file, so names leave nothing behind; a waiter that then gets the removed file sees that the
 * directory no longer names it and starts again with the current one.
 *
 * <p>Each participant also holds a <em>lease</em> for its life: a read lock (OFD, byte 0) on an open
 * file description of its own of the lock file. The kernel drops it when the last copy of that
 * description is closed, in whatever process: a participant may hand copies to processes that do
 * its work (with a semaphore's lifetime descriptor), and those keep it held after the participant
 * has died. A newcomer that finds no participant tests the lease under the flock before it creates
 * the object: a lease still held means that processes outlived every participant while holding
 * permits of an object nobody can reach any more, and creating it afresh would let more holders run
 * than it has permits, so {@code open} refuses ({@link OrphanedPermitsException}) until they have
 * exited. The lock file is removed only when no lease is held, so the newcomer finds it.
 *
 * <p>Every file in the directory is reached relative to the directory's descriptor and never through
 * a symbolic link: a socket is opened {@code O_PATH | O_NOFOLLOW}, checked to be a socket, connected to
 * through its {@code /proc/self/fd} link, and removed only while the directory still names it; an
 * entry with a socket's name that is not a socket (a regular file, a directory, a link) is left
 * alone. The lock file is opened {@code O_NOFOLLOW}, created {@code O_CREAT | O_EXCL}, checked with
 * {@code fstat} (a regular file with one link) and changed only through its descriptor.
 *
 * <p>The directory is {@code $XDG_RUNTIME_DIR/eventfd-sync}, else {@code <tmpdir>/eventfd-sync-<uid>},
 * created 0700 and refused unless it is owned by this user with no access for others (the
 * {@code eventfd.sync.dir} system property overrides it). Sockets are 0600. A server checks each
 * client's {@code SO_PEERCRED} and answers only its own user (groups come from {@code SO_PEERGROUPS},
 * never from {@code /proc/<pid>}, which is namespace-relative). Sharing between users is an explicit
 * opt-in: {@code eventfd.sync.dir} naming a directory of mode 1770 (no access for others; sticky, so
 * that no member can remove another's socket and let a newcomer create the name afresh beside the live
 * object) whose group holds the users; sockets and lock files are then 0660 and the members of that
 * group are answered.
 *
 * <h2>Protocol (version 1, native byte order)</h2>
 * <pre>
 * request  (8 bytes):  u32 magic 'EFDS' | u16 version | u8 kind | u8 type (0 join, 1 watch)
 * response (16 bytes): u32 magic 'EFDS' | u16 version | u8 status | u8 kind | i32 initial | i32 server pid
 *                      + SCM_RIGHTS when status is OK: the object's descriptors (join), or the
 *                        participant's own pidfd (watch)
 * </pre>
 * A watch request lets a process notice a participant's death as an event ({@link #newPeers}): the
 * pidfd is readable once the participant has exited, in whatever PID namespace it ran.
 * A server closes connections that send fewer bytes than a request within {@value #REQUEST_MILLIS}
 * ms, keeps at most {@value #SLOW_CLIENTS} such connections waiting (beyond that, a connection whose
 * request has not arrived when it is accepted is closed unanswered; a joiner that is hung up on, or
 * finds the backlog full, asks again until {@value #RESPONSE_MILLIS} ms have passed), and answers BAD_REQUEST to more bytes or a wrong magic, VERSION to another version (with its
 * own in the version field) and KIND to another kind.
 */
public final class Rendezvous implements AutoCloseable {

    /**
     * The kinds of named object: a code on the wire, the label in file names (kinds with one label
     * share one name space, so a name is one object whatever kind a process asks for), and the
     * descriptors a participant sends.
     */
    public enum Kind {
        /** A semaphore on the kernel-counter store: the permits eventfd and the turnstile, both EFD_SEMAPHORE. */
        SEMAPHORE(1, "semaphore", "a semaphore on the kernel-counter store", 2),
        /** A latch: the count (EFD_SEMAPHORE) and the gate. */
        LATCH(2, "latch", "a latch", 2),
        /** A semaphore on the shared-memory store: its memfd, then one doorbell eventfd per slot. */
        SLOT_SEMAPHORE(3, "semaphore", "a semaphore on the shared-memory store", 1 + SharedSlotStore.SLOTS);

        final int code;
        final String label;
        final String description;
        final int descriptors;

        Kind(int code, String label, String description, int descriptors) {
            this.code = code;
            this.label = label;
            this.description = description;
            this.descriptors = descriptors;
        }

        /** Takes the {@code index}th received descriptor after checking it; closes it if it is wrong. */
        NativeFd adopt(int index, int fd) {
            return switch (this) {
                case SEMAPHORE -> EventFd.adopt(fd, true, label);
                case LATCH -> EventFd.adopt(fd, index == 0, label);
                case SLOT_SEMAPHORE -> index == 0
                        ? MemFd.adopt(fd, SlotPermits.bytesFor(SharedSlotStore.SLOTS), label)
                        : EventFd.adopt(fd, false, label);
            };
        }

        static String describe(int code) {
            for (Kind k : values()) if (k.code == code) return k.description;
            return "another kind of object (kind " + code + ")";
        }
    }

    /** The outcome of {@link #open}: the object's descriptors, and the participant serving them here. */
    public record Opened(NativeFd[] descriptors, int initial, boolean created, Rendezvous participant) {}

    static final int MAGIC = 0x45464453;   // "EFDS"
    public static final int VERSION = 1;
    static final int REQUEST_BYTES = 8;
    static final int RESPONSE_BYTES = 16;
    static final int OK = 0, BAD_REQUEST = 1, BAD_VERSION = 2, BAD_KIND = 3, REFUSED = 4;
    /** Request types (the request's last byte): the object's descriptors, or the participant's pidfd. */
    static final int JOIN = 0, WATCH = 1;
    static final long REQUEST_MILLIS = 2_000;
    static final long RESPONSE_MILLIS = 5_000;
    static final long LOCK_MILLIS = 30_000;
    /** How long a joiner keeps asking participants that are alive but silent (below LOCK_MILLIS, which others wait). */
    static final long JOIN_MILLIS = 20_000;
    /** Connections a participant keeps waiting for their request at a time; see {@link #serve}. */
    static final int SLOW_CLIENTS = 16;
    /** The listen backlog of a participant's socket. */
    static final int BACKLOG = 64;

    /** Longest name accepted. */
    public static final int MAX_NAME = 64;
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private final Kind kind;
    private final NativeFd[] descriptors;
    private final int initial;
    /** The socket directory, held open for the participant's life: its socket is removed through it. */
    private final Directory dir;
    /** The socket's name in {@link #dir}. */
    private final String socketName;
    /** The socket file as it was bound: it is removed only while the directory still names it. */
    private final Native.FileStatus socketFile;
    /** The prefix of the name's files in {@link #dir}: its sockets and, with "lock", its lock file. */
    private final String prefix;
    /** The object's name: {@link #prefix} is "&lt;label&gt;.&lt;name&gt;.". */
    private final String name;
    /** The name's lock file in {@link #dir}: leaving takes it, as joining does. */
    private final String lockName;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    /** Connections being waited on for their request; see {@link #serve}. */
    private final java.util.concurrent.atomic.AtomicInteger slowClients = new java.util.concurrent.atomic.AtomicInteger();
    private final UnixSocket listener;
    private final int ownUid;
    /** The group whose members are answered too (a shared directory), or -1. */
    private final int sharedGid;
    private final Thread server;
    /**
     * This participant's lease: its own open file description of the name's lock file, holding a read
     * lock (OFD) on byte 0 for the participant's life. See {@link #leaseDescriptor()}.
     */
    private final int lease;

    /** Takes {@code dir}, {@code bound} and {@code lease}: all are closed with this participant. */
    private Rendezvous(Kind kind, NativeFd[] descriptors, int initial, Directory dir, String prefix, Bound bound,
                       int lease, int ownUid) {
        this.kind = kind;
        this.descriptors = descriptors;
        this.initial = initial;
        this.dir = dir;
        this.socketName = bound.name();
        this.socketFile = bound.file();
        this.listener = bound.listener();
        this.prefix = prefix;
        this.name = prefix.substring(kind.label.length() + 1, prefix.length() - 1);
        this.lockName = prefix + "lock";
        this.ownUid = ownUid;
        this.sharedGid = dir.sharedGid();
        this.lease = lease;
        this.server = Thread.ofVirtual().name("eventfd-sync serving " + socketName).start(this::serve);
    }

    /**
     * Joins the object {@code name} of {@code kind} if a participant serves it, else creates it with
     * {@code create} (called with the name's lock held). Either way this process then serves it.
     *
     * @throws IllegalArgumentException if the name is not acceptable (the message says why)
     */
    public static Opened open(Kind kind, String name, int initial, Supplier<NativeFd[]> create) {
        return open(kind, name, initial, create, true);
    }

    /** Joins {@code name} if a participant serves it, and serves it too. @return null if nobody has it open */
    public static Opened openExisting(Kind kind, String name) {
        return open(kind, name, 0, null, false);
    }

    private static Opened open(Kind kind, String name, int initial, Supplier<NativeFd[]> create, boolean mayCreate) {
        checkName(name);
        NamedOpenEvent event = Events.namedOpen();
        int uid = currentUid();
        String prefix = kind.label + "." + name + ".";
        Directory dir = Directory.open();
        boolean handedOver = false;
        Patience patience = new Patience();
        try {
            int lock = lockName(dir, prefix + "lock", patience);
            try {
                Opened joined = join(kind, dir, prefix, patience);
                if (joined == null && !mayCreate) return null;
                if (joined == null && Native.byteLock(lock, 0, 2)) throw new OrphanedPermitsException(name);
                int lease = takeLease(dir, prefix + "lock", lock, patience);
                try {
                    NativeFd[] fds = joined != null ? joined.descriptors() : create.get();
                    int init = joined != null ? joined.initial() : initial;
                    try {
                        Bound bound = bind(dir, prefix);
                        try {
                            Rendezvous participant = new Rendezvous(kind, fds, init, dir, prefix, bound, lease, uid);
                            handedOver = true;
                            if (event != null) event.finish(kind.description, name, joined == null);
                            return new Opened(fds, init, joined == null, participant);
                        } catch (RuntimeException | Error e) {
                            bound.listener().close();
                            Native.unlinkAt(dir.fd(), bound.name());
                            throw e;
                        }
                    } catch (RuntimeException | Error e) {
                        for (NativeFd fd : fds) fd.close();
                        throw e;
                    }
                } finally {
                    if (!handedOver) Native.close(lease);
                }
            } finally {
                unlock(dir, prefix + "lock", prefix, lock, false);
            }
        } finally {
            if (!handedOver) dir.close();
            patience.end();
        }
    }

    /** The live participants of a name: the pid each socket name gives (numbered in its own PID namespace), for status. */
    public static List<Long> participants(Kind kind, String name) {
        checkName(name);
        List<Long> pids = new ArrayList<>();
        String prefix = kind.label + "." + name + ".";
        try (Directory dir = Directory.open()) {
            for (String socket : sockets(dir, prefix)) {
                if (!listening(dir, socket, false)) continue;
                String rest = socket.substring(prefix.length());
                pids.add(Long.parseLong(rest.substring(0, rest.indexOf('-'))));
            }
        }
        return pids;
    }

    /**
     * Whether the lease of the name is held (see the implementation overview): by its participants,
     * or, when none is left, by processes they handed it to, which then keep the name from being
     * created afresh. Looks only; creates nothing.
     */
    public static boolean leased(Kind kind, String name) {
        checkName(name);
        try (Directory dir = Directory.open()) {
            String lockName = kind.label + "." + name + ".lock";
            int fd = Native.openAt(dir.fd(), lockName, Native.O_RDONLY | Native.O_NOFOLLOW | Native.O_NONBLOCK | Native.O_NOCTTY,
                    0, Native.ENOENT, Native.ELOOP, Native.EACCES);
            if (fd < 0) return false;                    // no lock file (or not one to open): no lease
            try {
                return Native.fstat(fd).type() == Native.S_IFREG && Native.byteLock(fd, 0, 2);
            } finally {
                Native.close(fd);
            }
        }
    }

    /**
     * The names of {@code kind} (by its label: both semaphore stores are "semaphore") that at least one
     * live process has open, sorted. A socket nobody listens on (its process died) does not count.
     */
    public static java.util.SortedSet<String> namesInUse(Kind kind) {
        java.util.SortedSet<String> names = new java.util.TreeSet<>();
        String prefix = kind.label + ".";
        try (Directory dir = Directory.open()) {
            for (String socket : socketFiles(dir, prefix, ".+\\.[0-9]+-[0-9]+\\.sock")) {
                String rest = socket.substring(prefix.length(), socket.length() - ".sock".length());
                String name = rest.substring(0, rest.lastIndexOf('.'));   // NAME.PID-NONCE: a name may contain dots
                if (names.contains(name) || !NAME.matcher(name).matches() || name.length() > MAX_NAME) continue;
                if (listening(dir, socket, false)) names.add(name);   // else its process died
            }
        }
        return names;
    }

    /** The sockets {@link #newPeers} has had an answer from (a pidfd, or a refusal: gone). */
    private final java.util.Set<String> asked = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * What a scan of the name's other participants found: the pidfds of those not answered before
     * (by socket name; the caller owns them), the sockets present now, and whether every participant
     * asked answered (one that hung up or refused is most likely dying).
     */
    public record PeerScan(java.util.Map<String, PidFd> found, java.util.Set<String> present, boolean allAnswered) {}

    /**
     * Asks each participant of this name that has not answered before for its pidfd ({@link #WATCH}),
     * through a directory descriptor of its own (so a concurrent {@link #close()} closes nothing it
     * uses). A participant that is busy or does not answer within {@value #RESPONSE_MILLIS} ms is
     * asked again by the next scan. Waits (parks) for the answers; call it off any lock.
     */
    public PeerScan newPeers() {
        java.util.Map<String, PidFd> found = new java.util.HashMap<>();
        java.util.Set<String> present = new java.util.HashSet<>();
        boolean all = true;
        if (closed.get()) return new PeerScan(found, present, true);
        try (Directory d = Directory.open()) {
            for (String socket : sockets(d, prefix)) {
                if (socket.equals(socketName)) continue;
                present.add(socket);
                if (asked.contains(socket) || closed.get()) continue;
                try {
                    UnixSocket s = connect(d, socket, false);
                    if (s == null) {
                        asked.add(socket);       // nobody listens: it has died
                        all = false;
                        continue;
                    }
                    try (s) {
                        found.put(socket, requestPidFd(kind, s, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESPONSE_MILLIS)));
                        asked.add(socket);
                    }
                } catch (HungUp dying) {
                    asked.add(socket);
                    all = false;
                } catch (RuntimeException busyOrSilent) {
                    all = false;                 // asked again next time
                }
            }
        }
        asked.retainAll(present);                // sockets gone from the directory are forgotten
        return new PeerScan(found, present, all);
    }

    /**
     * Stops serving once {@code owner} is unreachable (it was never closed): the server then lets go
     * of the descriptors, whose own cleaners close them. The action holds this participant only; it
     * runs on a virtual thread of its own, since leaving waits for the name's lock and the cleaner
     * thread is shared.
     */
    public void closeWhenUnreachable(Object owner) {
        NativeFd.CLEANER.register(owner, () -> Thread.ofVirtual().name("eventfd-sync leaving " + socketName)
                .start(this::close));
    }

    /**
     * Stops serving and removes this participant's socket, holding the name's lock as a joiner does:
     * a joiner never finds this participant half gone (connected, then hung up on). If the lock cannot
     * be had (it is held longer than {@value #LOCK_MILLIS} ms, or the lock file went bad), the
     * participant leaves anyway; a joiner that then finds it hung up asks again and finds it gone. The
     * descriptors are the owner's to close.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        Patience patience = new Patience();
        int lock = -1;
        try {
            try {
                lock = lockName(dir, lockName, patience);
            } catch (RuntimeException unavailable) {
                // leave without it, as described above
            }
            listener.close();             // the server wakes with CLOSED and ends
            if (socketFile.sameFile(Native.lstatAt(dir.fd(), socketName))) Native.unlinkAt(dir.fd(), socketName);
        } finally {
            // Leaving returns what this process held, whoever has copies of its descriptors (as the
            // store's close() drops its liveness lock): the lease is dropped, not only closed.
            Native.byteLock(lease, 0, 1);
            Native.close(lease);
            if (lock >= 0) unlock(dir, lockName, prefix, lock, true);
            dir.close();
            patience.end();
        }
    }

    /**
     * This participant's lease descriptor: an open file description of the name's lock file holding a
     * read lock on its byte 0. A process this participant hands a copy to (with a semaphore's lifetime
     * descriptor, see {@code EventFdSemaphore.lifetimeDescriptors()}) keeps the lease held after
     * every participant has gone: the name then is not created afresh beside the permits such a
     * process still holds of the object nobody serves any more ({@link OrphanedPermitsException}).
     * Valid until {@link #close()}.
     */
    public int leaseDescriptor() {
        return lease;
    }

    /** The object's name. */
    public String name() {
        return name;
    }

    // ------------------------------------------------------------------ names and the directory

    static void checkName(String name) {
        if (name == null) throw new NullPointerException("name");
        if (name.isEmpty()) throw new IllegalArgumentException("name is empty");
        if (name.indexOf('\0') >= 0) throw new IllegalArgumentException("name contains a NUL character");
        if (name.indexOf('/') >= 0) throw new IllegalArgumentException("name contains '/': " + name);
        if (name.equals(".") || name.equals("..")) throw new IllegalArgumentException("name is '" + name + "'");
        if (name.length() > MAX_NAME) {
            throw new IllegalArgumentException("name longer than " + MAX_NAME + " characters: " + name.length());
        }
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("name must start with a letter or digit and use only "
                    + "letters, digits, '.', '_' and '-': " + name);
        }
    }

    /** The directory of sockets, and the group it is shared with (-1: this user only). */
    record Place(Path dir, int sharedGid) {}

    /** The directory of sockets, created 0700 if missing, and checked. */
    public static Path directory() {
        return place().dir();
    }

    /** The directory of sockets, created 0700 if missing, and checked; see {@link Directory#open()}. */
    static Place place() {
        try (Directory d = Directory.open()) {
            return new Place(d.path(), d.sharedGid());
        }
    }

    /**
     * The socket directory, open: every file in it is opened, created, examined and removed relative
     * to this descriptor, and never through a symbolic link.
     *
     * <p>Owned by one participant (or one call) and closed exactly once.
     */
    static final class Directory implements AutoCloseable {
        private final Path path;
        private final int fd;
        private final int sharedGid;
        private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

        /**
         * Opens and checks the directory. The default directories are this user's own: they must be
         * owned by this user with mode 0700. A directory named by {@code eventfd.sync.dir} may instead
         * be shared with a group, which is the explicit opt-in to sharing between users: mode 1770
         * (no access for others, and sticky, so that no member can remove another's socket or lock
         * file), owned by this user or by a group this user is in; its participants then answer the
         * members of that group as well. The directory itself is opened with {@code O_NOFOLLOW} and
         * checked through its descriptor.
         */
        static Directory open() {
            String override = System.getProperty("eventfd.sync.dir");
            String xdg = System.getenv("XDG_RUNTIME_DIR");
            Path dir;
            if (override != null) dir = Path.of(override);
            else if (xdg != null && !xdg.isEmpty() && Files.isDirectory(Path.of(xdg))) dir = Path.of(xdg, "eventfd-sync");
            else dir = Path.of(System.getProperty("java.io.tmpdir"), "eventfd-sync-" + currentUid());
            try {
                if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    try {
                        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(
                                PosixFilePermissions.fromString("rwx------")));
                    } catch (java.nio.file.FileAlreadyExistsException raced) {
                        // another process made it: checked below like any existing directory
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the eventfd-sync directory " + dir, e);
            }
            int fd = Native.openAt(Native.AT_FDCWD, dir.toString(), Native.O_RDONLY | Native.O_DIRECTORY
                    | Native.O_NOFOLLOW, 0, Native.ELOOP, Native.ENOTDIR);
            if (fd == -Native.ELOOP) {
                throw new IllegalStateException(dir + " is a symbolic link: the eventfd-sync directory must be a "
                        + "directory, not a link to one");
            }
            if (fd == -Native.ENOTDIR) throw new IllegalStateException(dir + " is not a directory");
            try {
                Native.FileStatus st = Native.fstat(fd);
                int mode = st.permissions() & 0777;
                int uid = currentUid();
                if (mode == 0700 && st.uid() == uid) return new Directory(dir, fd, -1);
                if (override != null && mode == 0770 && (st.uid() == uid || inOwnGroups(st.gid()))) {
                    if ((st.permissions() & Native.S_ISVTX) == 0) {
                        throw new IllegalStateException(dir + " (owner uid " + st.uid() + ", group " + st.gid()
                                + ", mode " + modeString(st.permissions()) + ") is shared with its group but is not "
                                + "sticky: a member could remove another's socket and split a name in two; "
                                + "make it sticky (chmod 1770)");
                    }
                    return new Directory(dir, fd, st.gid());
                }
                throw new IllegalStateException(dir + " (owner uid " + st.uid() + ", group " + st.gid() + ", mode "
                        + modeString(st.permissions()) + ") is not safe for eventfd-sync sockets: it must be this "
                        + "user's with mode rwx------, or, named by eventfd.sync.dir, shared with a group of this "
                        + "user with mode rwxrwx--T (1770: no access for others, and sticky)");
            } catch (RuntimeException | Error e) {
                Native.close(fd);
                throw e;
            }
        }

        private Directory(Path path, int fd, int sharedGid) {
            this.path = path;
            this.fd = fd;
            this.sharedGid = sharedGid;
        }

        Path path() {
            return path;
        }

        int fd() {
            return fd;
        }

        /** The group the directory is shared with, or -1 (this user only). */
        int sharedGid() {
            return sharedGid;
        }

        /** The path of {@code name} in this directory, for messages. */
        String describe(String name) {
            return path.resolve(name).toString();
        }

        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) Native.close(fd);
        }
    }

    /** Permission bits as {@code ls} shows them, e.g. {@code rwxrwx--T}. */
    static String modeString(int mode) {
        char[] c = "rwxrwxrwx".toCharArray();
        for (int i = 0; i < 9; i++) if ((mode & (0400 >> i)) == 0) c[i] = '-';
        if ((mode & 04000) != 0) c[2] = c[2] == 'x' ? 's' : 'S';
        if ((mode & 02000) != 0) c[5] = c[5] == 'x' ? 's' : 'S';
        if ((mode & 01000) != 0) c[8] = c[8] == 'x' ? 't' : 'T';
        return new String(c);
    }

    /** Whether this process acts with group {@code gid} (its effective group or a supplementary one). */
    private static boolean inOwnGroups(int gid) {
        for (int g : Native.groups()) if (g == gid) return true;
        return false;
    }

    /** This process's effective uid. */
    static int currentUid() {
        return Native.geteuid();
    }

    /**
     * Takes the name's lock: {@code flock} on the lock file that the directory names, polled without
     * blocking with parking between tries. A lock file can be removed by the last participant to leave
     * while others wait for it ({@link #unlock}); a waiter that then gets it holds a file nobody else
     * will lock again, so once it has the lock it checks that the directory still names that file,
     * and else starts again with the current one.
     *
     * @return the lock file's descriptor; {@link #unlock} releases it
     */
    private static int lockName(Directory dir, String lockName, Patience patience) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LOCK_MILLIS);
        for (;;) {
            int fd = openLockFile(dir, lockName, deadline, patience);
            boolean held = false;
            try {
                long pause = TimeUnit.MICROSECONDS.toNanos(100);
                while (!Native.tryLockExclusive(fd)) {
                    if (System.nanoTime() - deadline > 0) {
                        throw new IllegalStateException("timed out after " + LOCK_MILLIS + " ms waiting for "
                                + dir.describe(lockName));
                    }
                    patience.pause(pause);
                    pause = Math.min(pause * 2, TimeUnit.MILLISECONDS.toNanos(20));
                }
                held = Native.fstat(fd).sameFile(Native.lstatAt(dir.fd(), lockName));
                if (held) return fd;
            } finally {
                if (!held) Native.close(fd);
            }
        }
    }

    /**
     * Releases the name's lock, first removing the lock file when no socket of the name is left and
     * no lease is held: the last participant has gone (or none came), and the name leaves nothing
     * behind. A lease still held (by a process a participant handed it to) keeps the file, so that
     * the next opener finds it. Only the holder removes it, and only while it is still the file the
     * directory names. One that cannot be removed (a member's, in a sticky directory) stays,
     * harmlessly. A participant that leaves ({@code leaving}) first removes the sockets nobody
     * listens on any more (left by participants killed since the last join), so that the last one
     * to leave finds none; an {@code open} has just looked at every socket (and made its own).
     */
    private static void unlock(Directory dir, String lockName, String prefix, int fd, boolean leaving) {
        try {
            if (leaving) removeDeadSockets(dir, prefix);
            if (sockets(dir, prefix).isEmpty() && !Native.byteLock(fd, 0, 2)
                    && Native.fstat(fd).sameFile(Native.lstatAt(dir.fd(), lockName))) {
                Native.unlinkAt(dir.fd(), lockName);
            }
        } catch (RuntimeException housekeepingOnly) {
            // the lock is released below all the same
        } finally {
            Native.close(fd);             // releases the flock
        }
    }

    /** Removes the name's sockets that nobody listens on (their participants died). */
    private static void removeDeadSockets(Directory dir, String prefix) {
        for (String socket : sockets(dir, prefix)) listening(dir, socket, true);
    }

    /**
     * Whether a participant listens on the socket file {@code socket}: connects and hangs up at once
     * (a full backlog counts as listening). With {@code removeDead}, removes it if nobody does.
     */
    private static boolean listening(Directory dir, String socket, boolean removeDead) {
        try {
            UnixSocket s = connect(dir, socket, removeDead);
            if (s == null) return false;
            s.close();
            return true;
        } catch (UnixSocket.BacklogFull busy) {
            return true;                                 // alive, and busy
        }
    }

    /**
     * Opens a description of its own of the name's lock file (the one {@code lock}, which holds the
     * name's flock, describes) and takes a read lock on its byte 0: the participant's lease. Read
     * locks never conflict with each other, and the only test for one ({@code open} before it creates)
     * runs under the flock, so this never fails for a conflict.
     */
    private static int takeLease(Directory dir, String lockName, int lock, Patience patience) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(LOCK_MILLIS);
        int lease = openLockFile(dir, lockName, deadline, patience);
        boolean taken = false;
        try {
            // under the flock the file cannot be removed or replaced: this is the same file
            if (!Native.fstat(lease).sameFile(Native.fstat(lock)) || !Native.byteLock(lease, 0, 3)) {
                throw new IllegalStateException("could not take the lease on " + dir.describe(lockName));
            }
            taken = true;
            return lease;
        } finally {
            if (!taken) Native.close(lease);
        }
    }

    /**
     * The waits of one {@code open()} or {@code close()}, which are not interruptible: an interrupt is
     * cleared before each pause, so that parking parks instead of returning at once (a spin), and
     * given back by {@link #end()}, as {@link java.util.concurrent.Semaphore#acquireUninterruptibly()}
     * does. Confined to one thread.
     */
    static final class Patience {
        private boolean interrupted;

        /** Parks for about {@code nanos} (less if interrupted meanwhile; the next pause parks again). */
        void pause(long nanos) {
            if (Thread.interrupted()) interrupted = true;
            LockSupport.parkNanos(nanos);
        }

        /** Re-asserts an interrupt that a pause cleared. */
        void end() {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /**
     * Opens the name's lock file relative to the directory's descriptor, never following a link, and
     * creates it exclusively if it is missing. What is found is checked through the descriptor opened
     * (a regular file with one link, this user's in a private directory) and, if it is this user's,
     * given its mode and group through that descriptor: anything a group member planted (a symbolic or
     * hard link to someone's file, a FIFO, a directory) is refused and left alone.
     */
    private static int openLockFile(Directory dir, String name, long deadline, Patience patience) {
        int flags = Native.O_RDONLY | Native.O_NOFOLLOW | Native.O_NONBLOCK | Native.O_NOCTTY;
        int mode = dir.sharedGid() < 0 ? 0600 : 0660;
        for (long pause = TimeUnit.MICROSECONDS.toNanos(100); ; pause = Math.min(pause * 2, TimeUnit.MILLISECONDS.toNanos(20))) {
            int fd = Native.openAt(dir.fd(), name, flags, 0, Native.ENOENT, Native.ELOOP, Native.EACCES);
            if (fd == -Native.ENOENT) {
                fd = Native.openAt(dir.fd(), name, flags | Native.O_CREAT | Native.O_EXCL, mode,
                        Native.EEXIST, Native.ELOOP, Native.EACCES);
                if (fd == -Native.EEXIST) continue;        // another process made it meanwhile: open that
            }
            if (fd == -Native.ELOOP) {
                throw new IllegalStateException(dir.describe(name) + " is a symbolic link, not a lock file: "
                        + "eventfd-sync never follows links in its directory; remove it");
            }
            if (fd == -Native.EACCES) {
                // a member who has just created it has not yet given it the group's mode
                if (System.nanoTime() - deadline > 0) {
                    Native.FileStatus st = Native.lstatAt(dir.fd(), name);
                    throw new IllegalStateException(dir.describe(name) + " cannot be read by this user"
                            + (st == null ? "" : " (owner uid " + st.uid() + ", group " + st.gid() + ", mode "
                            + modeString(st.permissions()) + ")") + ": a lock file must be readable by the directory's group");
                }
                patience.pause(pause);
                continue;
            }
            boolean checked = false;
            try {
                checked = checkLockFile(dir, name, fd, mode);
            } finally {
                if (!checked) Native.close(fd);
            }
            if (checked) return fd;
            // removed between the open and the check (by the last participant leaving): open again
        }
    }

    /** @return false if the file has no link any more (it was removed after it was opened) */
    private static boolean checkLockFile(Directory dir, String name, int fd, int mode) {
        Native.FileStatus st = Native.fstat(fd);
        if (st.links() == 0 && st.type() == Native.S_IFREG) return false;
        if (st.type() != Native.S_IFREG) {
            throw new IllegalStateException(dir.describe(name) + " is not a regular file (" + typeName(st.type())
                    + "): a lock file must be one; remove it");
        }
        if (st.links() != 1) {
            throw new IllegalStateException(dir.describe(name) + " has " + st.links() + " links: a lock file has "
                    + "exactly one (another would be a link to someone's file); remove it");
        }
        int uid = currentUid();
        if (st.uid() != uid) {
            if (dir.sharedGid() >= 0) return true;  // a member's: it is only locked, never changed
            throw new IllegalStateException(dir.describe(name) + " is owned by uid " + st.uid()
                    + ", not this user: in a private directory every lock file is this user's; remove it");
        }
        if (st.permissions() != mode) Native.fchmod(fd, mode);      // the umask may have taken bits
        if (dir.sharedGid() >= 0 && st.gid() != dir.sharedGid()) Native.fchgrp(fd, dir.sharedGid());
        return true;
    }

    private static String typeName(int type) {
        return switch (type) {
            case Native.S_IFDIR -> "a directory";
            case Native.S_IFLNK -> "a symbolic link";
            case Native.S_IFSOCK -> "a socket";
            case 0010000 -> "a FIFO";
            case 0020000 -> "a character device";
            case 0060000 -> "a block device";
            default -> "type " + Integer.toOctalString(type);
        };
    }

    /** A participant's listening socket, its name in the directory, and the socket file as bound. */
    private record Bound(UnixSocket listener, String name, Native.FileStatus file) {}

    /**
     * Binds and listens on a new socket {@code <prefix><pid>-<n>.sock}, {@code n} random, with the mode
     * and group the directory calls for. The socket is bound under a short temporary name through the
     * directory's {@code /proc/self/fd} link (so neither the directory's path nor the name's length
     * counts against the 107 bytes of a socket address), given its mode and group through an
     * {@code O_PATH} descriptor, and then linked to its name, which never replaces an entry: a name
     * taken already, say by a process of another PID namespace with the same pid, just means another
     * {@code n}. The pid is there for people reading the directory, and identifies nothing.
     */
    private static Bound bind(Directory dir, String prefix) {
        java.util.random.RandomGenerator random = java.util.concurrent.ThreadLocalRandom.current();
        for (int attempt = 0; ; attempt++) {
            String temporary = ".bind-" + Long.toHexString(random.nextLong()) + ".tmp";
            UnixSocket listener;
            try {
                listener = UnixSocket.listen("/proc/self/fd/" + dir.fd() + "/" + temporary, BACKLOG);
            } catch (NativeCallException e) {
                if (e.errno() == Native.EADDRINUSE && attempt < 100) continue;
                throw e;
            }
            boolean bound = false;
            try {
                int file = Native.openAt(dir.fd(), temporary, Native.O_PATH | Native.O_NOFOLLOW, 0);
                try {
                    Native.FileStatus st = Native.fstat(file);
                    if (st.type() != Native.S_IFSOCK || st.uid() != currentUid()) {
                        throw new IllegalStateException(dir.describe(temporary) + " is not the socket just bound");
                    }
                    Native.fchmodPath(file, dir.sharedGid() < 0 ? 0600 : 0660);
                    if (dir.sharedGid() >= 0 && st.gid() != dir.sharedGid()) Native.fchgrp(file, dir.sharedGid());
                    String name;
                    int tries = 0;
                    do {
                        if (++tries > 100) throw new IllegalStateException("no free socket name " + prefix + "*");
                        name = prefix + ProcessHandle.current().pid() + "-"
                                + random.nextLong(1_000_000_000L, 10_000_000_000L) + ".sock";
                    } while (Native.linkAt(dir.fd(), temporary, name) == -Native.EEXIST);
                    bound = true;
                    return new Bound(listener, name, Native.fstat(file));
                } finally {
                    Native.close(file);
                }
            } finally {
                Native.unlinkAt(dir.fd(), temporary);
                if (!bound) listener.close();
            }
        }
    }

    /**
     * The names in {@code dir} of the sockets of the name whose files begin with {@code prefix}: the
     * entries that match the pattern and are sockets (examined without following links). Anything
     * else with such a name (a regular file, a directory, a link) is none of this library's, and is
     * left alone.
     */
    private static List<String> sockets(Directory dir, String prefix) {
        return socketFiles(dir, prefix, "[0-9]+-[0-9]+\\.sock");
    }

    /** The sockets of the directory whose names are {@code prefix} followed by a match of {@code rest}. */
    private static List<String> socketFiles(Directory dir, String prefix, String rest) {
        List<String> found = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Path.of("/proc/self/fd/" + dir.fd()),
                prefix.replace("[", "\\[") + "*.sock")) {
            for (Path p : ds) {
                String file = p.getFileName().toString();
                if (!file.substring(prefix.length()).matches(rest)) continue;
                Native.FileStatus st = Native.lstatAt(dir.fd(), file);
                if (st != null && st.type() == Native.S_IFSOCK) found.add(file);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir.path(), e);
        }
        return found;
    }

    /**
     * Opens a socket file of the directory {@code O_PATH | O_NOFOLLOW} (a link is never followed).
     *
     * @return the descriptor, or -1 if the entry is gone or is not a socket
     */
    private static int openSocketFile(Directory dir, String name) {
        int fd = Native.openAt(dir.fd(), name, Native.O_PATH | Native.O_NOFOLLOW, 0, Native.ENOENT);
        if (fd < 0) return -1;
        boolean socket = false;
        try {
            socket = Native.fstat(fd).type() == Native.S_IFSOCK;
        } finally {
            if (!socket) Native.close(fd);
        }
        return fd;
    }

    /**
     * Connects to the socket file {@code name}; removes it if nobody listens on it any more (a
     * participant that died left it), provided the directory still names the same file.
     *
     * @return a connected socket, or {@code null} if there is no live socket by that name
     * @throws UnixSocket.BacklogFull if a listener is there but its backlog is full
     */
    private static UnixSocket connect(Directory dir, String name, boolean removeDead) {
        int file = openSocketFile(dir, name);
        if (file < 0) return null;
        try {
            UnixSocket s = UnixSocket.connectThrough(file, dir.describe(name));
            if (s == null && removeDead && Native.fstat(file).sameFile(Native.lstatAt(dir.fd(), name))) {
                Native.unlinkAt(dir.fd(), name);   // EPERM: another member's, in a sticky directory; it stays
            }
            return s;
        } finally {
            Native.close(file);
        }
    }

    // ------------------------------------------------------------------ client

    /**
     * Asks each participant in turn, removing sockets nobody listens on any more.
     *
     * @return the object, or null if no participant is alive (the caller may then create it)
     * @throws IllegalStateException if participants are alive but none answered: creating the object
     *                               afresh then would split the name in two
     */
    private static Opened join(Kind kind, Directory dir, String prefix, Patience patience) {
        // A participant that is alive but does not answer in time is most likely starved (a JVM
        // starting beside many others): every live one is asked again, for up to JOIN_MILLIS in all,
        // before open() fails rather than split the name.
        long giveUp = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(JOIN_MILLIS);
        for (;;) {
            List<String> silent = new ArrayList<>();
            Opened joined = joinRound(kind, dir, prefix, patience, silent);
            if (joined != null || silent.isEmpty()) return joined;
            if (System.nanoTime() - giveUp > 0) {
                throw new IllegalStateException("the participants of " + prefix + "* are alive but none answered"
                        + " within " + JOIN_MILLIS + " ms: " + String.join("; ", silent));
            }
            patience.pause(TimeUnit.MILLISECONDS.toNanos(50));
        }
    }

    /** Asks each participant once (with retries while it hangs up or is busy); the silent ones go to {@code silent}. */
    private static Opened joinRound(Kind kind, Directory dir, String prefix, Patience patience, List<String> silent) {
        for (String socket : sockets(dir, prefix)) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESPONSE_MILLIS);
            long pause = TimeUnit.MILLISECONDS.toNanos(1);
            for (;;) {
                RuntimeException again;
                try {
                    UnixSocket s = connect(dir, socket, true);   // we hold the name's lock: a dead one's is removed
                    if (s == null) break;
                    try (s) {
                        return request(kind, s, deadline);
                    }
                } catch (ProtocolException e) {
                    throw e;                       // a live server that speaks another protocol: say so
                } catch (HungUp | UnixSocket.BacklogFull e) {
                    // Hung up on unanswered (the participant is dying, and its listener refuses the next
                    // connect; or it is flooded and dropped this connection), or its backlog is full.
                    again = e;
                } catch (RuntimeException e) {
                    silent.add(socket + ": " + e.getMessage());   // alive, but no answer: try the next
                    break;
                }
                if (System.nanoTime() - deadline > 0) {
                    silent.add(socket + ": " + again.getMessage());
                    break;
                }
                patience.pause(pause);                            // ask again
                pause = Math.min(pause * 2, TimeUnit.MILLISECONDS.toNanos(50));
            }
        }
        return null;
    }

    /** A server's answer this library cannot accept: another protocol, another kind, refused. */
    public static final class ProtocolException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        ProtocolException(String message) {
            super(message);
        }
    }

    /** The server ended the connection without answering (end of stream, or reset). */
    static final class HungUp extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        HungUp() {
            super("hung up without answering");
        }
    }

    static Opened request(Kind kind, UnixSocket s) {
        return request(kind, s, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RESPONSE_MILLIS));
    }

    /** Sends a join request on {@code s} and takes the answer, waiting until {@code deadline} at most. */
    static Opened request(Kind kind, UnixSocket s, long deadline) {
        Native.Received r = exchange(kind, s, deadline, JOIN, kind.descriptors);
        int[] fds = r.fds();
        try {
            if (r.truncated() || fds.length != kind.descriptors) {
                throw new ProtocolException("expected " + kind.descriptors + " descriptors, got "
                        + fds.length + (r.truncated() ? " (truncated)" : ""));
            }
            NativeFd[] adopted = new NativeFd[fds.length];
            try {
                for (int i = 0; i < fds.length; i++) {
                    int fd = fds[i];
                    fds[i] = -1;                   // adopt() owns it now, and closes it if it refuses it
                    adopted[i] = kind.adopt(i, fd);
                }
            } catch (RuntimeException e) {
                for (NativeFd a : adopted) if (a != null) a.close();
                if (!(e instanceof IllegalArgumentException)) throw e;
                throw new ProtocolException("the server sent an unexpected descriptor: " + e.getMessage());
            }
            int init = ByteBuffer.wrap(r.data()).order(ByteOrder.nativeOrder()).getInt(8);
            return new Opened(adopted, init, false, null);
        } finally {
            for (int fd : fds) if (fd >= 0) Native.close(fd);
        }
    }

    /** Asks the participant on {@code s} for its pidfd (a watch request). */
    static PidFd requestPidFd(Kind kind, UnixSocket s, long deadline) {
        Native.Received r = exchange(kind, s, deadline, WATCH, 1);
        int[] fds = r.fds();
        try {
            if (r.truncated() || fds.length != 1) {
                throw new ProtocolException("expected 1 descriptor, got " + fds.length + (r.truncated() ? " (truncated)" : ""));
            }
            int fd = fds[0];
            fds[0] = -1;
            try {
                return PidFd.adopt(fd, kind.label);
            } catch (IllegalArgumentException e) {
                throw new ProtocolException("the server sent an unexpected descriptor: " + e.getMessage());
            }
        } finally {
            for (int fd : fds) if (fd >= 0) Native.close(fd);
        }
    }

    /**
     * Sends a request of {@code type} and takes the answer, whose header it checks.
     *
     * @return the answer, with its descriptors (the caller's to close), if its status is OK
     */
    private static Native.Received exchange(Kind kind, UnixSocket s, long deadline, int type, int maxFds) {
        byte[] req = ByteBuffer.allocate(REQUEST_BYTES).order(ByteOrder.nativeOrder())
                .putInt(MAGIC).putShort((short) VERSION).put((byte) kind.code).put((byte) type).array();
        long sent = s.send(req);
        // A server that refuses may hang up before reading: its answer is still there to be read.
        if (sent != REQUEST_BYTES && sent != -Native.EPIPE && sent != -Native.ECONNRESET) {
            throw new IllegalStateException("could not send the request");
        }
        Native.Received r;
        while ((r = s.receive(RESPONSE_BYTES * 2, maxFds + 1)) == null) {
            if (Poller.shared().await(s, true, deadline, false) == Poller.Outcome.TIMED_OUT) {
                throw new IllegalStateException("no answer within " + RESPONSE_MILLIS + " ms");
            }
        }
        boolean ok = false;
        try {
            if (r.data().length == 0) throw new HungUp();
            if (r.data().length < RESPONSE_BYTES) {
                throw new IllegalStateException("short answer: " + r.data().length + " bytes");
            }
            ByteBuffer b = ByteBuffer.wrap(r.data()).order(ByteOrder.nativeOrder());
            int magic = b.getInt();
            int version = b.getShort() & 0xffff;
            int status = b.get();
            int k = b.get();
            if (magic != MAGIC) throw new ProtocolException("the server is not an eventfd-sync participant");
            if (version != VERSION || status == BAD_VERSION) {
                throw new ProtocolException("the server speaks eventfd-sync protocol version " + version
                        + "; this library speaks version " + VERSION);
            }
            if (status == REFUSED) throw new ProtocolException("the server refused this user");
            if (status == BAD_KIND || k != kind.code) {
                throw new ProtocolException("the name is open as " + Kind.describe(k) + ", not as " + kind.description);
            }
            if (status != OK) throw new ProtocolException("the server rejected the request (status " + status + ")");
            ok = true;
            return r;
        } finally {
            if (!ok) for (int fd : r.fds()) Native.close(fd);
        }
    }

    // ------------------------------------------------------------------ server

    /**
     * Accepts connections and answers them. A connection whose request has arrived by the time it is
     * accepted (a joiner sends it right after connecting) is answered at once on this thread; one
     * still waiting for its request gets a virtual thread, but at most {@value #SLOW_CLIENTS} at a
     * time: beyond that it is closed unanswered, which a joiner takes for a busy participant and
     * connects again. So an idle flood of connections holds at most {@value #SLOW_CLIENTS}
     * descriptors here, the backlog keeps draining, and joiners keep getting through.
     */
    private void serve() {
        Poller poller = Poller.shared();
        try {
            for (;;) {
                try {
                    UnixSocket c;
                    while ((c = listener.accept()) != null) {
                        UnixSocket conn = c;
                        Request request = new Request();
                        boolean handedOff = false;
                        try {
                            if (!request.read(conn)) {
                                if (slowClients.incrementAndGet() <= SLOW_CLIENTS) {
                                    Thread.ofVirtual().name("eventfd-sync answering").start(() -> answerSlow(conn, request));
                                    handedOff = true;
                                } else {
                                    slowClients.decrementAndGet();
                                }
                            } else {
                                answer(conn, request);
                            }
                        } catch (RuntimeException e) {
                            // one client's trouble never disturbs the server or other clients
                        } finally {
                            if (!handedOff) conn.close();
                        }
                    }
                } catch (NativeCallException e) {
                    // EMFILE, ENFILE, ENOMEM...: this process is short of something now; the pending
                    // connection waits in the backlog. Serving must outlive it, or the name splits.
                    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
                    continue;
                }
                if (poller.await(listener, false, 0, false) == Poller.Outcome.CLOSED) return;
            }
        } catch (dev.eventfd.sync.ClosedException closed) {
            // the participant was closed
        }
    }

    /** The bytes of a request received so far on one connection. */
    private static final class Request {
        byte[] got = new byte[0];
        boolean hungUp;

        /** Reads what is there without waiting. @return whether the request is complete or the client hung up */
        boolean read(UnixSocket conn) {
            Native.Received r;
            while (got.length < REQUEST_BYTES && (r = conn.receive(64, 0)) != null) {
                for (int fd : r.fds()) Native.close(fd);        // nobody sends us descriptors
                if (r.data().length == 0) {                      // closed after half a request
                    hungUp = true;
                    return true;
                }
                got = concat(got, r.data());
            }
            return got.length >= REQUEST_BYTES;
        }
    }

    /** Waits up to {@value #REQUEST_MILLIS} ms for the rest of a request, then answers it. */
    private void answerSlow(UnixSocket conn, Request request) {
        try (conn) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(REQUEST_MILLIS);
            while (!request.read(conn)) {
                if (Poller.shared().await(conn, true, deadline, false) == Poller.Outcome.TIMED_OUT) return;
            }
            answer(conn, request);
        } catch (RuntimeException e) {
            // one client's trouble never disturbs the server or other clients
        } finally {
            slowClients.decrementAndGet();
        }
    }

    /** Answers a complete request (or nothing, if the client hung up before it was whole). */
    private void answer(UnixSocket conn, Request request) {
        if (request.hungUp) return;
        byte[] got = request.got;
        Native.PeerCredentials peer = conn.peerCredentials();
        if (!permits(ownUid, sharedGid, peer)) {   // decided on the credentials of the connect
            reply(conn, REFUSED);
            return;
        }
        if (got.length > REQUEST_BYTES) {
            reply(conn, BAD_REQUEST);
            return;
        }
        ByteBuffer b = ByteBuffer.wrap(got).order(ByteOrder.nativeOrder());
        if (b.getInt() != MAGIC) {
            reply(conn, BAD_REQUEST);
            return;
        }
        int version = b.getShort() & 0xffff;
        int k = b.get();
        int type = b.get();
        if (version != VERSION) reply(conn, BAD_VERSION);
        else if (k != kind.code) reply(conn, BAD_KIND);
        else if (type == JOIN) reply(conn, OK, descriptors);
        else if (type == WATCH) reply(conn, OK, new NativeFd[] {PidFd.self()});
        else reply(conn, BAD_REQUEST);
    }

    /** The access decision for a directory of one user's: only processes of the owner's user are answered. */
    static boolean permits(int ownerUid, Native.PeerCredentials peer) {
        return permits(ownerUid, -1, peer);
    }

    /**
     * The access decision: processes of the owner's user, and, in a directory shared with a group
     * ({@code sharedGid >= 0}), processes whose effective or supplementary groups include it. The
     * groups are the kernel's record of the connect ({@code SO_PEERCRED}, {@code SO_PEERGROUPS}),
     * never looked up by pid: a pid names another process in another PID namespace, or none.
     */
    static boolean permits(int ownerUid, int sharedGid, Native.PeerCredentials peer) {
        if (peer.uid() == ownerUid) return true;
        if (sharedGid < 0) return false;
        if (peer.gid() == sharedGid) return true;
        for (int g : peer.groups()) if (g == sharedGid) return true;
        return false;
    }

    private void reply(UnixSocket conn, int status) {
        reply(conn, status, new NativeFd[0]);
    }

    private void reply(UnixSocket conn, int status, NativeFd[] descriptors) {
        byte[] resp = ByteBuffer.allocate(RESPONSE_BYTES).order(ByteOrder.nativeOrder())
                .putInt(MAGIC).putShort((short) VERSION).put((byte) status).put((byte) kind.code)
                .putInt(initial).putInt((int) ProcessHandle.current().pid()).array();
        if (descriptors.length == 0) {
            conn.send(resp);
            return;
        }
        int[] fds = new int[descriptors.length];
        int begun = 0;
        try {
            for (; begun < descriptors.length; begun++) fds[begun] = descriptors[begun].begin();
            conn.send(resp, fds);
        } finally {
            for (int i = 0; i < begun; i++) descriptors[i].end();
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
