package dev.eventfd.sync;

/**
 * A Linux call made by this library failed. The message names the call and the error symbolically,
 * for example {@code eventfd: EMFILE (Too many open files)}.
 */
public final class NativeCallException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The call that failed, e.g. {@code "eventfd"}. */
    private final String call;
    /** The errno the call reported. */
    private final int errno;
    /** The symbolic name of {@link #errno()}, e.g. {@code "EMFILE"}. */
    private final String errnoName;

    /**
     * Creates an exception whose message names the call, then the error symbolically and its description.
     *
     * @param call        the call that failed, e.g. {@code "eventfd"}
     * @param errno       the errno it reported
     * @param errnoName   its symbolic name, e.g. {@code "EMFILE"}
     * @param description its description, e.g. {@code "Too many open files"}
     */
    public NativeCallException(String call, int errno, String errnoName, String description) {
        super(call + ": " + errnoName + " (" + description + ")");
        this.call = call;
        this.errno = errno;
        this.errnoName = errnoName;
    }

    /**
     * The call that failed, e.g. {@code "eventfd"}.
     *
     * @return the name of the call that failed
     */
    public String call() { return call; }

    /**
     * The errno the call reported.
     *
     * @return the errno value the call reported
     */
    public int errno() { return errno; }

    /**
     * The symbolic name of {@link #errno()}, e.g. {@code "EMFILE"}.
     *
     * @return the symbolic name of the errno
     */
    public String errnoName() { return errnoName; }
}
