package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code eventfd-sync status --name NAME}: available permits, holders and waiters, serving process, participants. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Shows a named semaphore: available permits, each process that holds permits or waits, "
                + "the serving process, the participants.")
final class StatusCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--name", required = true, description = "the semaphore's name; " + Main.NAME_RULE)
    String name;

    @Override
    public Integer call() {
        List<Long> before = Main.withName(spec, name, EventFdSemaphore::participants);
        if (before.isEmpty()) {
            System.out.println(name + ": no process has it open (the next 'open' creates it afresh)");
            return 1;
        }
        EventFdSemaphore.Store store = EventFdSemaphore.Store.SHARED_MEMORY;
        EventFdSemaphore opened;
        try {
            opened = EventFdSemaphore.openExisting(name, store);
        } catch (IllegalStateException otherStore) {         // open on the kernel-counter store
            store = EventFdSemaphore.Store.KERNEL_COUNTER;
            opened = EventFdSemaphore.openExisting(name, store);
        }
        if (opened == null) {
            System.out.println(name + ": its participants have just gone");
            return 1;
        }
        try (EventFdSemaphore s = opened) {
            System.out.println("name:         " + name);
            System.out.println("available:    " + s.availablePermits());
            if (store == EventFdSemaphore.Store.SHARED_MEMORY) {
                List<EventFdSemaphore.Holder> holders = s.holders();
                System.out.println("holders:      " + holders.size());
                Instant now = Instant.now();
                for (EventFdSemaphore.Holder h : holders) System.out.println("  " + describe(h, now));
            } else {
                System.out.println("holders:      not known (the kernel-counter store does not record them)");
            }
            System.out.println("serving:      pid " + before.getFirst());
            System.out.println("participants: " + before.size() + " " + before);
            return 0;
        }
    }

    /** "pid 1234: 2 permits since 2026-12-01T22:50:01Z (65 s), 1 waiting". */
    static String describe(EventFdSemaphore.Holder h, Instant now) {
        StringBuilder b = new StringBuilder(h.pid() < 0 ? "pid ? (another PID namespace)" : "pid " + h.pid());
        b.append(": ").append(h.permits()).append(h.permits() == 1 ? " permit" : " permits");
        if (h.since() != null) {
            b.append(" since ").append(h.since().truncatedTo(ChronoUnit.SECONDS))
                    .append(" (").append(Math.max(0, Duration.between(h.since(), now).toSeconds())).append(" s)");
        }
        return b.append(", ").append(h.waiting()).append(" waiting").toString();
    }
}
