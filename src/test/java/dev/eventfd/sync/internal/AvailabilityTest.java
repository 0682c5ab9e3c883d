package dev.eventfd.sync.internal;

import dev.eventfd.sync.EventFdSupport;
import dev.eventfd.sync.testutil.AvailabilityChild;
import dev.eventfd.sync.testutil.ForkedJvm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AvailabilityTest {

    private static final Duration CHILD_TIMEOUT = Duration.ofSeconds(60);

    @Test
    void availableInThisJvm() {
        assertTrue(Availability.isAvailable());
        assertNull(Availability.unavailabilityCause());
        assertDoesNotThrow(Availability::ensureAvailable);
        assertTrue(EventFdSupport.isAvailable());
        assertNull(EventFdSupport.unavailabilityCause());
        assertDoesNotThrow(EventFdSupport::ensureAvailability);
        assertTrue(getClass().getModule().isNamed(), "tests run inside the module");
    }

    private static ForkedJvm.Result child(List<String> jvmOptions, String... args) throws Exception {
        ForkedJvm.Result r = ForkedJvm.run(ForkedJvm.command(jvmOptions, AvailabilityChild.class, args), CHILD_TIMEOUT);
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("done"), r::toString);
        return r;
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void classPathWithoutNativeAccessIsUnavailableAndNamesTheFlag() throws Exception {
        ForkedJvm.Result r = child(List.of("--illegal-native-access=deny"));
        assertTrue(r.output().contains("available=false"), r::toString);
        assertTrue(r.output().contains("cause=native access is not enabled for the class path"), r::toString);
        assertTrue(r.output().contains("--enable-native-access=ALL-UNNAMED"), r::toString);
        assertTrue(r.output().contains("ensure=java.lang.UnsupportedOperationException: native access is not enabled"),
                r::toString);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void classPathWithoutNativeAccessInTheDefaultWarnModeIsUnavailableToo() throws Exception {
        ForkedJvm.Result r = child(List.of());
        assertTrue(r.output().contains("available=false"), r::toString);
        assertTrue(r.output().contains("--enable-native-access=ALL-UNNAMED"), r::toString);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void classPathWithNativeAccessIsAvailable() throws Exception {
        ForkedJvm.Result r = child(List.of("--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny"), "create");
        assertTrue(r.output().contains("available=true"), r::toString);
        assertTrue(r.output().contains("cause=null"), r::toString);
        assertTrue(r.output().contains("ensure=ok"), r::toString);
        assertTrue(r.output().contains("create1=ok"), r::toString);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void modulePathWithoutNativeAccessNamesTheModuleFlag() throws Exception {
        // the library as a named module, the child on the class path: the flag to ask for is the module's
        List<String> options = List.of("--illegal-native-access=deny",
                "--module-path", ForkedJvm.mainClasses().toString(), "--add-modules", "dev.eventfd.sync");
        ForkedJvm.Result r = ForkedJvm.run(ForkedJvm.command(options,
                ForkedJvm.testClasses() + File.pathSeparator + System.getProperty("java.class.path"),
                AvailabilityChild.class.getName()), CHILD_TIMEOUT);
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("available=false"), r::toString);
        assertTrue(r.output().contains("cause=native access is not enabled for module dev.eventfd.sync"), r::toString);
        assertTrue(r.output().contains("--enable-native-access=dev.eventfd.sync"), r::toString);
    }

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void modulePathWithNativeAccessForTheModuleIsAvailable() throws Exception {
        List<String> options = List.of("--illegal-native-access=deny", "--enable-native-access=dev.eventfd.sync",
                "--module-path", ForkedJvm.mainClasses().toString(), "--add-modules", "dev.eventfd.sync");
        ForkedJvm.Result r = ForkedJvm.run(ForkedJvm.command(options,
                ForkedJvm.testClasses().toString(), AvailabilityChild.class.getName()), CHILD_TIMEOUT);
        assertEquals(0, r.exitCode(), r::toString);
        assertTrue(r.output().contains("available=true"), r::toString);
    }

    /** Reaching the bindings anyway fails, the first time and every later time, naming the flag. */
    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void usingTheBindingsWithoutNativeAccessFailsNamingTheFlag() throws Exception {
        ForkedJvm.Result r = child(List.of("--illegal-native-access=deny"), "create");
        assertTrue(r.output().contains("available=false"), r::toString);
        for (String attempt : List.of("create1=", "create2=")) {
            String line = r.output().lines().filter(l -> l.startsWith(attempt)).findFirst().orElseThrow();
            assertTrue(line.contains("--enable-native-access=ALL-UNNAMED"), line);
            assertTrue(line.contains("UnsupportedOperationException"), line);
        }
    }
}
