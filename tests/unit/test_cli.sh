#!/usr/bin/env bash
# Unit test: the launcher.  Usage: test_cli.sh PTRECLAIM-BINARY JEMALLOC-LIB
# (any library path will do for JEMALLOC-LIB: it is only passed along)
set -u
cli=$(realpath "$1") je=$2
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

# Where ld.so would run the command without the shim, run refuses: exit 1,
# one line, the command not run.
lib=$(cd "$(dirname "$cli")/../shim" && pwd)/libptreclaim.so
tmp=$(mktemp -d /tmp/ptreclaim-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/a b" "$tmp/a:b" && cp "$lib" "$tmp/a b/" && cp "$lib" "$tmp/a:b/"
: >"$tmp/empty.so"
refused() { # name PTRECLAIM_LIB expected-words
	local out st
	out=$(PTRECLAIM_LIB=$2 "$cli" run -- sh -c 'echo ran' 2>&1); st=$?
	check "$1" 1 $st
	case "$out" in *"$3"*) ;; *) echo "FAIL $1: $out"; fail=1;; esac
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || { echo "FAIL $1: not one line: $out"; fail=1; }
}
refused "space in the library path" "$tmp/a b/libptreclaim.so" "contains a blank"
refused "colon in the library path" "$tmp/a:b/libptreclaim.so" "contains a colon"
refused "library is a text file" /etc/passwd "is not an ELF file"
refused "library is a directory" "$tmp" "is a directory"
refused "library is empty" "$tmp/empty.so" "is empty"
refused "library is a program" /bin/true "is a program, not a shared library"

# A relative PTRECLAIM_LIB is made absolute: a command that changes
# directory still has the shim (its children too).
out=$(cd "$(dirname "$lib")" && PTRECLAIM_LIB=./libptreclaim.so "$cli" run -- \
	sh -c 'cd / && echo "$LD_PRELOAD" && exec cat /proc/self/maps' 2>&1)
check "relative library" 0 $?
case "$(head -1 <<<"$out")" in "$lib"*) ;; *) echo "FAIL relative library not absolute: $(head -1 <<<"$out")"; fail=1;; esac
grep -q 'libptreclaim.so$' <<<"$out" || { echo "FAIL relative library: not loaded after cd"; fail=1; }

# A static command runs, without the shim, and run says so.
static=$(command -v ldconfig || echo /sbin/ldconfig)
if [ -x "$static" ] && ! grep -q interpreter <(file -L "$static" 2>/dev/null) && command -v file >/dev/null; then
	out=$(PATH=/usr/sbin:/sbin:$PATH "$cli" run -- ldconfig -p 2>&1 >/dev/null); check "static command" 0 $?
	case "$out" in *"is statically linked"*"ptreclaim sweep"*) ;;
		*) echo "FAIL static command: no warning: $out"; fail=1;; esac
fi
out=$("$cli" run -- true 2>&1)
[ -z "$out" ] || { echo "FAIL dynamic command warned: $out"; fail=1; }

# --conf=VALUE; a missing value is a usage error (exit 2, two lines).
out=$("$cli" run --conf=stats:1 -- true 2>&1); check "--conf=VALUE" 0 $?
grep -q '^ptreclaim: summary pid=' <<<"$out" || { echo "FAIL --conf=stats:1 not applied: $out"; fail=1; }
out=$(PTRECLAIM_CONF=stats:0 "$cli" run --stats -- true 2>&1)
grep -q '^ptreclaim: summary pid=' <<<"$out" || { echo "FAIL --stats does not override the environment"; fail=1; }
usage_error() { # name args...
	local name=$1 out st; shift
	out=$("$cli" "$@" 2>&1); st=$?
	check "$name" 2 $st
	case "$out" in *"needs a value"*|*"bad pid"*) ;; *) echo "FAIL $name: $out"; fail=1;; esac
	grep -q '^usage: ptreclaim ' <<<"$out" || { echo "FAIL $name: no usage line: $out"; fail=1; }
}
usage_error "--conf before --" run --conf -- true
usage_error "--conf at the end" run --conf
usage_error "--conf= empty" run --conf= -- true
usage_error "sweep --pid without a value" sweep --pid
usage_error "sweep --pid too large" sweep --pid 99999999999999
usage_error "sweep --pid=0" sweep --pid=0

# sweep: usage errors; on a kernel without the advice, one clear line.
"$cli" sweep 2>/dev/null; check "sweep without target" 2 $?
"$cli" sweep --pid 1 --all 2>/dev/null; check "sweep with two targets" 2 $?
"$cli" sweep --pid x 2>/dev/null; check "sweep bad pid" 2 $?
"$cli" sweep --empty-only 2>/dev/null; check "sweep --empty-only without target" 2 $?
out=$("$cli" sweep --empty-only --lazy --pid 1 2>&1); check "sweep unknown option" 2 $?
case "$out" in "ptreclaim sweep: unknown option --lazy"*"usage: ptreclaim sweep [--empty-only] --pid PID | --all"*) ;;
	*) echo "FAIL sweep unknown option: $out"; fail=1;; esac
if [ ! -e /sys/kernel/mm/reclaim_pt/advice ]; then
	out=$("$cli" sweep --pid $$ 2>&1); check "sweep without the advice" 1 $?
	case "$out" in "ptreclaim sweep: this kernel offers no MADV_RECLAIM_PT"*) ;;
		*) echo "FAIL sweep without the advice: $out"; fail=1;; esac
	[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] ||
		{ echo "FAIL sweep error is not one line: $out"; fail=1; }
	out=$("$cli" sweep --empty-only --pid $$ 2>&1); check "sweep --empty-only without the advice" 1 $?
	case "$out" in "ptreclaim sweep: this kernel offers no MADV_RECLAIM_PT"*) ;;
		*) echo "FAIL sweep --empty-only without the advice: $out"; fail=1;; esac
fi

[ $fail -eq 0 ] && echo ok
exit $fail
