#!/bin/bash
# Interleaved runs of the churn workload under plain jemalloc, under the
# shim with the adapter off (what the generic shim costs), and under the
# shim with the adapter attached; then medians per column.
#   bench/jemalloc-adapter.sh [BUILD_DIR] [ROUNDS] [CHURN ARGS...]
set -eu
BENCH=jemalloc-adapter.sh
. "$(dirname "$(realpath "$0")")/lib.sh"
build=${1:-build}; rounds=${2:-5}
[ $# -ge 2 ] && shift 2 || shift $#
je=${JEMALLOC_SO:-$(alloc_lib jemalloc)}
shim=$(realpath "$build/shim/libptreclaim.so")
churn=$build/tests/adapter/adapter_churn
out=$(mktemp -d)
i=0
while [ $i -lt "$rounds" ]; do
	# Alternate which goes first, so neither always follows the other.
	if [ $((i % 2)) -eq 0 ]; then
		LD_PRELOAD=$je "$churn" "$@" >>"$out/plain"
		PTRECLAIM_CONF=jemalloc:off LD_PRELOAD=$shim:$je "$churn" "$@" >>"$out/off"
		LD_PRELOAD=$shim:$je "$churn" "$@" >>"$out/shim"
	else
		LD_PRELOAD=$shim:$je "$churn" "$@" >>"$out/shim"
		PTRECLAIM_CONF=jemalloc:off LD_PRELOAD=$shim:$je "$churn" "$@" >>"$out/off"
		LD_PRELOAD=$je "$churn" "$@" >>"$out/plain"
	fi
	i=$((i + 1))
done
median() { # file key
	sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$1" |
		awk "$BENCH_AWK"'{ l = l " " $1 } END { print med(l) }'
}
printf '%-6s %9s %9s %7s %10s %9s %9s %9s %9s\n' run vmpte_kb need_kb ratio rss_kb grow_ms free_ms wall_ms cpu_ms
for r in plain off shim; do
	printf '%-6s' $r
	for k in vmpte_kb need_kb ratio rss_kb grow_ms free_ms wall_ms cpu_ms; do
		printf ' %9s' "$(median "$out/$r" $k)"
	done
	echo
done
p=$(median "$out/plain" wall_ms); s=$(median "$out/shim" wall_ms)
echo "wall ratio shim/plain (medians of $rounds): $(echo "$s $p" | awk '{printf "%.4f", $1/$2}')"
p=$(median "$out/plain" cpu_ms); s=$(median "$out/shim" cpu_ms)
echo "cpu ratio shim/plain (medians of $rounds): $(echo "$s $p" | awk '{printf "%.4f", $1/$2}')"
grep -h corrupt= "$out"/* | grep -v 'corrupt=0' && echo "CORRUPTION" || true
rm -rf "$out"
