package dev.eventfd.sync.testutil;

import dev.eventfd.sync.NativeCallException;
import dev.eventfd.sync.internal.EventFd;
import dev.eventfd.sync.internal.Native;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Child JVM for FdExhaustionTest, run under a low RLIMIT_NOFILE: creates eventfds until creation fails,
 * and checks the failure and what still works. Prints {@code FD-EXHAUSTION OK ...} and exits 0, or
 * {@code FD-EXHAUSTION FAIL ...} and exits 1.
 *
 * <p>Once the table is full no class can be loaded from a directory on the class path (that needs a
 * descriptor), so everything used afterwards is loaded first.
 */
public final class FdExhaustionChild {

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable t) {
            System.out.println("FD-EXHAUSTION FAIL " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
        System.exit(0);
    }

    private static void run() throws Exception {
        String limits = Files.readString(Path.of("/proc/self/limits"));
        String nofile = limits.lines().filter(l -> l.startsWith("Max open files")).findFirst().orElse("?");
        System.out.println("limit: " + nofile);
        // load what the failure path needs: NativeCallException, Errno, strerror
        try {
            Native.readCounter(Integer.MAX_VALUE);
            throw new AssertionError("read of a bogus descriptor succeeded");
        } catch (NativeCallException expected) {
            check("preload", expected.getMessage().startsWith("read: EBADF"));
        }
        EventFd warm = EventFd.create(0, false, "warm-up");
        warm.tryWrite(1);
        warm.tryRead();
        warm.isReadable();
        warm.count();
        warm.close();
        try {
            warm.tryRead();
        } catch (dev.eventfd.sync.ClosedException expected) {
            // loaded
        }

        // semaphores made before the table fills keep working once it is full (none may need a new
        // descriptor: availablePermits() reads the counter through a descriptor opened at creation)
        List<dev.eventfd.sync.EventFdSemaphore> semaphores = new ArrayList<>();
        for (int i = 0; i < 4; i++) semaphores.add(new dev.eventfd.sync.EventFdSemaphore(i, i % 2 == 0));
        semaphores.get(0).release(3);            // loads every class the checks below use
        semaphores.get(0).tryAcquire(2);
        semaphores.get(0).toString();
        semaphores.get(0).drainPermits();

        List<EventFd> fds = new ArrayList<>(1 << 16);
        NativeCallException failure = null;
        while (failure == null) {
            try {
                fds.add(EventFd.create(0, fds.size() % 2 == 0, "fd" + fds.size()));
            } catch (NativeCallException e) {
                failure = e;
            }
            check("a failure before 100,000 descriptors", fds.size() < 100_000);
        }
        int created = fds.size();
        check("message is exactly 'eventfd: EMFILE (Too many open files)' but was '" + failure.getMessage() + "'",
                failure.getMessage().equals("eventfd: EMFILE (Too many open files)"));
        check("call", failure.call().equals("eventfd"));
        check("errno 24", failure.errno() == 24);
        check("errnoName", failure.errnoName().equals("EMFILE"));
        check("created some (" + created + ")", created > 50);

        // a second attempt fails the same way
        try {
            fds.add(EventFd.create(0, false, "again"));
            throw new AssertionError("creation succeeded with a full descriptor table");
        } catch (NativeCallException e) {
            check("same message again", e.getMessage().equals("eventfd: EMFILE (Too many open files)"));
        }

        // the handles made before the failure still work
        for (EventFd fd : fds) {
            check("write to " + fd, fd.tryWrite(2));
            check("readable " + fd, fd.isReadable());
            long expected = fds.indexOf(fd) % 2 == 0 ? 1 : 2;  // semaphore ones read 1
            check("read from " + fd, fd.tryRead() == expected);
        }
        for (int i = 0; i < semaphores.size(); i++) {
            dev.eventfd.sync.EventFdSemaphore s = semaphores.get(i);
            check("availablePermits() of semaphore " + i + " at RLIMIT_NOFILE", s.availablePermits() == i);
            s.release(2);
            check("acquire(2) of semaphore " + i, s.tryAcquire(2));
            check("toString of semaphore " + i, s.toString().endsWith("[Permits = " + i + "]"));
            check("drainPermits of semaphore " + i, s.drainPermits() == i);
        }
        // count() of a handle that never read its fdinfo reads it through the library's spare
        // descriptor, each time, and takes the spare back: the table is as full as before
        for (int i = 0; i < 3; i++) {
            long before = fds.get(0).count();
            fds.get(0).tryWrite(1);
            check("count() at RLIMIT_NOFILE, time " + i, fds.get(0).count() == before + 1);
            fds.get(0).tryRead();
        }
        try {
            fds.add(EventFd.create(0, false, "after count"));
            throw new AssertionError("count() left a descriptor free: the spare was not taken back");
        } catch (NativeCallException e) {
            check("still full after count()", e.getMessage().equals("eventfd: EMFILE (Too many open files)"));
        }

        // close some: creation works again, as many times as were closed
        int freed = 10;
        for (int i = 0; i < freed; i++) fds.remove(fds.size() - 1).close();
        for (int i = 0; i < freed; i++) {
            EventFd fd = EventFd.create(3, false, "again" + i);
            check("new handle works", fd.tryRead() == 3 && fd.tryWrite(5) && fd.count() == 5);
            fd.close();  // count() opened fdinfo too; close releases both
        }
        List<EventFd> refill = new ArrayList<>();
        for (int i = 0; i < freed; i++) refill.add(EventFd.create(0, false, "refill" + i));
        check("earlier handle still works", fds.get(0).tryWrite(1) && fds.get(0).tryRead() == 1);
        refill.forEach(EventFd::close);
        semaphores.forEach(dev.eventfd.sync.EventFdSemaphore::close);
        fds.forEach(EventFd::close);
        System.out.println("FD-EXHAUSTION OK created=" + created + " message=" + failure.getMessage());
        System.out.flush();
    }

    private static void check(String what, boolean ok) {
        if (!ok) throw new AssertionError(what);
    }
}
