#!/bin/bash
# compare.sh - a program's stdout and exit status plain and under the shim,
# for each configuration of a ';'-separated list: they must be the same.
# usage: compare.sh PRELOAD CONFS PROGRAM [ARGS...]
set -u
preload=$1 confs=$2
shift 2
want=$("$@" 2>/dev/null; echo "exit=$?")
fail=0
# The plain run must pass, or the comparison proves nothing.
case $want in
*exit=0) ;;
*) echo "FAIL: the plain run failed: $want"; exit 1 ;;
esac
IFS=';' read -r -a list <<<"$confs"
[ ${#list[@]} = 0 ] && list=("")
for conf in "${list[@]}"; do
	got=$(LD_PRELOAD=$preload PTRECLAIM_CONF=$conf "$@" 2>/tmp/lc-err.$$; echo "exit=$?")
	if [ "$got" = "$want" ]; then
		echo "ok   conf=${conf:-default} $(tail -1 /tmp/lc-err.$$)"
	else
		echo "FAIL conf=${conf:-default}:"; echo "$got"; echo "plain:"; echo "$want"
		cat /tmp/lc-err.$$
		fail=1
	fi
done
rm -f /tmp/lc-err.$$
exit $fail
