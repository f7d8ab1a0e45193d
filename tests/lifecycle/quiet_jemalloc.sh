#!/bin/bash
# quiet_jemalloc.sh - a jemalloc program that never purges, under the
# shim: compared with the same program without the shim (strace -f), no
# /proc or /sys file opened, no PT_RECLAIM experiment (no madvise of the
# shim's own beyond the fork mark's MADV_WIPEONFORK), no userfaultfd, no
# thread.  Allowed: the library's own load, /etc/ptreclaim.conf, the fork
# mark, the advice's faccessat, and what attaching the hooks makes
# jemalloc do (its huge arena: an mmap and its purge, our hook tables).
# That a program which purges still gets the adapter's full reclaim is
# the adapter suite's check (VmPTE/need <= 1.05, mode=jemalloc-hooks).
# usage: quiet_jemalloc.sh SHIM JEMALLOC QUIET
set -u
shim=$1 je=$2 quiet=$3
command -v strace >/dev/null || { echo "SKIP: no strace"; exit 77; }
[ -r "$je" ] || { echo "SKIP: no $je"; exit 77; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
fail=0
# quiet.c allocates, maps and unmaps 16 MiB of its own; with jemalloc's
# malloc behind it nothing is decommitted that early.
LD_PRELOAD=$je strace -f -qq -o "$tmp/plain" "$quiet" >/dev/null || fail=1
LD_PRELOAD=$shim:$je strace -f -qq -o "$tmp/shim" "$quiet" >/dev/null || fail=1
n() { grep -cE "$1" "$2"; }
for what in 'open(at)?\([^"]*"/proc/' 'open(at)?\([^"]*"/sys/' \
	    '^[0-9]+ +userfaultfd\(' '^[0-9]+ +clone3?\(' \
	    '^[0-9]+ +capget\(' 'MADV_NOHUGEPAGE' 'MADV_HUGEPAGE'; do
	p=$(n "$what" "$tmp/plain") s=$(n "$what" "$tmp/shim")
	if [ "$s" != "$p" ]; then
		echo "FAIL: $what: $s under the shim, $p plain"
		grep -E "$what" "$tmp/shim" | head -5
		fail=1
	fi
done
# madvise: jemalloc's own, the fork mark, and the purge of the huge arena
# that attaching creates; nothing else.
p=$(n '^[0-9]+ +madvise\(' "$tmp/plain") s=$(n '^[0-9]+ +madvise\(' "$tmp/shim")
if [ "$s" -gt $((p + 2)) ]; then
	echo "FAIL: madvise: $s under the shim, $p plain (at most 2 more)"
	grep -E '^[0-9]+ +madvise\(' "$tmp/shim"
	fail=1
fi
echo "calls: plain $(wc -l <"$tmp/plain"), shim $(wc -l <"$tmp/shim")"
# The report of a program that never purged: nothing chosen.
out=$(PTRECLAIM_CONF=stats:1 LD_PRELOAD=$shim:$je "$quiet" 2>&1)
if ! grep -q 'mode=observe' <<<"$out"; then
	echo "FAIL: a program that never purged reports: $out"
	fail=1
fi
[ $fail = 0 ] && echo ok
exit $fail
