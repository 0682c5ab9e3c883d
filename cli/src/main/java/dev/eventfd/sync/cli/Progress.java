package dev.eventfd.sync.cli;

/** A one-line progress bar on standard error. */
final class Progress {
    private static final int WIDTH = 30;
    private final String label;
    private final long total;
    private int lastShown = -1;

    Progress(String label, long total) {
        this.label = label;
        this.total = total;
    }

    void show(long done) {
        int filled = (int) (WIDTH * Math.min(done, total) / Math.max(1, total));
        if (filled == lastShown) return;
        lastShown = filled;
        System.err.printf("\r   %-26s [%s%s] %,d/%,d", label, "#".repeat(filled), " ".repeat(WIDTH - filled), done, total);
        System.err.flush();
    }

    void finish() {
        show(total);
        System.err.println();
    }
}
