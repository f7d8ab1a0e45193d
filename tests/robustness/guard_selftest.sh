#!/bin/sh
# guard_selftest.sh FAKE_SHIM GUARD PROG [ARGS...]
#
# Positive control for the malloc guard: with a fake shim that says "inside"
# on every thread, the first allocation must abort with the guard's message.
# Without this, a guard that never fires would pass every test.
set -u
fake=$1 guard=$2
shift 2
err=$(LD_PRELOAD="$fake:$guard" MALLOC_GUARD_REQUIRE_SHIM=1 "$@" 2>&1 >/dev/null)
rc=$?
case $err in
*"malloc-guard: FATAL: allocation inside the shim"*)
	if [ $rc -ne 0 ]; then
		echo "guard fired as expected (status $rc)"
		exit 0
	fi ;;
esac
echo "FAIL: guard did not fire (status $rc): $err"
exit 1
