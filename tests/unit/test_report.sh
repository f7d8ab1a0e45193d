#!/usr/bin/env bash
# Unit test: the report at exit and the configuration file, in real
# processes under `ptreclaim run`.
# Usage: test_report.sh PTRECLAIM-BINARY REPORT-PROG
# The configuration file is a temporary one, named by PTRECLAIM_CONF_FILE:
# /etc/ptreclaim.conf is never written.
set -u
cli=$(realpath "$1") prog=$(realpath "$2")
fail=0
bad() { echo "FAIL $*"; fail=1; }
dir=$(mktemp -d /tmp/ptreclaim-report.XXXXXX)
trap 'rm -rf "$dir"' EXIT
export PTRECLAIM_CONF_FILE=$dir/none.conf	# absent: nothing read
unset PTRECLAIM_CONF

# stats_file with %p from a forking program: the parent and the child that
# purged write their own files; the child that never purged writes none.
out=$("$cli" run --conf "stats_file:$dir/r-%p.log" -- "$prog" fork) || bad "fork: status $?"
eval "$out"	# parent= purger= idle=
for p in "${parent:-x}" "${purger:-x}"; do
	grep -q "^ptreclaim: summary pid=$p " "$dir/r-$p.log" 2>/dev/null ||
		bad "fork: no report of $p in its file ($out)"
done
[ -e "$dir/r-${idle:-x}.log" ] && bad "fork: the child that never purged wrote a report"
[ "$(ls "$dir" | grep -c '^r-')" = 2 ] || bad "fork: report files: $(ls "$dir")"
[ "$(stat -c %a "$dir/r-$parent.log" 2>/dev/null)" = 600 ] || bad "fork: report file mode is not 0600"

# A daemon: the parent forks and exits (no report: it only forked); the
# child purges and exits later, and its report is in its own file.
"$cli" run --stats --conf="stats_file:$dir/d-%p.log" -- "$prog" daemon "$dir/daemon.pid" \
	>/dev/null 2>&1 || bad "daemon: status $?"
for _ in $(seq 100); do [ -s "$dir/daemon.pid" ] && break; sleep 0.1; done
dpid=$(cat "$dir/daemon.pid" 2>/dev/null)
for _ in $(seq 100); do grep -qs '^ptreclaim: shim_time_ns=' "$dir/d-$dpid.log" && break; sleep 0.1; done
grep -qs "^ptreclaim: summary pid=$dpid " "$dir/d-$dpid.log" || bad "daemon: no report in d-$dpid.log"
[ "$(ls "$dir" | grep -c '^d-')" = 1 ] || bad "daemon: report files: $(ls "$dir")"

# A report into a pipe nobody reads: the writes fail, the status is the
# command's, not 141 (SIGPIPE).  The command prints a line, head takes it
# and exits, and only then does the command exit and report.
"$cli" run --stats -- "$prog" pipe 7 2>&1 | head -1 >/dev/null
st=${PIPESTATUS[0]}
[ "$st" = 7 ] || bad "report into a closed pipe: status $st, expected 7"

# A file that cannot be opened: one line, no report, the status stays.
out=$("$cli" run --conf stats_file:/nonexistent/dir/r-%p -- false 2>&1)
st=$?
[ "$st" = 1 ] || bad "unopenable stats_file: status $st"
case "$out" in "ptreclaim: stats_file /nonexistent/dir/r-%p: No such file or directory; no report") ;;
	*) bad "unopenable stats_file: $out";; esac
out=$("$cli" run --conf stats_file:rel-%p -- true 2>&1)
case "$out" in "ptreclaim: PTRECLAIM_CONF: stats_file: expected an absolute path"*) ;;
	*) bad "relative stats_file: $out";; esac

# The configuration file: applied; comments, line ends and blanks; the
# environment overrides it; a bad key names the file, once.
conf=$dir/ptreclaim.conf
printf '# ptreclaim, for the test\n  stats:1   # the summary\n\nprofile_top:5,hint:off\n' >"$conf"
out=$(PTRECLAIM_CONF_FILE=$conf "$cli" run -- true 2>&1)
grep -q '^ptreclaim: summary pid=' <<<"$out" || bad "conf file: stats:1 not applied: $out"
grep -q '^ptreclaim: hint' <<<"$out" && bad "conf file: hint:off not applied: $out"
out=$(PTRECLAIM_CONF_FILE=$conf PTRECLAIM_CONF=stats:0 "$cli" run -- true 2>&1)
[ -z "$out" ] || bad "conf file: the environment does not override it: $out"
printf 'stats:1\nbogus:1\n' >"$conf"
out=$(PTRECLAIM_CONF_FILE=$conf "$cli" run -- true 2>&1)
[ "$(grep -c "^ptreclaim: $conf: bogus: unknown key" <<<"$out")" = 1 ] ||
	bad "conf file: bad key not named once with the file: $out"
grep -q '^ptreclaim: summary pid=' <<<"$out" || bad "conf file: a bad key stopped the rest: $out"
out=$(PTRECLAIM_CONF_FILE=$dir "$cli" run -- true 2>&1)
[ -z "$out" ] || bad "conf file: a directory is not silently ignored: $out"

[ $fail -eq 0 ] && echo ok
exit $fail
