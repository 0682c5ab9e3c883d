#!/usr/bin/env python3
"""A non-JVM peer for eventfd-sync's interop tests (standard library only).

It is started by dev.eventfd.sync.testutil.PeerProcess with the descriptors of the Java test mapped
to 3, 4, ... and runs the steps named on its command line, in order, printing one line per step
(flushed at once) so that the test can tell what it did. The descriptors come from the JVM and are
non-blocking (the O_NONBLOCK flag belongs to the open file description, which dup2 shares), so
every wait is a poll() followed by a read that may still find the counter empty: another process
may have taken the unit between the poll and the read.

Steps (FD is a descriptor number in this process, N a count):
  take:FD:N          acquire N permits one at a time: poll POLLIN, read 8 bytes (EFD_SEMAPHORE: 1 each)
  gather:P:T:N       the multi-permit protocol: take the turnstile T, take N permits from P, give T back
  release:FD:N       write N to FD (release N permits / signal a control descriptor)
  consume:FD         wait until FD is readable and read it (a control descriptor: one signal)
  readable:FD        wait until FD is readable, never read it (a latch gate)
  countdown:C:G      the latch count-down: read C (EAGAIN: already zero, nothing to do); then if C is
                     not readable (poll POLLIN, timeout 0), write 1 to G
  read:FD            one non-blocking read; prints the value or EAGAIN
  count:FD           print the counter as /proc/self/fdinfo shows it (decimal)
  exit:CODE          exit with CODE now

Options before the steps: --timeout=SECONDS (default 60) bounds every wait; a wait that runs past
it exits with status 3, so a peer never outlives a broken test for long.
Exit status: 0 all steps done, 2 bad usage, 3 a wait timed out, 4 an unexpected OS error.
"""
import errno
import os
import select
import struct
import sys
import time

TIMEOUT = 60.0


def say(*parts):
    print(" ".join(str(p) for p in parts), flush=True)


def fail(status, message):
    say("FAIL", message)
    sys.exit(status)


def wait_readable(fd, what):
    """poll(fd, POLLIN) until readable or the overall timeout passes."""
    deadline = time.monotonic() + TIMEOUT
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            fail(3, "timed out waiting for %s (fd %d) to become readable" % (what, fd))
        for _, revents in p.poll(int(left * 1000) + 1):
            if revents & (select.POLLERR | select.POLLNVAL):
                fail(4, "poll on fd %d reported revents=0x%x" % (fd, revents))
            if revents & (select.POLLIN | select.POLLHUP):
                return


def is_readable(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    return any(revents & select.POLLIN for _, revents in p.poll(0))


def try_read(fd):
    """One read of 8 bytes; None on EAGAIN."""
    try:
        data = os.read(fd, 8)
    except BlockingIOError:
        return None
    if len(data) != 8:
        fail(4, "short read of %d bytes from fd %d" % (len(data), fd))
    return struct.unpack("=Q", data)[0]


def take_one(fd, what):
    while True:
        wait_readable(fd, what)
        value = try_read(fd)
        if value is not None:
            return value
        # another process took it between poll and read: wait again


def write(fd, n):
    written = os.write(fd, struct.pack("=Q", n))
    if written != 8:
        fail(4, "short write of %d bytes to fd %d" % (written, fd))


def fdinfo_count(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        for line in f:
            if line.startswith("eventfd-count:"):
                return int(line.split(":", 1)[1].strip(), 16)
    fail(4, "fd %d is not an eventfd" % fd)


def main(argv):
    global TIMEOUT
    steps = []
    for arg in argv:
        if arg.startswith("--timeout="):
            TIMEOUT = float(arg.split("=", 1)[1])
        else:
            steps.append(arg)
    say("START pid=%d" % os.getpid())
    for step in steps:
        name, *args = step.split(":")
        try:
            nums = [int(a) for a in args]
        except ValueError:
            fail(2, "bad step " + step)
        if name == "take" and len(nums) == 2:
            fd, n = nums
            for _ in range(n):
                take_one(fd, "a permit")
            say("took", n)
        elif name == "gather" and len(nums) == 3:
            permits, turnstile, n = nums
            take_one(turnstile, "the turnstile")
            for _ in range(n):
                take_one(permits, "a permit")
            write(turnstile, 1)
            say("gathered", n)
        elif name == "release" and len(nums) == 2:
            fd, n = nums
            write(fd, n)
            say("released", n, "to fd", fd)
        elif name == "consume" and len(nums) == 1:
            fd, = nums
            value = take_one(fd, "a signal")
            say("consumed", value, "from fd", fd)
        elif name == "readable" and len(nums) == 1:
            fd, = nums
            wait_readable(fd, "the gate")
            say("readable fd", fd)
        elif name == "countdown" and len(nums) == 2:
            count, gate = nums
            value = try_read(count)
            if value is None:
                say("countdown at zero")
            elif not is_readable(count):
                write(gate, 1)
                say("countdown opened the gate")
            else:
                say("countdown")
        elif name == "read" and len(nums) == 1:
            fd, = nums
            value = try_read(fd)
            say("read", "EAGAIN" if value is None else value)
        elif name == "count" and len(nums) == 1:
            fd, = nums
            say("count", fdinfo_count(fd))
        elif name == "exit" and len(nums) == 1:
            say("EXIT", nums[0])
            sys.exit(nums[0])
        else:
            fail(2, "bad step " + step)
    say("DONE")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as e:
        say("FAIL", "%s: %s" % (errno.errorcode.get(e.errno, e.errno), e))
        sys.exit(4)
