package dev.eventfd.sync.jcstress;

import dev.eventfd.sync.EventFdSemaphore;
import org.openjdk.jcstress.annotations.*;
import org.openjdk.jcstress.infra.results.ZI_Result;
import org.openjdk.jcstress.infra.results.ZZI_Result;

import static org.openjdk.jcstress.annotations.Expect.*;

/** Permits are neither created nor lost by racing operations. */
public class SemaphorePermitConservation {

    /**
     * Two tryAcquire() on one permit: exactly one wins. Results: each actor's tryAcquire(), then
     * availablePermits() seen by the arbiter.
     */
    @JCStressTest
    @Outcome(id = {"true, false, 0", "false, true, 0"}, expect = ACCEPTABLE, desc = "exactly one took the permit")
    @Outcome(id = "true, true, 0", expect = FORBIDDEN, desc = "both took the only permit")
    @Outcome(id = "false, false, 1", expect = FORBIDDEN, desc = "both failed although a permit was free")
    @Outcome(expect = FORBIDDEN, desc = "anything else: a permit was created or lost")
    @State
    public static class TwoTryAcquires {
        final EventFdSemaphore s = new EventFdSemaphore(1);

        @Actor
        public void actor1(ZZI_Result r) {
            r.r1 = s.tryAcquire();
        }

        @Actor
        public void actor2(ZZI_Result r) {
            r.r2 = s.tryAcquire();
        }

        @Arbiter
        public void arbiter(ZZI_Result r) {
            r.r3 = s.availablePermits();
            s.close();
        }
    }

    /**
     * release() racing tryAcquire() on zero permits. Results: the tryAcquire(), then availablePermits()
     * seen by the arbiter: the released permit is either taken or still there, exactly once.
     */
    @JCStressTest
    @Outcome(id = "true, 0", expect = ACCEPTABLE, desc = "tryAcquire() took the released permit")
    @Outcome(id = "false, 1", expect = ACCEPTABLE, desc = "tryAcquire() ran first; the permit stays available")
    @Outcome(id = "true, 1", expect = FORBIDDEN, desc = "acquired, yet the permit is still available: one was created")
    @Outcome(id = "false, 0", expect = FORBIDDEN, desc = "not acquired, yet the permit is gone: it was lost")
    @Outcome(expect = FORBIDDEN, desc = "anything else")
    @State
    public static class ReleaseVsTryAcquire {
        final EventFdSemaphore s = new EventFdSemaphore(0);

        @Actor
        public void releaser() {
            s.release();
        }

        @Actor
        public void acquirer(ZI_Result r) {
            r.r1 = s.tryAcquire();
        }

        @Arbiter
        public void arbiter(ZI_Result r) {
            r.r2 = s.availablePermits();
            s.close();
        }
    }
}
