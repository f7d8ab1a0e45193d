#!/bin/sh
# compare.sh PRELOAD PROG [ARGS...]
#
# Runs PROG once plainly and once with LD_PRELOAD=PRELOAD (a colon list:
# the shim, maybe the malloc guard) and fails, showing the diff, if the two
# outputs differ in any line or either run fails.  stderr is not compared:
# with PTRECLAIM_CONF=stats:1 the shim writes its report there.
set -u
preload=$1
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/ptreclaim-compare.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT

"$@" >"$dir/plain" 2>"$dir/plain.err"
rc=$?
if [ $rc -ne 0 ]; then
	echo "plain run failed with status $rc:"
	cat "$dir/plain.err"
	exit 1
fi
LD_PRELOAD="$preload${LD_PRELOAD:+:$LD_PRELOAD}" "$@" >"$dir/shim" 2>"$dir/shim.err"
rc=$?
echo "--- stderr of the run under $preload:"
cat "$dir/shim.err"
if [ $rc -ne 0 ]; then
	echo "run under $preload failed with status $rc"
	exit 1
fi
if ! diff -u "$dir/plain" "$dir/shim"; then
	echo "FAIL: output differs under $preload (- plain, + shim)"
	exit 1
fi
if [ ! -s "$dir/plain" ]; then
	echo "FAIL: no output"
	exit 1
fi
echo "$(wc -l <"$dir/plain") cases identical with and without $preload"
