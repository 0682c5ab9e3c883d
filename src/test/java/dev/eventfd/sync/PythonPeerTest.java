package dev.eventfd.sync;

import dev.eventfd.sync.testutil.CPeer;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The Python peer ({@code peers/python/efs_peer.py}, the C peer's code as a library through ctypes)
 * passes every test of the C peer: sharing, waking both ways, holders and death reports, and an exact
 * return of what it held when it is killed.
 */
class PythonPeerTest extends CPeerTest {

    @BeforeAll
    static void python() {
        assumeTrue(CPeer.pythonAvailable(), "no python3 with ctypes (or no C compiler for the library)");
    }

    @Override
    Handle start(String name) throws Exception {
        return CPeer.startPython("python-peer", dir, name);
    }
}
