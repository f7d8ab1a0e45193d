#!/bin/bash
# quiet.sh - a glibc program that never purges, under the shim: one thread
# (quiet checks), and, where strace exists, no /proc or /sys file opened
# and no clone at all; then `unshare -Ur id` and `/bin/true` give the same
# output and exit status as without the shim.
# usage: quiet.sh SHIM QUIET
set -u
shim=$1 quiet=$2
fail=0
LD_PRELOAD=$shim "$quiet" || fail=1
if command -v strace >/dev/null; then
	log=$(mktemp) && trap 'rm -f "$log"' EXIT
	strace -f -qq -o "$log" -e trace=openat,open,clone,clone3 \
		env LD_PRELOAD="$shim" "$quiet" >/dev/null
	# The loader's opens of libraries are expected, and the program's
	# own fopen of /proc/self/status (no O_CLOEXEC); the shim's opens
	# all carry O_CLOEXEC.
	if grep -E '"/(proc|sys)/[^"]*", [^)]*O_CLOEXEC|^[0-9]+ +clone3?\(' "$log"; then
		echo "FAIL: the shim opened files or made threads in a program that never purged"
		fail=1
	fi
else
	echo "note: no strace; the /proc check is skipped"
fi
if command -v unshare >/dev/null; then
	want=$(unshare -Ur id 2>&1; echo "rc=$?")
	for conf in "" "fence_delay_ms:0,fence_rate:1000000" "fence:off"; do
		got=$(PTRECLAIM_CONF=$conf LD_PRELOAD=$shim unshare -Ur id 2>&1; echo "rc=$?")
		if [ "$got" != "$want" ]; then
			echo "FAIL: unshare -Ur id conf=$conf: '$got', plain '$want'"
			fail=1
		fi
	done
fi
[ $fail = 0 ] && echo ok
exit $fail
