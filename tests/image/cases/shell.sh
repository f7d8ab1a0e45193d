#!/bin/sh
# A POSIX shell script (run by /bin/sh, dash) over coreutils: pipelines,
# subshells, command substitution, here-documents, background jobs, a
# multi-threaded sort, stderr and non-zero statuses.  Deterministic.
set -u
tmp=$(mktemp -d /tmp/shell.XXXXXX)
cd "$tmp" || exit 9

for i in 3 1 2; do echo "line $i"; done | sort | tr 'a-z' 'A-Z'
seq 1 200000 > nums
wc -l < nums
sha256sum nums | cut -d' ' -f1
# sort with two threads over a few MB (coreutils' sort spawns them).
seq 1 300000 | sed 's/$/ x/' | sort -k1,1 -r --parallel=2 -S 16M | md5sum | cut -d' ' -f1
tac nums | head -n 3
awk 'NR % 50000 == 0 { s += $1 } END { print "awk", s }' nums 2>/dev/null ||
	echo "awk missing"
printf '%s|%5d|%x\n' word 42 255
echo "$(( 6 * 7 )) $(expr 10 / 3) $(basename /a/b/c.txt .txt) $(dirname /a/b/c.txt)"
cat <<DOC | base64 | base64 -d | od -c | head -n 2
here-document $(echo subst)
DOC
date -u -d @0 '+%Y-%m-%d %H:%M:%S'
( cd / && ls -d etc usr ) | paste -sd, -
(sleep 0.2; echo background one) & (echo background two > bg2) &
wait
cat bg2
yes ab | head -c 1000000 | uniq -c | sed 's/^ *//'
split -l 70000 nums part. && ls part.* | tr '\n' ' ' && echo
cat part.* | cmp - nums && echo "split and join agree"
id -u; id -gn
env -i /usr/bin/env
false; echo "false -> $?"
ls /nonexistent-ptreclaim-image; echo "ls -> $?"
nosuch-command-ptreclaim 2>&1; echo "missing command -> $?"
cd / && rm -rf "$tmp"
exit 3
