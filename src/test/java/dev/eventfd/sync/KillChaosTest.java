package dev.eventfd.sync;

import dev.eventfd.sync.testutil.CPeer;
import dev.eventfd.sync.testutil.ChaosChild;
import dev.eventfd.sync.testutil.ForkedJvm;
import dev.eventfd.sync.testutil.NamedParticipantChild.Handle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Kill chaos on a named semaphore of 4 permits on the shared-memory store: 4 child JVMs loop
 * single- and multi-permit acquires and releases; every 150-300 ms one of them, chosen at random, is
 * killed with SIGKILL (wherever it is: starting, joining, acquiring, holding, releasing) and a
 * replacement started, for 20 s. Then every child stops cleanly, and exactly the 4 permits exist:
 * {@code tryAcquire(4)} succeeds at once, and a fifth permit does not. The same run again with the C
 * peer ({@code peers/c}) as one of the four.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class KillChaosTest extends NamedObjectsTest {

    private static final Duration PATIENCE = Duration.ofSeconds(90);
    private static final int PERMITS = 4, CHILDREN = 4;
    private static final long CHAOS_NANOS = TimeUnit.SECONDS.toNanos(20);
    /** Kills of children that run their loops, at the least: else the run would prove nothing. */
    private static final int MIN_RUNNING_KILLS = 3;

    private Handle start(String name, int n, boolean cPeer) throws Exception {
        Handle h;
        if (cPeer) {
            h = CPeer.start("chaos-c-" + n, dir, name, "chaos");
        } else {
            List<String> options = List.of("--enable-native-access=ALL-UNNAMED", "-Deventfd.sync.dir=" + dir,
                    "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx64m", "-Xss512k");
            h = Handle.startCommand("chaos-" + n,
                    ForkedJvm.command(options, ChaosChild.class, name, Integer.toString(PERMITS), "SHARED_MEMORY"));
        }
        children.add(h);
        return h;
    }

    @Test
    void killedChildrenNeverLoseOrCreateAPermit() throws Exception {
        chaos("chaos", false);
    }

    @Test
    void theSameWithTheCPeerAmongTheChildren() throws Exception {
        assumeTrue(CPeer.available(), "no C compiler (cc or gcc) to build peers/c/efs_peer.c");
        chaos("chaos-c", true);
    }

    /** The run; with {@code cPeer}, the first child and every replacement of it is the C peer. */
    private void chaos(String label, boolean cPeer) throws Exception {
        String name = label + "-" + ProcessHandle.current().pid();
        try (EventFdSemaphore s = EventFdSemaphore.open(name, PERMITS)) {
            List<Handle> live = new ArrayList<>();
            Set<Handle> cPeers = new HashSet<>();
            int started = 0, kills = 0, runningKills = 0;
            for (; started < CHILDREN; started++) {
                Handle h = start(name, started, cPeer && started == 0);
                live.add(h);
                if (cPeer && started == 0) cPeers.add(h);
            }
            ThreadLocalRandom r = ThreadLocalRandom.current();
            long start = System.nanoTime(), end = start + CHAOS_NANOS;
            // 20 s, and longer (up to 60 s) until at least MIN_RUNNING_KILLS kills have hit running children
            for (int tick = 0; System.nanoTime() < end
                    || (runningKills < MIN_RUNNING_KILLS && System.nanoTime() - start < 3 * CHAOS_NANOS); tick++) {
                // the chaos's own clock, not a synchronization: kills land wherever the children are
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(150 + r.nextInt(151)));
                // Mostly children that run their loops: a JVM here takes longer to start than a few
                // periods, so random victims would all be starting. Every fourth kill takes any child.
                List<Handle> running = live.stream().filter(h -> h.hasSeen("READY")).toList();
                boolean any = tick % 4 == 3;
                if (running.isEmpty() && !any) continue;
                Handle victim = any ? live.get(r.nextInt(live.size())) : running.get(r.nextInt(running.size()));
                live.remove(victim);
                victim.kill();
                kills++;
                if (running.contains(victim)) runningKills++;
                Handle replacement = start(name, started++, cPeers.contains(victim));
                live.add(replacement);
                if (cPeers.contains(victim)) cPeers.add(replacement);
            }
            long grants = 0;
            for (Handle h : live) {
                assertEquals("READY", h.expect(PATIENCE, "READY"), h::transcript);
            }
            for (Handle h : live) h.send("stop");
            for (Handle h : live) {
                String done = h.expect(PATIENCE, "DONE");
                assertTrue(done.startsWith("DONE grants="), h::transcript);
                grants += Long.parseLong(done.substring("DONE grants=".length()));
                assertEquals(0, h.waitFor(PATIENCE), h::transcript);
            }
            assertTrue(runningKills >= MIN_RUNNING_KILLS, "only " + runningKills + " kills hit running children in 60 s");
            assertEquals(PERMITS, s.availablePermits(), "after " + kills + " kills, " + runningKills + " of running children");
            assertTrue(s.tryAcquire(PERMITS), "all " + PERMITS + " permits at once");
            assertFalse(s.tryAcquire(), "a permit was created");
            s.release(PERMITS);
            System.out.printf("%s: %d kills (%d of running children, %d C peers started), %d children, %d grants by the last %d%n",
                    label, kills, runningKills, cPeers.size(), started, grants, CHILDREN);
            assertTrue(grants > 0, "the last children got permits");
        }
    }
}
