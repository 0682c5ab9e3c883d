package dev.eventfd.sync;

/**
 * Thrown by {@code open} when a name has no participant left but is still leased: processes that a
 * participant handed its lifetime descriptors to ({@link EventFdSemaphore#lifetimeDescriptors()}),
 * such as the jobs of {@code eventfd-sync run}, outlived every participant and still hold permits of
 * the object that nobody serves any more. Creating the name afresh beside them would let more holders
 * run at once than there are permits, so the name cannot be opened until they have exited (or closed
 * their copies). The condition is transient: retry.
 */
public final class OrphanedPermitsException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception whose message says that {@code name} cannot be opened until the processes that
     * still hold its permits have exited.
     *
     * @param name the name that cannot be created afresh yet
     */
    public OrphanedPermitsException(String name) {
        super("'" + name + "' has no participant left, but processes that outlived them still hold its permits "
                + "(they inherited its lifetime descriptors); it can be opened once they have exited");
    }
}
