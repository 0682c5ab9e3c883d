package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.AfterEach;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the tests of named objects share: a fresh 0700 socket directory per test class, set as
 * {@code eventfd.sync.dir} (children are given it too), and the child processes a test started,
 * killed after each test.
 */
abstract class NamedObjectsTest extends SocketDirectoryTest {

    static final AtomicLong NAMES = new AtomicLong();

    /** Child processes started by the current test; killed after it. */
    final List<Handle> children = new ArrayList<>();

    /** A name no other test of this JVM uses, nor another test JVM (its pid is in it). */
    static String name(String what) {
        return what + "-" + ProcessHandle.current().pid() + "-" + NAMES.incrementAndGet();
    }

    /** Starts a child JVM ({@link Handle#start}) that is killed after the test. */
    Handle child(String label) {
        Handle h = Handle.start(label, dir);
        children.add(h);
        return h;
    }

    /**
     * Takes {@code lock} (failing if it does not come within 60 s), asks whether the previous holder
     * died holding it, and unlocks. @return the answer
     */
    static boolean lockAndAskWhetherThePreviousHolderDied(EventFdLock lock) throws InterruptedException {
        org.junit.jupiter.api.Assertions.assertTrue(lock.tryLock(60, java.util.concurrent.TimeUnit.SECONDS), "the lock never came");
        try {
            return lock.previousHolderDied();
        } finally {
            lock.unlock();
        }
    }

    @AfterEach
    void killChildren() {
        for (Handle c : children) c.close();
    }
}
