#!/bin/bash
# lazy-vm.sh - runs inside the test VM (run-test lazy | lazy-stock |
# lazy-bench): the MADV_FREE-side programs, each line of their output
# tagged "NAME: ", then "RC NAME=STATUS".  Only bash builtins and the files
# vm-run packed.
#
# Usage: lazy-vm.sh MODE PROGDIR [BUILD LIBDIR]
#   MODE test:    lazy_func, lazy_sweep (self, pid, 64 KiB folios),
#                 lazy_pageout (2 rounds), behaviour checks only
#   MODE bench:   lazy_pageout (5 rounds), lazy_sweep (self, pid, spread,
#                 64 KiB folios, and `ptreclaim sweep --pid` if
#                 LAZY_SWEEP_CLI=1), and with BUILD: churn on mimalloc
#                 (plain and under the shim, no MADV_PAGEOUT; without
#                 and with MIMALLOC_PAGE_RESET=1, which makes it give pages
#                 back with MADV_FREE) and on jemalloc (plain, for scale)
#   LAZY_EXPECT (stock|patched|auto) goes to lazy_pageout --expect.
set -u
mode=$1 progs=$2 build=${3:-} libdir=${4:-}

sysfs() { if [[ -r $1 ]]; then echo "$(<"$1")"; else echo none; fi; }
echo "kernel $(<"/proc/sys/kernel/osrelease") advice=$(sysfs /sys/kernel/mm/reclaim_pt/advice) advice_lazyfree=$(sysfs /sys/kernel/mm/reclaim_pt/advice_lazyfree)"

run() {	# run NAME PROGRAM ARGS...
	local name=$1 line
	shift
	"$@" >/tmp/out 2>&1
	local rc=$?
	while IFS= read -r line; do echo "$name: $line"; done </tmp/out
	echo "RC $name=$rc"
}

expect=${LAZY_EXPECT:-auto}
if [[ $mode == test ]]; then
	run func "$progs/lazy_func"
	run sweep-self "$progs/lazy_sweep" self
	run sweep-pid "$progs/lazy_sweep" pid
	run sweep-mthp "$progs/lazy_sweep" self --mthp --mb 128
	run pageout "$progs/lazy_pageout" --rounds 2 --expect "$expect"
	exit 0
fi

run pageout "$progs/lazy_pageout" --rounds "${LAZY_ROUNDS:-11}" --expect "$expect"
run sweep-self "$progs/lazy_sweep" self
run sweep-pid "$progs/lazy_sweep" pid
run sweep-spread "$progs/lazy_sweep" self --spread
run sweep-mthp "$progs/lazy_sweep" self --mthp
if [[ -n $build && ${LAZY_SWEEP_CLI:-0} == 1 ]]; then
	run sweep-cli "$progs/lazy_sweep" pid --cli "$build/cli/ptreclaim"
fi
[[ -n $build ]] || exit 0

# The churn (examples/churn): RSS after the shrink and VmPTE against need.
# No MADV_PAGEOUT (memory pressure on demand): what remains mapped is what
# the allocator, the kernel and the shim leave.  Debian's mimalloc 2.0.9
# decommits with MADV_DONTNEED by itself; with MIMALLOC_PAGE_RESET=1 it
# also resets pages with MADV_FREE, which only the lazyfree advice can
# turn into freed memory and tables.  The heap settles 3 s so the shim's
# advice thread can act on quiet regions.
churn() {	# churn NAME ALLOCATOR plain|shim PAGE_RESET ARGS...
	local name=$1 lib=$libdir/lib$2.so.2 pre line
	pre=$lib
	[[ $3 == shim ]] && pre=$build/shim/libptreclaim.so:$lib
	local reset=$4
	shift 4
	MIMALLOC_PAGE_RESET=$reset LD_PRELOAD=$pre PTRECLAIM_CONF=stats:1 \
		"$build/examples/churn" "$@" \
		--settle-ms 3000 >/tmp/out 2>/tmp/err
	local rc=$?
	while IFS= read -r line; do echo "$name: $line"; done </tmp/out
	while IFS= read -r line; do
		[[ $line == ptreclaim:* ]] && echo "$name: $line"
	done </tmp/err
	echo "RC $name=$rc"
}
churn churn-mimalloc-plain mimalloc plain 0 --size-mb 256
churn churn-mimalloc-shim mimalloc shim 0 --size-mb 256
churn churn-mimalloc-reset-plain mimalloc plain 1 --size-mb 256
churn churn-mimalloc-reset-shim mimalloc shim 1 --size-mb 256
churn churn-jemalloc-plain jemalloc plain 0 --size-mb 256
exit 0
