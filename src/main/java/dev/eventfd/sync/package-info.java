/**
 * Cross-process, virtual-thread-aware synchronizers whose state lives in Linux eventfd descriptors.
 *
 * <ul>
 * <li>{@link dev.eventfd.sync.EventFdSemaphore}: a drop-in {@link java.util.concurrent.Semaphore}.
 * <li>{@link dev.eventfd.sync.EventFdLatch}: a drop-in {@link java.util.concurrent.CountDownLatch}.
 * <li>{@link dev.eventfd.sync.EventFdLock}: a non-reentrant {@link java.util.concurrent.locks.Lock}
 * that several processes can share.
 * </ul>
 * Each can be anonymous (shared with other processes through its descriptors) or named
 * ({@code open(name, ...)}: found by name by every process of the same user).
 *
 * <h2 id="MemoryVisibility">Memory visibility</h2>
 * Within one JVM these classes give the guarantees of their {@code java.util.concurrent}
 * counterparts: actions prior to a release ({@code release()}, {@code countDown()},
 * {@code unlock()}) <i>happen-before</i> actions following the acquire that observes it
 * ({@code acquire()}, {@code await()}, {@code lock()}) in another thread. A permit or count that
 * passes through the kernel is not by itself a Java memory model edge: each class pairs every kernel
 * write with a volatile write before it, and every kernel read that observes it with a volatile read
 * after it, and says so on the lines that do it. Between processes the kernel transfers the permit or
 * the count, and orders nothing else.
 *
 * <h2>Waiting</h2>
 * No method blocks inside a native call: descriptors are non-blocking, waiting threads park, and a
 * poller thread blocked in {@code epoll_wait} wakes them when another process changes a descriptor.
 */
package dev.eventfd.sync;
