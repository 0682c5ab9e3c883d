/**
 * Cross-process, virtual-thread-aware synchronizers whose state lives in Linux eventfd descriptors.
 *
 * <p>{@link dev.eventfd.sync.EventFdSemaphore} and {@link dev.eventfd.sync.EventFdLatch} are drop-in
 * subclasses of {@link java.util.concurrent.Semaphore} and {@link java.util.concurrent.CountDownLatch}.
 * The native bindings and the poller live in {@code dev.eventfd.sync.internal}, which is not exported.
 * Callers must grant native access: {@code --enable-native-access=dev.eventfd.sync} on the module path,
 * {@code --enable-native-access=ALL-UNNAMED} on the class path.
 */
module dev.eventfd.sync {
    requires jdk.jfr;
    exports dev.eventfd.sync;
}
