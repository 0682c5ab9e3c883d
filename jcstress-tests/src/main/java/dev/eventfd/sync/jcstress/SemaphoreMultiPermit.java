package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.ZI_Result;
import org.openjdk.jcstress.infra.results.ZZI_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/** The n-permit methods are atomic: all n permits or none, never a part kept. */
public class SemaphoreMultiPermit {

    /**
     * tryAcquire(2) racing tryAcquire(1) on 2 permits. Results: tryAcquire(2), tryAcquire(1), then
     * availablePermits() seen by the arbiter.
     */
    @JCStressTest
    @Outcome(id = "true, false, 0", expect = ACCEPTABLE, desc = "tryAcquire(2) first: took both; tryAcquire(1) found none")
    @Outcome(id = "false, true, 1", expect = ACCEPTABLE, desc = "tryAcquire(1) first: tryAcquire(2) took nothing, one left")
    @Outcome(id = "false, true, 0", expect = FORBIDDEN, desc = "tryAcquire(2) failed but kept a permit")
    @Outcome(id = "true, true, 0", expect = FORBIDDEN, desc = "three permits taken out of two")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TwoVersusOne {
        final EventFdSemaphore s = new EventFdSemaphore(2);

        @Actor
        public void two(ZZI_Result r) {
            r.r1 = s.tryAcquire(2);
        }

        @Actor
        public void one(ZZI_Result r) {
            r.r2 = s.tryAcquire(1);
        }

        @Arbiter
        public void arbiter(ZZI_Result r) {
            r.r3 = s.availablePermits();
            s.close();
        }
    }

    /**
     * tryAcquire(2) on 1 permit racing release(1). Results: tryAcquire(2), then availablePermits()
     * seen by the arbiter.
     */
    @JCStressTest
    @Outcome(id = "true, 0", expect = ACCEPTABLE, desc = "release() first: tryAcquire(2) took both")
    @Outcome(id = "false, 2", expect = ACCEPTABLE, desc = "tryAcquire(2) first: took nothing; both permits left")
    @Outcome(id = "false, 1", expect = FORBIDDEN, desc = "tryAcquire(2) failed but kept a permit")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class TwoVersusRelease {
        final EventFdSemaphore s = new EventFdSemaphore(1);

        @Actor
        public void two(ZI_Result r) {
            r.r1 = s.tryAcquire(2);
        }

        @Actor
        public void releaser() {
            s.release();
        }

        @Arbiter
        public void arbiter(ZI_Result r) {
            r.r2 = s.availablePermits();
            s.close();
        }
    }
}
