#!/bin/bash
# noperm.sh - the fence without permission, as an unprivileged user:
#   1. vm.unprivileged_userfaultfd=0, /dev/userfaultfd root-only: only
#      user-mode-only userfaultfd, so the shim observes and reports why,
#      and `ptreclaim probe` says so;
#   2. /dev/userfaultfd opened to everyone (chmod 0666): full mode through
#      the device, and the fence works for the unprivileged user;
#   3. vm.unprivileged_userfaultfd=1: full mode by the system call.
# The sysctl and the device's mode are restored whatever happens.
# Needs root (to switch user and to change the settings); else skipped.
# usage: noperm.sh SHIM CLI NOPERM_PROG LAZY_PROG FENCE_CONF
set -u
shim=$1 cli=$2 noperm=$3 lazy=$4 fconf=$5

[ "$(id -u)" = 0 ] || { echo "noperm: not root; skipping"; exit 77; }
command -v setpriv >/dev/null || { echo "noperm: no setpriv; skipping"; exit 77; }
sysctl=/proc/sys/vm/unprivileged_userfaultfd
dev=/dev/userfaultfd
[ -w "$sysctl" ] || { echo "noperm: $sysctl not writable; skipping"; exit 77; }

old_sysctl=$(cat "$sysctl")
old_mode=$( [ -e "$dev" ] && stat -c %a "$dev" )
restore() {
	echo "$old_sysctl" >"$sysctl"
	[ -n "$old_mode" ] && chmod "$old_mode" "$dev"
}
trap restore EXIT
trap 'exit 1' INT TERM

as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		--bounding-set=-all "$@"
}
fail() { echo "noperm: FAIL: $*"; exit 1; }
# The fence program, as nobody, works and the fence opened windows.
fence_works() {	# HOW
	as_nobody env LD_PRELOAD="$shim" PTRECLAIM_CONF=stats:1,$fconf "$lazy" \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	cat "$tmp/out" "$tmp/err"
	[ $rc = 0 ] || fail "the fence $1 failed ($rc)"
	grep -q 'ptreclaim: fence state=stopped windows=[1-9]' "$tmp/err" ||
		fail "no fence window $1"
}

tmp=$(mktemp -d); chmod 755 "$tmp"
trap 'restore; rm -rf "$tmp"' EXIT
for f in "$shim" "$cli" "$noperm" "$lazy"; do
	as_nobody test -r "$f" || { echo "noperm: nobody can't read $f; skipping"; exit 77; }
done

echo 0 >"$sysctl"
[ -n "$old_mode" ] && chmod 0600 "$dev"

echo "== 1. no permission: user-mode-only userfaultfd"
as_nobody "$cli" probe | tee "$tmp/probe"
grep -q 'userfaultfd  *user-mode-only' "$tmp/probe" || fail "probe did not find user-mode-only"
grep -qE '^  tcmalloc +observe +userfaultfd is user-mode-only' "$tmp/probe" ||
	fail "probe would not observe for tcmalloc"
as_nobody "$cli" probe --json | grep -q '"mode":"user-mode-only"' ||
	fail "probe --json disagrees"
as_nobody env LD_PRELOAD="$shim" PTRECLAIM_CONF=stats:1,$fconf "$noperm" \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
cat "$tmp/out" "$tmp/err"
[ $rc = 0 ] || fail "the program failed ($rc)"
grep -q 'ptreclaim: summary .* mode=observe' "$tmp/err" || fail "report: mode is not observe"
grep -q 'ptreclaim: fence state=unavailable reason="userfaultfd is user-mode-only' "$tmp/err" ||
	fail "report does not say why"

if [ -n "$old_mode" ]; then
	echo "== 2. chmod 0666 $dev: full userfaultfd through the device"
	chmod 0666 "$dev"
	as_nobody "$cli" probe | tee "$tmp/probe"
	grep -q 'userfaultfd  *full via /dev/userfaultfd' "$tmp/probe" ||
		fail "probe did not find /dev/userfaultfd"
	fence_works "through /dev/userfaultfd"
else
	echo "== 2. no $dev here: not tried"
fi
echo "== 3. vm.unprivileged_userfaultfd=1: full userfaultfd by the system call"
[ -n "$old_mode" ] && chmod 0600 "$dev"
echo 1 >"$sysctl"
as_nobody "$cli" probe | tee "$tmp/probe"
grep -q 'userfaultfd  *full via syscall (vm.unprivileged_userfaultfd=1)' "$tmp/probe" ||
	fail "probe did not find full mode by the sysctl"
fence_works "with vm.unprivileged_userfaultfd=1"

echo "noperm: ok (restoring vm.unprivileged_userfaultfd=$old_sysctl${old_mode:+, $dev mode $old_mode})"
