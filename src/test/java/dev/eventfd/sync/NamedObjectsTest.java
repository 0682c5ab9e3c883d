package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.AfterEach;

import java.util.ArrayList;
import java.util.List;

/**
 * What the tests of named objects share: a fresh 0700 socket directory per test class, set as
 * {@code eventfd.sync.dir} (children are given it too), and the child processes a test started,
 * killed after each test.
 */
abstract class NamedObjectsTest extends SocketDirectoryTest {

    /** Child processes started by the current test; killed after it. */
    final List<Handle> children = new ArrayList<>();

    @AfterEach
    void killChildren() {
        for (Handle c : children) c.close();
    }
}
