#!/bin/bash
# advice-vm.sh - runs inside the test VM (run-test advice | advice-stock |
# advice-bench): the churn workload on three allocators, plain and under
# the shim, then `ptreclaim sweep` on a program that purges in sub-PMD
# pieces behind any preload's back.  Only bash builtins and the files
# vm-run packed.  Prints lines for run-test to check; the checks that need
# no arithmetic are made here.
#
# Usage: advice-vm.sh BUILD_DIR SWEEP_TARGET LIBDIR MODE [CHURN ARGS...]
#   MODE: test (each allocator once, then sweep) or bench:N (N rounds of
#   plain and shim, interleaved, no sweep)
set -u
build=$1 target=$2 libdir=$3 mode=$4
shift 4
churn=$build/examples/churn
shim=$build/shim/libptreclaim.so
cli=$build/cli/ptreclaim
# mimalloc-free: mimalloc again, with no memory pressure (no --pageout):
# only the lazyfree advice can take its MADV_FREE regions.
declare -A lib=([jemalloc]=$libdir/libjemalloc.so.2
		[tcmalloc]=$libdir/libtcmalloc.so.4
		[mimalloc]=$libdir/libmimalloc.so.2
		[mimalloc-free]=$libdir/libmimalloc.so.2)
# Per allocator, a heap where plain 6.12 leaves tables behind (tcmalloc only
# does with more churn).  jemalloc's heap is larger so that the few tables
# no advice can free (2 MiB spans that reach into a hole between its VMAs,
# kept by the kernel's rule) weigh less against need.  Arguments given to
# this script come after, and win.
declare -A args=([jemalloc]="--size-mb 1024"
		 [tcmalloc]="--size-mb 256 --threads 2 --cluster 128"
		 [mimalloc]="--size-mb 256"
		 [mimalloc-free]="--size-mb 256")
lazyfree=/sys/kernel/mm/reclaim_pt/advice_lazyfree

# A sysfs number, or "none" (no cat in the VM: bash reads it).
sysnum() { local v; { v=$(<"$1"); } 2>/dev/null && echo "$v" || echo none; }
echo "kernel $(<"/proc/sys/kernel/osrelease") advice=$(sysnum /sys/kernel/mm/reclaim_pt/advice) lazyfree=$(sysnum "$lazyfree")"
"$cli" probe | while IFS= read -r l; do echo "probe: $l"; done

# run ALLOC plain|shim [extra churn args]: one churn line, tagged.
run() {
	local alloc=$1 how=$2 pre=${lib[$1]} extra=()
	shift 2
	# mimalloc with page_reset gives freed pages back with MADV_FREE (by
	# default Debian's 2.0.9 purges on timers, which makes runs differ):
	# memory pressure must discard them before any table can go, with or
	# without us.  (The other allocators ignore the variable.)
	[[ $alloc == mimalloc ]] && extra=(--pageout)
	# The heap settles so the background thread can finish; plain runs
	# settle as long, so that both are measured in the same state (the
	# kernel's khugepaged, for one, works meanwhile).
	extra+=(--settle-ms 3000)
	[[ $how == shim ]] && pre=$shim:$pre
	# shellcheck disable=SC2086
	MIMALLOC_PAGE_RESET=1 LD_PRELOAD=$pre PTRECLAIM_CONF=stats:1 \
		"$churn" ${args[$alloc]} "$@" \
		"${extra[@]}" \
		>/tmp/out 2>/tmp/err
	echo "rc=$? alloc=$alloc how=$how"
	# alloc= first: it names the run (mimalloc-free), churn's own comes
	# after.
	while IFS= read -r l; do echo "RESULT how=$how alloc=$alloc $l"; done </tmp/out
	while IFS= read -r l; do
		[[ $l == ptreclaim:* ]] && echo "REPORT how=$how alloc=$alloc $l"
	done </tmp/err
}

if [[ $mode == bench:* ]]; then
	for ((i = 0; i < ${mode#bench:}; i++)); do
		for a in ${ADVICE_ALLOCATORS:-jemalloc tcmalloc mimalloc}; do
			run "$a" plain "$@"
			run "$a" shim "$@"
		done
	done
	exit 0
fi

for a in jemalloc tcmalloc mimalloc; do
	run "$a" plain "$@"
	run "$a" shim "$@"
done
# With the lazyfree advice, mimalloc's MADV_FREE regions go without any
# memory pressure.
if [[ -e $lazyfree ]]; then
	run mimalloc-free plain "$@"
	run mimalloc-free shim "$@"
fi

# MADV_FREE: regions wait until memory pressure discards their pages.
if [[ -x ${ADVICE_LAZY:-} ]]; then
	LD_PRELOAD=$shim:${lib[jemalloc]} "$ADVICE_LAZY" >/tmp/out 2>&1
	rc=$?
	while IFS= read -r l; do echo "LAZY: $l"; done </tmp/out
	echo "LAZY: rc=$rc"
fi

# sweep: errors first, then --pid and --all on a program that purges in
# 64 KiB pieces with raw system calls (as glibc's malloc does inside).
# A pid in range that no process has (pid_max is 32768 in the VM's
# kernel; an out-of-range pid is a usage error, exit 2).
"$cli" sweep --pid 32000 2>/tmp/err
echo "sweep-missing rc=$? msg=$(</tmp/err)"
"$cli" sweep 2>/tmp/err
echo "sweep-usage rc=$?"
sweep_case() {	# [tmode=free] sweep_case NAME SWEEP-ARGS...
	local name=$1 line
	shift
	# shellcheck disable=SC2086
	coproc T { exec "$target" 128 ${tmode:-}; }
	local pid=$T_PID rfd
	# Our own copy: bash drops T when the coprocess ends.
	exec {rfd}<&"${T[0]}"
	while read -r line <&"$rfd" && [[ $line != ready ]]; do
		echo "$name: $line"
	done
	"$cli" sweep "${@//@PID@/$pid}" >/tmp/out 2>/tmp/err
	echo "$name: sweep rc=$?"
	while IFS= read -r line; do echo "$name: $line"; done </tmp/out
	while IFS= read -r line; do echo "$name: $line"; done </tmp/err
	kill -USR1 "$pid"
	while read -r line <&"$rfd"; do echo "$name: $line"; done
	exec {rfd}<&-
	wait "$pid"
	echo "$name: target rc=$?"
}
sweep_case SWEEP-PID --pid @PID@
sweep_case SWEEP-ALL --all
# A target that gave its memory back with MADV_FREE (one page of every
# eighth region written again): the lazyfree advice discards the clean
# pages and frees their tables; --empty-only frees none of them.
if [[ -e $lazyfree ]]; then
	tmode=free sweep_case SWEEP-FREE --pid @PID@
	tmode=free sweep_case SWEEP-FREE-EMPTY --empty-only --pid @PID@
fi
if [[ -x ${RUNAS_NOBODY:-} ]]; then
	"$RUNAS_NOBODY" "$cli" sweep --pid 1 2>/tmp/err
	echo "sweep-denied rc=$? msg=$(</tmp/err)"
fi
exit 0
