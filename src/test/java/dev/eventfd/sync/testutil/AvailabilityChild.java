package dev.eventfd.sync.testutil;

import dev.eventfd.sync.EventFdSupport;

/**
 * Child JVM for AvailabilityTest: prints what {@link EventFdSupport} says, one {@code key=value} line
 * each. With the argument {@code create} it then tries to create an eventfd through the internal API
 * (class path only) and prints what happened, twice.
 */
public final class AvailabilityChild {

    public static void main(String[] args) {
        System.out.println("available=" + EventFdSupport.isAvailable());
        System.out.println("cause=" + EventFdSupport.unavailabilityCause());
        try {
            EventFdSupport.ensureAvailability();
            System.out.println("ensure=ok");
        } catch (Throwable t) {
            System.out.println("ensure=" + t);
        }
        if (args.length > 0 && args[0].equals("create")) {
            for (int i = 1; i <= 2; i++) {
                try {
                    dev.eventfd.sync.internal.EventFd.create(0, false, "child").close();
                    System.out.println("create" + i + "=ok");
                } catch (Throwable t) {
                    System.out.println("create" + i + "=" + t + (t.getCause() == null ? "" : " caused by " + t.getCause()));
                }
            }
        }
        System.out.println("done");
    }
}
