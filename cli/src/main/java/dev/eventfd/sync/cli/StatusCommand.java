package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code eventfd-sync status --name NAME}: available permits, serving process, participants. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Shows a named semaphore: available permits, the serving process, the participants.")
final class StatusCommand implements Callable<Integer> {

    @Option(names = "--name", required = true, description = "the semaphore's name")
    String name;

    @Override
    public Integer call() {
        List<Long> before = EventFdSemaphore.participants(name);
        if (before.isEmpty()) {
            System.out.println(name + ": no process has it open (the next 'open' creates it afresh)");
            return 1;
        }
        try (EventFdSemaphore s = EventFdSemaphore.openExisting(name)) {
            if (s == null) {
                System.out.println(name + ": its participants have just gone");
                return 1;
            }
            System.out.println("name:         " + name);
            System.out.println("available:    " + s.availablePermits());
            System.out.println("serving:      pid " + before.getFirst());
            System.out.println("participants: " + before.size() + " " + before);
            return 0;
        }
    }
}
