#!/usr/bin/env python3
"""A non-JVM participant for eventfd-sync's named-object tests (standard library only).

It joins a named object the way the library's protocol (version 1) says, with nothing from the JVM
but the socket directory: it lists <dir>/<kind>.<name>.<pid>-<n>.sock, connects to a participant,
sends the 8-byte request, and receives the 16-byte response with the object's descriptors as
SCM_RIGHTS (socket.recv_fds). Then it uses them as any process may: read 8 bytes to take a permit
(EFD_SEMAPHORE: 1 each), write 8 bytes to release.

Commands, one per line on stdin; each answers one line, "OK <verb> ..." or "ERR <verb> ...":
  join KIND NAME DIR   KIND is semaphore or latch; answers
                       "OK join status=S kind=K initial=I server=PID fds=N sem=a,b"
  take N               take N permits one at a time (poll, then read; retry if another process won)
  try                  one non-blocking read of the permits descriptor: "OK try 1" or "OK try EAGAIN"
  release N            write N to the permits descriptor
  count                the permits counter, from /proc/self/fdinfo
  countdown            latch count-down: read the count (EAGAIN: already 0); if now 0, write 1 to the gate
  closefds             close the received descriptors
  exit                 exit 0

Other modes (argv):
  connect-as UID PATH [GIDS]
                       setuid(UID) unless UID is -1 (with supplementary groups GIDS, comma-separated,
                       if given), connect to PATH, print "CONNECTED <pid> <uid>",
                       send a valid semaphore request, then print "RESPONSE status=S fds=N" for what
                       comes back (or "EOF" if the server hangs up), and wait for the server to hang up.
Every wait gives up after 60 s (exit 3).
"""
import os
import re
import select
import socket
import struct
import sys
import time

MAGIC = 0x45464453
VERSION = 1
KINDS = {"semaphore": 1, "latch": 2}
TIMEOUT = 60.0


def say(line):
    print(line, flush=True)


def fdinfo(fd):
    with open("/proc/self/fdinfo/%d" % fd) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def wait_readable(fd):
    deadline = time.monotonic() + TIMEOUT
    p = select.poll()
    p.register(fd, select.POLLIN)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            say("FAIL timed out waiting for fd %d" % fd)
            sys.exit(3)
        if p.poll(int(left * 1000) + 1):
            return


def is_readable(fd):
    p = select.poll()
    p.register(fd, select.POLLIN)
    return bool(p.poll(0))


def try_read(fd):
    try:
        return struct.unpack("=Q", os.read(fd, 8))[0]
    except BlockingIOError:
        return None


def request(kind_code):
    return struct.pack("=IHBB", MAGIC, VERSION, kind_code, 0)


def receive_response(s, max_fds):
    msg, fds, flags, _ = socket.recv_fds(s, 32, max_fds)
    return msg, fds


def join(kind, name, directory):
    pattern = re.compile(re.escape(kind + "." + name + ".") + r"[0-9]+-[0-9]+\.sock$")
    last = "no participant socket"
    for entry in sorted(os.listdir(directory)):
        if not pattern.match(entry):
            continue
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect(os.path.join(directory, entry))
        except OSError as e:
            last = "%s: %s" % (entry, e)
            s.close()
            continue
        with s:
            s.sendall(request(KINDS[kind]))
            msg, fds = receive_response(s, 2)
        if len(msg) != 16:
            for fd in fds:
                os.close(fd)
            last = "%s: short answer %d" % (entry, len(msg))
            continue
        magic, version, status, k, initial, server = struct.unpack("=IHBBii", msg)
        return magic, version, status, k, initial, server, fds
    raise RuntimeError(last)


def connect_as(uid, path, groups=None):
    if groups is not None:
        os.setgroups(groups)
    if uid >= 0:
        os.setgid(uid)
        os.setuid(uid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    say("CONNECTED %d %d" % (os.getpid(), os.getuid()))
    try:
        try:
            s.sendall(request(1))
        except OSError as e:           # the server may have answered and hung up already
            say("SEND-FAILED %s" % e)
        msg, fds = receive_response(s, 4)
        if not msg:
            say("EOF")
        else:
            status = struct.unpack("=IHBBii", msg)[2] if len(msg) == 16 else -1
            say("RESPONSE status=%d fds=%d bytes=%d" % (status, len(fds), len(msg)))
            for fd in fds:
                os.close(fd)
            while s.recv(64):          # wait for the server to hang up
                pass
    except socket.timeout:
        say("FAIL timed out")
        sys.exit(3)
    except OSError as e:
        say("HANGUP %s" % e)
    say("CLOSED")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "connect-as":
        groups = [int(g) for g in sys.argv[4].split(",")] if len(sys.argv) > 4 else None
        connect_as(int(sys.argv[2]), sys.argv[3], groups)
        return
    fds = []
    kind = None
    for line in sys.stdin:
        a = line.split()
        if not a:
            continue
        verb = a[0]
        try:
            if verb == "exit":
                say("OK exit")
                return
            elif verb == "join":
                kind = a[1]
                magic, version, status, k, initial, server, fds = join(a[1], a[2], a[3])
                modes = ",".join(fdinfo(fd).get("eventfd-semaphore", "?").strip() for fd in fds)
                say("OK join magic=%x version=%d status=%d kind=%d initial=%d server=%d fds=%d sem=%s"
                    % (magic, version, status, k, initial, server, len(fds), modes))
            elif verb == "take":
                for _ in range(int(a[1])):
                    while try_read(fds[0]) is None:
                        wait_readable(fds[0])
                say("OK take")
            elif verb == "try":
                v = try_read(fds[0])
                say("OK try %s" % ("EAGAIN" if v is None else v))
            elif verb == "release":
                os.write(fds[0], struct.pack("=Q", int(a[1])))
                say("OK release")
            elif verb == "count":
                say("OK count %d" % int(fdinfo(fds[0])["eventfd-count"].strip(), 16))
            elif verb == "countdown":
                try_read(fds[0])
                if not is_readable(fds[0]):
                    os.write(fds[1], struct.pack("=Q", 1))
                say("OK countdown")
            elif verb == "closefds":
                for fd in fds:
                    os.close(fd)
                fds = []
                say("OK closefds")
            else:
                say("ERR %s unknown command" % verb)
        except Exception as e:  # report, keep serving commands
            say("ERR %s %r" % (verb, e))


if __name__ == "__main__":
    main()
