#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""redis-server (Debian's, which links jemalloc dynamically) under the shim.

Loads keys with known values, deletes most of them and lets others expire,
in waves with a purge after each (survivors clustered), reads every survivor back and
compares it byte for byte, and checks that the server's VmPTE came down to
near what its survivors need (pagemap).  Exit 77 (skip) without redis,
or where the adapter reclaims nothing (a kernel that keeps tables).

  redis_check.py --shim LIB --ptneed BIN [--mib N] [--max-ratio R] [--plain]

--plain runs redis without the shim (to compare); the VmPTE check is then
only reported.
"""
import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


VALUE_MIN, VALUE_SPAN = 48, 4000


def value(i):
    """The value of key i: its size varies, its bytes depend on i."""
    size = VALUE_MIN + (i * 7919) % VALUE_SPAN
    word = b"%08x" % ((i * 2654435761) & 0xFFFFFFFF)
    return (word * (size // 8 + 1))[:size]


def key(i):
    return b"k:%d" % i


class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""

    def send(self, cmds):
        out = []
        for args in cmds:
            out.append(b"*%d\r\n" % len(args))
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise RuntimeError("bad reply %r" % line)

    def call(self, *args):
        self.send([args])
        return self.reply()

    def pipeline(self, cmds, batch=2000):
        replies = []
        for s in range(0, len(cmds), batch):
            part = cmds[s:s + batch]
            self.send(part)
            replies.extend(self.reply() for _ in part)
        return replies


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(ptneed, pid):
    out = subprocess.run([ptneed, str(pid)], capture_output=True, text=True,
                         check=True).stdout
    return {k: int(v) for k, v in (f.split("=") for f in out.split())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shim", required=True)
    ap.add_argument("--ptneed", required=True)
    ap.add_argument("--mib", type=int, default=300)
    ap.add_argument("--max-ratio", type=float, default=1.10)
    ap.add_argument("--values", default="48-4048",
                    help="value sizes in bytes, MIN-MAX")
    ap.add_argument("--cluster", type=int, default=256,
                    help="survivors come in runs of this many keys")
    ap.add_argument("--waves", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plain", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    global VALUE_MIN, VALUE_SPAN
    lo, hi = (int(x) for x in args.values.split("-"))
    VALUE_MIN, VALUE_SPAN = lo, max(hi - lo, 1)

    server = shutil.which("redis-server")
    if not server:
        print("redis-server not installed: skipped")
        return 77
    port = free_port()
    env = dict(os.environ)
    if not args.plain:
        env["LD_PRELOAD"] = os.path.realpath(args.shim)
        env["PTRECLAIM_CONF"] = "stats:1"
    workdir = tempfile.mkdtemp(prefix="ptreclaim-redis-")
    log = open(os.path.join(workdir, "stderr"), "w+")
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes",
         "--loglevel", "warning"],
        env=env, stdout=log, stderr=log)
    failures = []
    unchecked = None
    try:
        for _ in range(200):
            try:
                r = Redis(port)
                r.call("PING")
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("redis-server did not start")

        # Load: about --mib MiB of values.
        n, total = 0, 0
        while total < args.mib << 20:
            total += len(value(n))
            n += 1
        for s in range(0, n, 20000):
            r.pipeline([(b"SET", key(i), value(i))
                        for i in range(s, min(n, s + 20000))])
        loaded = measure(args.ptneed, proc.pid)

        # Survivors: one cluster of --cluster keys in 20 (keys loaded together
        # sit together in memory).  The rest go in waves, in random order,
        # each wave followed by MEMORY PURGE (jemalloc purges every arena):
        # three of four deleted, one of four left to expire.
        survive = [(i // args.cluster) % 20 == 0 for i in range(n)]
        doomed = [i for i in range(n) if not survive[i]]
        random.Random(args.seed).shuffle(doomed)
        for w in range(args.waves):
            part = doomed[len(doomed) * w // args.waves:
                          len(doomed) * (w + 1) // args.waves]
            expire = [(b"PEXPIRE", key(i), b"100") for i in part if not i % 4]
            r.pipeline(expire)
            r.pipeline([(b"DEL", key(i)) for i in part if i % 4])
            time.sleep(0.2)
            # Touching an expired key removes it at once; the active
            # expiry cycle would get there too, more slowly.
            r.pipeline([(b"EXISTS", c[1]) for c in expire])
            r.call("MEMORY", "PURGE")
        if int(r.call("DBSIZE")) != sum(survive):
            failures.append("DBSIZE %s, expected %d"
                            % (r.call("DBSIZE"), sum(survive)))

        got = r.pipeline([(b"GET", key(i)) for i in range(n) if survive[i]])
        want = [value(i) for i in range(n) if survive[i]]
        wrong = sum(1 for a, b in zip(got, want) if a != b)
        if wrong:
            failures.append("%d of %d survivors read back wrong"
                            % (wrong, len(want)))
        after = measure(args.ptneed, proc.pid)
        if args.verbose:
            info = r.call("INFO", "memory").decode()
            print(" ".join(l for l in info.split("\r\n")
                           if l.startswith(("allocator_", "used_memory:",
                                            "used_memory_rss:"))))
        ratio = after["vmpte_kb"] / max(after["need_kb"], 1)
        print("redis %s keys=%d survivors=%d loaded: vmpte_kb=%d rss_kb=%d;"
              " after: vmpte_kb=%d need_kb=%d ratio=%.3f rss_kb=%d wrong=%d"
              % ("plain" if args.plain else "shim", n, len(want),
                 loaded["vmpte_kb"], loaded["rss_kb"], after["vmpte_kb"],
                 after["need_kb"], ratio, after["rss_kb"], wrong))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        report = log.read()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.plain:
        lines = [l for l in report.splitlines() if "jemalloc" in l]
        print("\n".join(lines))
        if not any("adapter=attached" in l for l in lines):
            failures.append("the jemalloc adapter did not attach in redis")
        elif "reclaim=whole-pmd-dontneed" not in report:
            # The adapter reclaims nothing here: the ratio, this test's
            # point, can't be judged (skip, unless something failed).
            unchecked = "the adapter does not reclaim on this kernel"
        elif ratio > args.max_ratio:
            failures.append("VmPTE/need %.3f above %.2f"
                            % (ratio, args.max_ratio))
    for f in failures:
        print("FAIL: " + f)
    if failures:
        return 1
    if unchecked:
        print("skip: VmPTE/need not checked: " + unchecked)
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
