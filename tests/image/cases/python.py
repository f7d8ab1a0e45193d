# python3 (Debian's, glibc malloc with pymalloc arenas): heap churn, a
# large buffer, threads, an anonymous mmap purged with madvise in 64 KiB
# pieces, json and hashlib, and a child process (under the preload too).
# Deterministic.
import hashlib, json, mmap, subprocess, sys, threading

objs = [bytes([i % 251]) * (i % 4000 + 1) for i in range(30000)]
h = hashlib.sha256(b"".join(objs[::7])).hexdigest()
del objs[::2]
print("churn", len(objs), h[:16])

big = bytearray(64 << 20)
for off in range(0, len(big), 4096):
    big[off] = off // 4096 % 256
print("big", sum(big[::4096]) % 65536)
del big

res = [0] * 4
def work(k):
    d = {i: str(i) * 3 for i in range(k * 10000, (k + 1) * 10000)}
    res[k] = len(json.dumps(d))
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("threads", res)

m = mmap.mmap(-1, 8 << 20)
m.write(b"\x5a" * (8 << 20))
for off in range(0, 8 << 20, 64 << 10):
    if off // (64 << 10) % 8 != 3:
        m.madvise(mmap.MADV_DONTNEED, off, 64 << 10)
zero = sum(1 for off in range(0, 8 << 20, 4096) if m[off] == 0)
kept = sum(1 for off in range(0, 8 << 20, 4096) if m[off] == 0x5a)
print("mmap", zero, kept)
m.close()

r = subprocess.run(["/bin/sh", "-c", "echo child; echo child-err >&2; exit 4"],
                   capture_output=True, text=True)
print("child", repr(r.stdout), repr(r.stderr), r.returncode)
print("to stderr", file=sys.stderr)
sys.exit(6)
