package dev.eventfd.sync.testutil;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/** What {@code /proc/self} says about this process's descriptors. */
public final class ProcFs {
    private ProcFs() {}

    /** The text of {@code /proc/self/fdinfo/<fd>}, or empty if no such descriptor is open. */
    public static Optional<String> fdinfo(int fd) {
        try {
            return Optional.of(Files.readString(Path.of("/proc/self/fdinfo/" + fd)));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The target of {@code /proc/self/fd/<fd>} (e.g. {@code anon_inode:[eventfd]}), or empty if closed. */
    public static Optional<String> link(int fd) {
        try {
            return Optional.of(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** A field of an fdinfo text, e.g. {@code eventfd-id}, as it is printed (stripped). */
    public static Optional<String> field(String fdinfo, String name) {
        for (String line : fdinfo.split("\n")) {
            if (line.startsWith(name + ":")) return Optional.of(line.substring(name.length() + 1).strip());
        }
        return Optional.empty();
    }

    /** The {@code eventfd-id} of descriptor {@code fd}, or empty if it is closed or not an eventfd. */
    public static OptionalLong eventfdId(int fd) {
        return fdinfo(fd).flatMap(t -> field(t, "eventfd-id"))
                .map(s -> OptionalLong.of(Long.parseLong(s)))
                .orElse(OptionalLong.empty());
    }

    /**
     * Whether {@code fd} still refers to the eventfd it referred to when its fdinfo read {@code before}:
     * open, an eventfd, and the same {@code eventfd-id} (or, on kernels without one, the same inode line
     * and still an eventfd).
     */
    public static boolean isSameEventFd(int fd, String before) {
        Optional<String> now = fdinfo(fd);
        if (now.isEmpty()) return false;
        if (field(now.get(), "eventfd-count").isEmpty()) return false;
        Optional<String> idBefore = field(before, "eventfd-id");
        if (idBefore.isPresent()) return idBefore.equals(field(now.get(), "eventfd-id"));
        // anonymous inodes share one inode number; without eventfd-id this is the best we can say
        return field(before, "ino").equals(field(now.get(), "ino"));
    }

    /** How many of this process's descriptors are links to {@code target} (e.g. an fdinfo file). */
    public static long descriptorsLinkingTo(String target) throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().equals(target);
                } catch (IOException e) {
                    return false;  // closed meanwhile (e.g. the directory stream's own descriptor)
                }
            }).count();
        }
    }

    /**
     * Whether this process watches process {@code pid}'s exit: it has a pidfd of it (fdinfo {@code Pid})
     * that is in one of its epoll sets (an {@code eventpoll} descriptor's fdinfo lists it as a
     * {@code tfd}). So a death is then noticed as an event, not by a later scan or a periodic check.
     */
    public static boolean watchesExitOf(long pid) throws IOException {
        java.util.Set<String> pidfds = new java.util.HashSet<>();
        java.util.List<Integer> epolls = new java.util.ArrayList<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) fds::iterator) {
                int fd = Integer.parseInt(p.getFileName().toString());
                String target = link(fd).orElse("");
                if (target.equals("anon_inode:[pidfd]")
                        && fdinfo(fd).flatMap(t -> field(t, "Pid")).equals(Optional.of(Long.toString(pid)))) {
                    pidfds.add(Integer.toString(fd));
                } else if (target.equals("anon_inode:[eventpoll]")) {
                    epolls.add(fd);
                }
            }
        }
        for (int ep : epolls) {
            for (String line : fdinfo(ep).orElse("").split("\n")) {
                String[] words = line.strip().split("\\s+");     // "tfd:       12 events:       19 data: ..."
                if (words.length > 1 && words[0].equals("tfd:") && pidfds.contains(words[1])) return true;
            }
        }
        return false;
    }
}
