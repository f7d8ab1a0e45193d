#!/bin/sh
# redis-server (Debian's, on jemalloc) on a Unix socket in /tmp, no
# persistence: SET/GET, a Lua loop that fills 50,000 keys, FLUSHALL,
# SHUTDOWN.  The server's log is printed without its pid and timestamps.
# Every wait is bounded.
set -u
dir=$(mktemp -d /tmp/redis.XXXXXX)
sock=$dir/sock
redis-server --port 0 --unixsocket "$sock" --save '' --appendonly no \
	--loglevel warning --logfile "$dir/log" --dir "$dir" &
pid=$!
n=0
until redis-cli -s "$sock" PING >/dev/null 2>&1; do
	n=$((n + 1))
	if [ $n -gt 300 ]; then
		echo "redis: no answer in 30 s"; kill -9 $pid; exit 1
	fi
	sleep 0.1
done
cli() { redis-cli -s "$sock" "$@"; }
cli SET k v
cli GET k
cli EVAL "for i=1,50000 do redis.call('SET','key:'..i,string.rep('x',200+i%300)) end return 1" 0
cli DBSIZE
cli STRLEN key:777
cli FLUSHALL SYNC
cli DBSIZE
cli GET k
cli SET k v2
cli GET k
cli SHUTDOWN NOSAVE
wait $pid
echo "redis-server exit $?"
sed -E 's/^[0-9]+:([A-Z]) [0-9]+ [A-Za-z]+ [0-9]+ [0-9:.]+ /\1 /; s/pid=[0-9]+/pid=N/' "$dir/log"
rm -rf "$dir"
