package dev.eventfd.sync;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Nested;

class MutantLatchTest {
    @Nested class EarlyRelease extends LatchContractTest {
        protected CountDownLatch create(int c) { return new CountDownLatch(c) {
            public void countDown() { super.countDown(); if (getCount() == 1) super.countDown(); } }; }
    }
    @Nested class InterruptStatusKept extends LatchContractTest {
        protected CountDownLatch create(int c) { return new CountDownLatch(c) {
            public void await() throws InterruptedException { try { super.await(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw e; } } }; }
    }
    @Nested class ShortTimeout extends LatchContractTest {
        protected CountDownLatch create(int c) { return new CountDownLatch(c) {
            public boolean await(long t, TimeUnit u) throws InterruptedException { return super.await(t / 2, u); } }; }
    }
    @Nested class BadToString extends LatchContractTest {
        protected CountDownLatch create(int c) { return new CountDownLatch(c) {
            public String toString() { return "[Count = 0]"; } }; }
    }
    @Nested class CloseTracking extends LatchContractTest {
        static final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
        class C extends CountDownLatch implements AutoCloseable { C(int c){super(c); open.incrementAndGet();} public void close(){ open.decrementAndGet(); } }
        protected CountDownLatch create(int c) { return new C(c); }
        @org.junit.jupiter.api.AfterAll static void check() { if (open.get() != 0) throw new AssertionError("open " + open.get()); System.out.println("CLOSE-TRACKING OK open=" + open.get()); }
    }
}
