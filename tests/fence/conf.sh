#!/bin/bash
# conf.sh - `ptreclaim probe` and the fence's configuration keys.
# usage: conf.sh CLI
set -u
cli=$1
fail() { echo "conf: FAIL: $*"; exit 1; }

out=$("$cli" probe) || fail "probe exited $?"
echo "$out"
for a in jemalloc tcmalloc mimalloc glibc; do
	grep -qE "^  $a +[a-z-]+ " <<<"$out" || fail "no strategy line for $a"
done
grep -qE '^  glibc +(advice|fence|observe) ' <<<"$out" || fail "glibc has no strategy name"
json=$("$cli" probe --json) || fail "probe --json exited $?"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert set(d["strategy"]) == {"jemalloc","tcmalloc","mimalloc","glibc"}; assert d["userfaultfd"]["mode"] in ("full","user-mode-only","none")' "$json" ||
	fail "probe --json is not the expected JSON"
# The table and the JSON agree on the strategies.
for a in jemalloc tcmalloc mimalloc glibc; do
	t=$(grep -E "^  $a " <<<"$out" | awk '{print $2}')
	j=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["strategy"][sys.argv[2]]["name"])' "$json" "$a")
	[ "$t" = "$j" ] || fail "$a: table says $t, JSON says $j"
done

out=$(PTRECLAIM_CONF=fence:off "$cli" probe 2>&1)
grep -qE '^  tcmalloc +(observe|advice) ' <<<"$out" || fail "fence:off still fences tcmalloc"
grep -qE '^  tcmalloc +observe +fence:off' <<<"$out" ||
	grep -qE '^  tcmalloc +advice ' <<<"$out" || fail "fence:off: no reason given"

out=$(PTRECLAIM_CONF=fence:maybe,fence_delay_ms:70000,fence_rate:0,fence_batch:513 "$cli" probe 2>&1 >/dev/null)
echo "$out"
for k in fence fence_delay_ms fence_rate fence_batch; do
	grep -q "ptreclaim: PTRECLAIM_CONF: $k: expected" <<<"$out" || fail "no complaint about a bad $k"
done
echo "conf: ok"
