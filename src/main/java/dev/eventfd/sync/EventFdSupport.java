package dev.eventfd.sync;

import dev.eventfd.sync.internal.Availability;

/**
 * Whether eventfd-sync can work in this JVM, in the manner of Netty's {@code Epoll.isAvailable()}.
 *
 * <p>It needs Linux, an x86_64 or aarch64 CPU, and native access granted to this library: on the class
 * path {@code --enable-native-access=ALL-UNNAMED} (or {@code Enable-Native-Access: ALL-UNNAMED} in an
 * executable jar's manifest), on the module path {@code --enable-native-access=dev.eventfd.sync}.
 */
public final class EventFdSupport {
    private EventFdSupport() {}

    /**
     * Whether the synchronizers of this library can be created here.
     *
     * @return {@code true} if they can, {@code false} if {@link #unavailabilityCause()} says what is missing
     */
    public static boolean isAvailable() {
        return Availability.isAvailable();
    }

    /**
     * What is missing, with the flag to pass where that is the cause; {@code null} when available.
     *
     * @return why the synchronizers cannot be created here, or {@code null} if {@link #isAvailable()}
     */
    public static String unavailabilityCause() {
        return Availability.unavailabilityCause();
    }

    /**
     * Does nothing when the synchronizers can be created here, and throws otherwise.
     *
     * @throws UnsupportedOperationException whose message says what is missing
     */
    public static void ensureAvailability() {
        Availability.ensureAvailable();
    }
}
