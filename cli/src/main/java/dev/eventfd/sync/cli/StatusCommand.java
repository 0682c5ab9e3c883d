package dev.eventfd.sync.cli;

import dev.eventfd.sync.EventFdSemaphore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code eventfd-sync status (NAME | --name NAME) [--json]}: total and available permits, each process that
 * holds permits or waits (pid, command line, permits, since when, waiting threads), the serving
 * process and the participants. A scan, not a snapshot: the figures are read one after the other.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Shows a named semaphore: total and available permits, each process that holds permits or waits "
                + "(pid, command line, permits, since when, waiting threads), the serving process, the participants.")
final class StatusCommand implements Callable<Integer> {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--name", paramLabel = "NAME", description = "the semaphore's name (or give it as the word after status); "
            + Main.NAME_RULE)
    String name;

    @picocli.CommandLine.Parameters(paramLabel = "NAME", arity = "0..1", description = "the semaphore's name, as with --name")
    String positionalName;

    @Option(names = "--json", description = "one JSON object on stdout, for scripts")
    boolean json;

    /** What status shows; the holders are null where the store does not record them. */
    private record Shown(String store, int available, Integer total, List<Held> holders, long serving, List<Long> participants) {}

    private record Held(EventFdSemaphore.Holder holder, String command) {}

    @Override
    public Integer call() {
        if ((name == null) == (positionalName == null)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), name == null
                    ? "missing the name: give NAME or --name NAME"
                    : "the name is given twice: --name " + Main.oneLine(name) + " and " + Main.oneLine(positionalName));
        }
        if (name == null) name = positionalName;
        List<Long> before = Main.withName(spec, name, EventFdSemaphore::participants);
        if (before.isEmpty()) {
            boolean orphaned = EventFdSemaphore.heldByOrphans(name);
            if (json) System.out.println(notOpenJson(orphaned));
            else if (orphaned) System.out.println(name + ": no participant is left, but processes that outlived them (the job of a "
                    + "run killed with SIGKILL, say) still hold its permits; it cannot be opened until they have exited");
            else System.out.println(name + ": no process has it open (the next 'open' creates it afresh)");
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
            if (json) System.out.println(notOpenJson(false));
            else System.out.println(name + ": its participants have just gone");
            return 1;
        }
        Shown shown;
        try (EventFdSemaphore s = opened) {
            int available = s.availablePermits();
            List<Held> holders = null;
            Integer total = null;
            if (store == EventFdSemaphore.Store.SHARED_MEMORY) {
                holders = new ArrayList<>();
                long held = 0;
                for (EventFdSemaphore.Holder h : s.holders()) {
                    holders.add(new Held(h, commandLine(h.pid())));
                    held += h.permits();
                }
                total = (int) Math.min(Integer.MAX_VALUE, Math.max(0, available) + held);
            }
            shown = new Shown(store == EventFdSemaphore.Store.SHARED_MEMORY ? "shared-memory" : "kernel-counter",
                    available, total, holders, before.getFirst(), before);
        }
        System.out.println(json ? json(shown) : text(shown));
        return 0;
    }

    private String notOpenJson(boolean orphaned) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("name", name);
        o.put("open", false);
        o.put("heldByOrphans", orphaned);
        return Json.of(o);
    }

    private String text(Shown s) {
        StringBuilder b = new StringBuilder();
        b.append("name:         ").append(name).append('\n');
        b.append("total:        ").append(s.total() == null ? "not known (the kernel-counter store does not record holders)" : s.total()).append('\n');
        b.append("available:    ").append(s.available()).append('\n');
        if (s.holders() == null) {
            b.append("holders:      not known (the kernel-counter store does not record them)\n");
        } else {
            b.append("holders:      ").append(s.holders().size()).append('\n');
            Instant now = Instant.now();
            for (Held h : s.holders()) b.append("  ").append(describe(h.holder(), h.command(), now)).append('\n');
        }
        b.append("serving:      pid ").append(s.serving()).append('\n');
        b.append("participants: ").append(s.participants().size()).append(' ').append(s.participants());
        return b.toString();
    }

    private String json(Shown s) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("name", name);
        o.put("open", true);
        o.put("store", s.store());
        o.put("total", s.total());
        o.put("available", s.available());
        List<Object> holders = null;
        if (s.holders() != null) {
            holders = new ArrayList<>();
            for (Held h : s.holders()) {
                Map<String, Object> one = new LinkedHashMap<>();
                one.put("pid", h.holder().pid() < 0 ? null : h.holder().pid());
                one.put("command", h.command());
                one.put("permits", h.holder().permits());
                one.put("since", h.holder().since() == null ? null : h.holder().since().toString());
                one.put("waiting", h.holder().waiting());
                holders.add(one);
            }
        }
        o.put("holders", holders);
        o.put("serving", s.serving());
        o.put("participants", s.participants());
        return Json.of(o);
    }

    /** The command line of process {@code pid} (as seen from here), or null if it cannot be read. */
    static String commandLine(long pid) {
        if (pid <= 0) return null;
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline"));
            String line = new String(raw, java.nio.charset.StandardCharsets.UTF_8).replace('\0', ' ').strip();
            return line.isEmpty() ? null : line;
        } catch (IOException | RuntimeException gone) {
            return null;
        }
    }

    /** "pid 1234 (sleep 30): 2 permits since 2026-12-01T22:50:01Z (65 s), 1 waiting". */
    static String describe(EventFdSemaphore.Holder h, String command, Instant now) {
        StringBuilder b = new StringBuilder(h.pid() < 0 ? "pid ? (another PID namespace)" : "pid " + h.pid());
        if (command != null) b.append(" (").append(Main.oneLine(command)).append(')');
        b.append(": ").append(h.permits()).append(h.permits() == 1 ? " permit" : " permits");
        if (h.since() != null) {
            b.append(" since ").append(h.since().truncatedTo(ChronoUnit.SECONDS))
                    .append(" (").append(Math.max(0, Duration.between(h.since(), now).toSeconds())).append(" s)");
        }
        return b.append(", ").append(h.waiting()).append(" waiting").toString();
    }
}
