package dev.eventfd.sync;

import dev.eventfd.sync.testutil.NamedParticipantChild;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.nio.file.Path;

/**
 * A fresh 0700 socket directory per test class, set as {@code eventfd.sync.dir} while the class runs
 * and removed after it: the base of the tests that open named objects. It lives in this package, whose
 * tests JUnit may reach by reflection (testutil is not opened to it).
 */
public abstract class SocketDirectoryTest {

    /** This class's socket directory. */
    protected static Path dir;

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
}
