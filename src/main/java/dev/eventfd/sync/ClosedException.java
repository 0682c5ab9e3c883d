package dev.eventfd.sync;

/**
 * Thrown when an eventfd-backed synchronizer is used after {@code close()}, and by the operations that
 * were waiting on it when it was closed.
 */
public final class ClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception whose message says that {@code what} is closed.
     *
     * @param what the object that is closed, as its {@code toString()} describes it
     */
    public ClosedException(String what) {
        super(what + " is closed");
    }
}
