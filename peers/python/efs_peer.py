#!/usr/bin/env python3
"""A Python participant of an eventfd-sync named semaphore on the shared-memory store.

It loads the C peer built as a library (cc -shared -fPIC -DEFS_LIBRARY -o libefs.so
peers/c/efs_peer.c) through ctypes, and speaks the C peer's command protocol on stdin:

    efs_peer.py <libefs.so> <socket-dir> <name>
        acquire N | try N | release N | available | exit
    each answered with "OK <command> [result]" or "ERR <command> <why>".

Joining, the slot, the atomic steps and the doorbell are the C peer's: one implementation of the
protocol outside the JVM, which this script drives.
"""
import ctypes
import sys

MAX_PERMITS = 2**31 - 1
TOO_MANY = "a process holds at most 17179869183 permits"  # what one slot keeps (layout version 4)


def main(argv):
    if len(argv) != 4:
        print("usage: efs_peer.py <libefs.so> <socket-dir> <name>", file=sys.stderr)
        return 2
    lib = ctypes.CDLL(argv[1])
    lib.efs_join.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    lib.efs_join.restype = ctypes.c_int
    for f in (lib.efs_acquire, lib.efs_try, lib.efs_release):
        f.argtypes = [ctypes.c_int64]
    lib.efs_acquire.restype = ctypes.c_int
    lib.efs_try.restype = ctypes.c_int
    lib.efs_release.restype = ctypes.c_int
    lib.efs_available.restype = ctypes.c_int64
    slot = lib.efs_join(argv[2].encode(), argv[3].encode())
    print(f"READY slot={slot}", flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        cmd = words[0]
        try:
            n = int(words[1]) if len(words) > 1 else 0
        except ValueError:
            print(f"ERR {cmd} permits {words[1]!r} is not a number", flush=True)
            continue
        if cmd not in ("available", "exit") and not 1 <= n <= MAX_PERMITS:
            print(f"ERR {cmd} permits {n} not in [1, {MAX_PERMITS}]", flush=True)
            continue
        if cmd == "acquire":
            print("OK acquire" if lib.efs_acquire(n) == 0 else f"ERR acquire {TOO_MANY}")
        elif cmd == "try":
            took = lib.efs_try(n)
            print(f"ERR try {TOO_MANY}" if took < 0 else "OK try " + ("true" if took else "false"))
        elif cmd == "release":
            print("OK release" if lib.efs_release(n) == 0 else "ERR release Maximum permit count exceeded")
        elif cmd == "available":
            print(f"OK available {lib.efs_available()}")
        elif cmd == "exit":
            lib.efs_leave()
            print("OK exit", flush=True)
            return 0
        else:
            print(f"ERR {cmd} unknown command")
        sys.stdout.flush()
    lib.efs_leave()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
