package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the tests of named objects share: a fresh 0700 socket directory per test class, set as
 * {@code eventfd.sync.dir} (children are given it too), and the child processes a test started,
 * killed after each test.
 */
abstract class NamedObjectsTest {

    /** This class's socket directory. */
    static Path dir;
    /** Child processes started by the current test; killed after it. */
    final List<Handle> children = new ArrayList<>();

    @BeforeAll
    static void socketDirectory() {
        dir = NamedParticipantChild.newSocketDirectory();
        System.setProperty("eventfd.sync.dir", dir.toString());
    }

    @AfterAll
    static void removeSocketDirectory() {
        System.clearProperty("eventfd.sync.dir");
        NamedParticipantChild.deleteTree(dir);
    }

    @AfterEach
    void killChildren() {
        for (Handle c : children) c.close();
    }
}
