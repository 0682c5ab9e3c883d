package dev.eventfd.sync.internal;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.util.Locale;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Probes, once, whether this library can work in this JVM, and keeps the reason when it cannot: not
 * Linux, a CPU whose {@code struct epoll_event} layout is unknown, or native access not granted (with
 * the exact flag to pass). The probe itself makes no restricted call.
 */
public final class Availability {

    /** Layout of {@code struct epoll_event} for this CPU, or {@code null} when the CPU is not supported. */
    static final StructLayout EPOLL_EVENT_LAYOUT;
    private static final String CAUSE;

    static {
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        StructLayout layout = switch (arch) {
            // __EPOLL_PACKED on x86_64: 12 bytes, data at offset 4
            case "amd64", "x86_64" -> MemoryLayout.structLayout(
                    JAVA_INT.withName("events"), JAVA_LONG.withByteAlignment(4).withName("data"));
            // natural alignment elsewhere: 16 bytes, data at offset 8
            case "aarch64" -> MemoryLayout.structLayout(
                    JAVA_INT.withName("events"), MemoryLayout.paddingLayout(4), JAVA_LONG.withName("data"));
            default -> null;
        };
        EPOLL_EVENT_LAYOUT = layout;
        Module module = Availability.class.getModule();
        String cause = null;
        if (!os.equals("Linux")) {
            cause = "eventfd-sync needs Linux (eventfd, epoll); this is " + os;
        } else if (layout == null) {
            cause = "eventfd-sync knows the epoll_event layout of x86_64 and aarch64 only; this CPU is " + arch;
        } else if (!module.isNativeAccessEnabled()) {
            String who = module.isNamed() ? module.getName() : "ALL-UNNAMED";
            cause = "native access is not enabled for " + (module.isNamed() ? "module " + who : "the class path")
                    + ": start the JVM with --enable-native-access=" + who
                    + (module.isNamed() ? "" : " (or put 'Enable-Native-Access: ALL-UNNAMED' in the jar manifest)");
        }
        CAUSE = cause;
    }

    private Availability() {}

    public static boolean isAvailable() {
        return CAUSE == null;
    }

    /** Why the library cannot work here, or {@code null} when it can. */
    public static String unavailabilityCause() {
        return CAUSE;
    }

    /** @throws UnsupportedOperationException saying exactly what is missing */
    public static void ensureAvailable() {
        if (CAUSE != null) throw new UnsupportedOperationException(CAUSE);
    }
}
