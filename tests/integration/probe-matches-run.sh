#!/bin/bash
# probe-matches-run.sh - `ptreclaim probe --json` names the strategy a real
# run reports as mode=, for each allocator and for configurations that
# turn strategies off (one selection function serves both).
# usage: probe-matches-run.sh CLI SHIM JEMALLOC TCMALLOC MIMALLOC PROGRAM [ARGS...]
set -u
cli=$1 shim=$2
declare -A lib=([glibc]="" [jemalloc]=$3 [tcmalloc]=$4 [mimalloc]=$5)
shift 5
fail=0

for conf in "" "jemalloc:off" "fence:on" "fence:on,jemalloc:off" "fence:off,jemalloc:off"; do
	json=$(PTRECLAIM_CONF=$conf "$cli" probe --json) || { echo "FAIL: probe exited $?"; exit 1; }
	for a in glibc jemalloc tcmalloc mimalloc; do
		[ -z "${lib[$a]}" ] || [ -e "${lib[$a]}" ] || continue
		want=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["strategy"][sys.argv[2]]["name"])' "$json" "$a")
		preload=$shim${lib[$a]:+:${lib[$a]}}
		out=$(env LD_PRELOAD="$preload" PTRECLAIM_CONF="stats:1${conf:+,$conf}" "$@" 2>&1 >/dev/null)
		got=$(sed -n 's/^ptreclaim: summary .* mode=\([a-z-]*\) .*/\1/p' <<<"$out")
		# glibc's malloc purges through calls no preload sees: churn
		# makes no purge the shim could act on, so the shim never
		# starts (the strategy is chosen at the first purge) and says so.
		if [ "$a" = glibc ] && [ "$got" = observe ] &&
		   grep -q 'reason="not started: no purge seen' <<<"$out"; then
			echo "ok   conf=${conf:-default} $a: not started (no purge), probe says $want"
		elif [ "$got" = "$want" ]; then
			echo "ok   conf=${conf:-default} $a: $got"
		else
			echo "FAIL conf=${conf:-default} $a: probe says $want, the run reports ${got:-nothing}"
			fail=1
		fi
	done
done
exit $fail
