#!/bin/bash
# churn-ratio.sh - the churn workload on an allocator under the shim with
# the fence: every byte verified (also after an idle second, when the
# fence has done its work), and VmPTE within MAX times what the survivors
# need.  Skips (77) when the allocator is not installed or the fence
# can't run here.
# usage: churn-ratio.sh SHIM ALLOCATOR_LIB MAX CHURN [CHURN ARGS...]
set -u
shim=$1 lib=$2 max=$3
shift 3
[ -r "$lib" ] || { echo "churn-ratio: $lib not installed; skipping"; exit 77; }
out=$(LD_PRELOAD="$shim:$lib" PTRECLAIM_CONF=stats:1,fence:on "$@" 2>/tmp/churn-ratio.$$)
rc=$?
err=$(cat /tmp/churn-ratio.$$); rm -f /tmp/churn-ratio.$$
echo "$out"; echo "$err"
[ $rc = 0 ] || { echo "churn-ratio: FAIL: churn exited $rc"; exit 1; }
grep -q 'ptreclaim: fence state=unavailable\|ptreclaim: fence state=off' <<<"$err" &&
	{ echo "churn-ratio: fence not active here; skipping"; exit 77; }
grep -q ' verify=ok' <<<"$out" || { echo "churn-ratio: FAIL: bytes corrupted"; exit 1; }
ratio=$(grep -oE ' ratio=[0-9.]+' <<<"$out" | cut -d= -f2)
# An empty ratio would compare as a string and pass.
[ -n "$ratio" ] || { echo "churn-ratio: FAIL: churn printed no ratio"; exit 1; }
awk -v r="$ratio" -v m="$max" 'BEGIN { exit !(r <= m) }' ||
	{ echo "churn-ratio: FAIL: VmPTE/need $ratio > $max"; exit 1; }
echo "churn-ratio: ok: VmPTE/need $ratio <= $max"
