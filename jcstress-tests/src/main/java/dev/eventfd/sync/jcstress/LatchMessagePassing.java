package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdLatch;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.I_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/**
 * Message passing across {@code countDown()} &rarr; {@code await}: a plain write made before the
 * count-down that opens the latch is visible after {@code await} returns true in the other thread.
 * Result: the value read after a successful await; -1 when await returned false.
 */
public class LatchMessagePassing {

    /** Timed await with a generous bound (stands for await(): it parks until the gate opens). */
    @JCStressTest
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "await returned, and sees the write made before countDown()")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "await returned but misses the write made before countDown()")
    @Outcome(id = "-1", expect = FORBIDDEN, desc = "await timed out although countDown() was called")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TimedAwait {
        final EventFdLatch latch = new EventFdLatch(1);
        int x;

        @Actor
        public void writer() {
            x = 1;
            latch.countDown();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = Stale.boundedAwait(latch, Stale.BOUND_MILLIS) ? x : -1;
        }

        @Arbiter
        public void close() {
            latch.close();
        }
    }

    /** await(0, ...) never waits: it only checks the gate. */
    @JCStressTest
    @Outcome(id = "-1", expect = ACCEPTABLE, desc = "checked before countDown(): still closed")
    @Outcome(id = "1", expect = ACCEPTABLE, desc = "open, and sees the write made before countDown()")
    @Outcome(id = "0", expect = FORBIDDEN, desc = "open but misses the write made before countDown()")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class ZeroTimeoutAwait {
        final EventFdLatch latch = new EventFdLatch(1);
        int x;

        @Actor
        public void writer() {
            x = 1;
            latch.countDown();
        }

        @Actor
        public void reader(I_Result r) {
            r.r1 = Stale.boundedAwait(latch, 0) ? x : -1;
        }

        @Arbiter
        public void close() {
            latch.close();
        }
    }
}
