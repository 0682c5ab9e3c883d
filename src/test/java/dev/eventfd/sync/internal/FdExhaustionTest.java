package dev.eventfd.sync.internal;

import dev.eventfd.sync.testutil.FdExhaustionChild;
import dev.eventfd.sync.testutil.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Running out of descriptors (RLIMIT_NOFILE) is reported as EMFILE, and the process recovers. */
class FdExhaustionTest {

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void creationFailsWithEmfileAndRecoversAfterClose() throws Exception {
        List<String> java = ForkedJvm.command(
                List.of("--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny"),
                FdExhaustionChild.class);
        // 'ulimit -n' sets the soft and the hard limit, so the JVM cannot raise it again (MaxFDLimit)
        List<String> command = new ArrayList<>(List.of("bash", "-c", "ulimit -n 256 && exec \"$@\"", "bash"));
        command.addAll(java);
        ForkedJvm.Result r = ForkedJvm.run(command, Duration.ofSeconds(90));
        System.out.print(r.output());
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("Max open files            256                  256"), r::toString);
        assertTrue(r.output().contains("FD-EXHAUSTION OK created="), r::toString);
        assertTrue(r.output().contains("message=eventfd: EMFILE (Too many open files)"), r::toString);
    }
}
