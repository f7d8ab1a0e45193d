#!/usr/bin/env bash
# Unit test: the launcher.  Usage: test_cli.sh PTRECLAIM-BINARY JEMALLOC-LIB
# (any library path will do for JEMALLOC-LIB: it is only passed along)
set -u
cli=$1 je=$2
fail=0
check() { # name expected-status actual-status
	if [ "$2" != "$3" ]; then echo "FAIL $1: status $3, expected $2"; fail=1; fi
}

"$cli" run --stats -- sh -c 'exit 7' 2>/dev/null; check "exit status passes" 7 $?
out=$("$cli" run --stats -- true 2>&1); check "true" 0 $?
grep -q '^ptreclaim: vmpte_kb start=' <<<"$out" || { echo "FAIL --stats printed no summary"; fail=1; }

out=$("$cli" run -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
case "$out" in *libptreclaim.so*) ;; *) echo "FAIL shim not in LD_PRELOAD: $out"; fail=1;; esac

out=$(LD_PRELOAD=$je "$cli" run -- sh -c 'echo "$LD_PRELOAD"' 2>&1)
case "$out" in *libptreclaim.so:"$je") ;;
	*) echo "FAIL existing LD_PRELOAD dropped: $out"; fail=1;; esac

"$cli" run -- /nonexistent/command 2>/dev/null; check "missing command" 127 $?
out=$(PTRECLAIM_LIB=/nonexistent.so "$cli" run -- true 2>&1); check "missing library" 1 $?
grep -q "cannot read PTRECLAIM_LIB" <<<"$out" || { echo "FAIL no clear error: $out"; fail=1; }
"$cli" run 2>/dev/null; check "no command" 2 $?
"$cli" frobnicate 2>/dev/null; check "unknown command" 2 $?
"$cli" --help >/dev/null; check "help" 0 $?

out=$(PTRECLAIM_CONF=nosuchkey:1 "$cli" run -- true 2>&1); check "bad conf still runs" 0 $?
grep -q "nosuchkey: unknown key" <<<"$out" || { echo "FAIL bad key not named: $out"; fail=1; }

# sweep: usage errors; on a kernel without the advice, one clear line.
"$cli" sweep 2>/dev/null; check "sweep without target" 2 $?
"$cli" sweep --pid 1 --all 2>/dev/null; check "sweep with two targets" 2 $?
"$cli" sweep --pid x 2>/dev/null; check "sweep bad pid" 2 $?
if [ ! -e /sys/kernel/mm/reclaim_pt/advice ]; then
	out=$("$cli" sweep --pid $$ 2>&1); check "sweep without the advice" 1 $?
	case "$out" in "ptreclaim sweep: this kernel offers no MADV_RECLAIM_PT"*) ;;
		*) echo "FAIL sweep without the advice: $out"; fail=1;; esac
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] ||
		{ echo "FAIL sweep error is not one line: $out"; fail=1; }
fi

[ $fail -eq 0 ] && echo ok
exit $fail
