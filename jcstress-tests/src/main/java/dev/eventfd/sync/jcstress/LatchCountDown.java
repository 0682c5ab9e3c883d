package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdLatch;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.JJ_Result;
import org.openjdk.jcstress.infra.results.ZJ_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/** The count of an EventFdLatch under racing count-downs. */
public class LatchCountDown {

    /**
     * Two countDown() racing on count 2: whichever comes second opens the latch. Results: the
     * arbiter's timed await (100 ms; the gate is open before the second countDown() returns, so a
     * correct latch answers at once), then getCount().
     */
    @JCStressTest
    @Outcome(id = "true, 0", expect = ACCEPTABLE, desc = "count reached 0 and the latch opened")
    @Outcome(id = "false, 0", expect = FORBIDDEN, desc = "count reached 0 but await() does not return: the gate never opened")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a count-down was lost or counted twice")
    @State
    public static class TwoCountDowns {
        final EventFdLatch latch = new EventFdLatch(2);

        @Actor
        public void actor1() {
            latch.countDown();
        }

        @Actor
        public void actor2() {
            latch.countDown();
        }

        @Arbiter
        public void arbiter(ZJ_Result r) {
            r.r1 = Stale.boundedAwait(latch, 100);
            r.r2 = latch.getCount();
            latch.close();
        }
    }

    /**
     * The latch opens only at zero: on count 2, one actor counts down once while the other looks at
     * the gate (await(0): never waits) and then the count. Results: await(0), getCount().
     */
    @JCStressTest
    @Outcome(id = {"false, 2", "false, 1"}, expect = ACCEPTABLE, desc = "still closed, before or after the count-down")
    @Outcome(id = {"true, 2", "true, 1", "true, 0"}, expect = FORBIDDEN, desc = "open although the count never reached 0")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class OpensOnlyAtZero {
        final EventFdLatch latch = new EventFdLatch(2);

        @Actor
        public void countDown() {
            latch.countDown();
        }

        @Actor
        public void observer(ZJ_Result r) {
            r.r1 = Stale.boundedAwait(latch, 0);
            r.r2 = latch.getCount();
        }

        @Arbiter
        public void close() {
            latch.close();
        }
    }

    /**
     * getCount() observed by one actor while the other counts down twice (the second at zero, which
     * must do nothing). Results: two successive getCount() calls. Never negative, never back up.
     */
    @JCStressTest
    @Outcome(id = {"1, 1", "1, 0", "0, 0"}, expect = ACCEPTABLE, desc = "1 before the count-down, 0 after")
    @Outcome(id = "0, 1", expect = FORBIDDEN, desc = "the count went back up")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a negative or impossible count")
    @State
    public static class GetCountNeverNegative {
        final EventFdLatch latch = new EventFdLatch(1);

        @Actor
        public void countDowns() {
            latch.countDown();
            latch.countDown();
        }

        @Actor
        public void observer(JJ_Result r) {
            r.r1 = latch.getCount();
            r.r2 = latch.getCount();
        }

        @Arbiter
        public void close() {
            latch.close();
        }
    }
}
