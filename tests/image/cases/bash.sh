#!/bin/bash
# A bash script: arrays, associative arrays, process substitution,
# coprocesses, traps, subshell statuses, pipefail, mapfile, and a
# recursive function.  Deterministic.
set -u -o pipefail
trap 'echo "trap: exit $?"' EXIT
declare -A seen=()
words=(pear apple fig apple kiwi fig apple)
for w in "${words[@]}"; do seen[$w]=$(( ${seen[$w]:-0} + 1 )); done
for k in $(printf '%s\n' "${!seen[@]}" | sort); do echo "$k=${seen[$k]}"; done
mapfile -t lines < <(seq 5 -1 1)
echo "mapfile: ${lines[*]} (${#lines[@]})"
diff <(seq 1 5) <(seq 1 6); echo "diff -> $?"
coproc UPPER { while read -r l; do echo "${l^^}"; done; }
cin=${UPPER[1]} cout=${UPPER[0]}
echo "through a coprocess" >&"$cin"
read -r up <&"$cout"
echo "$up"
exec {cin}>&-
wait
fib() { (( $1 < 2 )) && { echo "$1"; return; }; echo $(( $(fib $(( $1 - 1 ))) + $(fib $(( $1 - 2 ))) )); }
echo "fib 12 = $(fib 12)"
big=$(head -c 3000000 /dev/zero | tr '\0' 'z')
echo "big: ${#big}"
unset big
false | true; echo "pipefail -> $?"
( exit 42 ); echo "subshell -> $?"
pids=()
for n in 1 2 3 4; do ( sleep 0.0$n; exit $n ) & pids+=($!); done
s=0; for j in "${pids[@]}"; do wait "$j"; s=$(( s + $? )); done; echo "jobs: $s"
echo "to stderr" >&2
exit 5
