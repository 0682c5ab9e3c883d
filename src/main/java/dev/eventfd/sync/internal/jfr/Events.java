package dev.eventfd.sync.internal.jfr;

import jdk.jfr.FlightRecorder;

/**
 * Where the library records its events. Until the flight recorder is initialized (a recording was
 * started, with the JVM or later), no event can be recorded, so none is made, and the event classes
 * are not loaded at all: loading a {@code jdk.jfr.Event} subclass costs tens of milliseconds (JFR
 * reads its annotations), which was a quarter of the start of {@code eventfd-sync run}. A wait that
 * began before the recorder was initialized is not recorded.
 */
public final class Events {
    private Events() {}

    private static boolean recorderInitialized() {
        return FlightRecorder.isInitialized();
    }

    /** Runs {@code wait}, as a {@link WaitEvent} if the recorder is initialized. @return what it returned */
    public static boolean waited(String objectKind, String name, long permits, WaitEvent.Wait wait) throws InterruptedException {
        return recorderInitialized() ? WaitEvent.record(objectKind, name, permits, wait) : wait.await();
    }

    /** Records a {@link PermitsRecoveredEvent} if the recorder is initialized and the event enabled. */
    public static void recovered(String name, int slot, long pid, long pidNamespace, long permits) {
        if (recorderInitialized()) PermitsRecoveredEvent.record(name, slot, pid, pidNamespace, permits);
    }

    /** A begun {@link NamedOpenEvent}, or null if the recorder is not initialized. */
    public static NamedOpenEvent namedOpen() {
        if (!recorderInitialized()) return null;
        NamedOpenEvent event = new NamedOpenEvent();
        event.begin();
        return event;
    }
}
