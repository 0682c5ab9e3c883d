"""A command run under `eventfd-sync run`: counts, in a shared file, how many copies run at once.

The file holds "running most done". Each update happens under fcntl.flock on the file, so the
copies see each other's counts exactly; `most` is the largest `running` any copy ever saw.
"""
import fcntl
import os
import sys
import time

state = sys.argv[1]


def update(delta):
    with open(state, "r+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        running, most, done = map(int, f.read().split())
        running += delta
        most = max(most, running)
        if delta < 0:
            done += 1
        f.seek(0)
        f.truncate()
        f.write(f"{running} {most} {done}\n")
        f.flush()
        os.fsync(f.fileno())
        # the lock goes with the file's closing


update(+1)
time.sleep(0.2)  # the command's workload while it holds its permit
update(-1)
