#!/bin/sh
# The report says how the adapter attached, or why it did not.
#   test_report.sh SHIM JEMALLOC PROGRAM
set -u
shim=$1 je=$2 prog=$3
fail=0

expect() { # what, pattern, env...
	what=$1 pat=$2
	shift 2
	out=$(env PTRECLAIM_CONF="${CONF:-stats:1}" "$@" "$prog" --mib 4 2>&1 >/dev/null)
	if ! printf '%s\n' "$out" | grep -q "$pat"; then
		echo "FAIL: $what: no line matching: $pat"
		printf '%s\n' "$out" | grep jemalloc
		fail=1
	fi
}

expect "jemalloc preloaded" 'jemalloc adapter=attached via=mallctl .*takeover=[1-9]' \
	LD_PRELOAD="$shim:$je"
expect "glibc malloc" 'jemalloc adapter=off reason="jemalloc not found' \
	LD_PRELOAD="$shim"
CONF=stats:1,jemalloc:off expect "jemalloc:off" \
	'jemalloc adapter=off reason="off by configuration"' LD_PRELOAD="$shim:$je"
expect "decommit counts" 'jemalloc decommits=[1-9]' LD_PRELOAD="$shim:$je"
[ $fail -eq 0 ] && echo ok
exit $fail
