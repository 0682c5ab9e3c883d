package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdLatch;
import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code eventfd-sync list [--json]}: the names that live processes have open, by kind, with their participants. */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = "Lists the named semaphores (and locks) and latches that live processes have open, with their participants.")
final class ListCommand implements Callable<Integer> {

    @Option(names = "--json", description = "one JSON array on stdout, for scripts")
    boolean json;

    @Override
    public Integer call() {
        List<Map<String, Object>> all = new ArrayList<>();
        for (String name : EventFdSemaphore.namesInUse()) all.add(entry("semaphore", name, EventFdSemaphore.participants(name)));
        for (String name : EventFdLatch.namesInUse()) all.add(entry("latch", name, null));
        if (json) {
            System.out.println(Json.of(all));
        } else if (all.isEmpty()) {
            System.out.println("no named object is open");
        } else {
            for (Map<String, Object> e : all) {
                Object pids = e.get("participants");
                System.out.printf("%-10s %s%s%n", e.get("kind"), e.get("name"), pids == null ? "" : "  participants " + pids);
            }
        }
        return 0;
    }

    private static Map<String, Object> entry(String kind, String name, List<Long> participants) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("kind", kind);
        e.put("name", name);
        e.put("participants", participants);
        return e;
    }
}
