#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deploy-test.sh - the deployment examples of examples/deploy/, exercised:
#   container  the Containerfile's steps applied to a throwaway root (an
#              overlay of /): the library and program where the package
#              puts them, its COPY steps, its RUN step (install-preload);
#              then in that root a dynamic program maps the library with
#              no word from ld.so, `ptreclaim probe` runs under the preload,
#              and a purging program reads /etc/ptreclaim.conf (its report
#              lands in the file the configuration names)
#   systemd    the drop-in (on a sample service) and the metrics timer and
#              service, checked by `systemd-analyze verify` in that root,
#              warnings included; skipped if systemd-analyze is missing
# The host is never written: everything happens in the overlay.
#
# usage: deploy-test.sh LIBRARY PTRECLAIM IMAGE_ENTER REPORT_PROG DEPLOY_DIR COMMON_DIR
# exit: 0 pass, 1 fail, 77 no root/overlayfs here.
set -u

[ $# -eq 6 ] || { echo "usage: $0 LIBRARY PTRECLAIM IMAGE_ENTER REPORT_PROG DEPLOY_DIR COMMON_DIR" >&2; exit 2; }
LIB=$(realpath -e "$1") && CLI=$(realpath -e "$2") && ENTER=$(realpath -e "$3") &&
PROG=$(realpath -e "$4") && DEPLOY=$(realpath -e "$5") ||
	{ echo "FAIL: missing argument file"; exit 1; }
# shellcheck source=../common/overlay.sh
. "$6/overlay.sh"

overlay_begin "$@"

LIBDIR=/usr/lib/x86_64-linux-gnu
overlay_root image "$(dirname "$PROG")" || fail "can't build the root"
R=$work/image

# --- the Containerfile, step by step.  Its COPY and RUN lines must be
# the ones done here (a recipe changed without this test fails it).
CF=$DEPLOY/container/Containerfile
for line in 'COPY ptreclaim.conf /etc/ptreclaim.conf' \
	    'COPY install-preload /usr/local/sbin/install-preload' \
	    '/usr/local/sbin/install-preload'; do
	grep -qF "$line" "$CF" || fail "the Containerfile has no step '$line'"
done
# The package's step: its library and program (as the .deb installs them).
install -m 644 "$LIB" "$R$LIBDIR/libptreclaim.so.0.1.0" &&
ln -sf libptreclaim.so.0.1.0 "$R$LIBDIR/libptreclaim.so.0" &&
install -m 755 "$CLI" "$R/usr/bin/ptreclaim" || fail "install into the root"
in_root image ldconfig || fail "ldconfig in the root"
# COPY
install -m 644 "$DEPLOY/container/ptreclaim.conf" "$R/etc/ptreclaim.conf" &&
install -m 755 "$DEPLOY/container/install-preload" "$R/usr/local/sbin/install-preload" ||
	fail "COPY"
# RUN (twice: it must not list the library twice)
out=$(in_root image /usr/local/sbin/install-preload 2>&1) || fail "install-preload: $out"
echo "$out"
in_root image /usr/local/sbin/install-preload >/dev/null 2>&1 || fail "install-preload, again"
[ "$(cat "$R/etc/ld.so.preload")" = "$LIBDIR/libptreclaim.so.0" ] ||
	fail "/etc/ld.so.preload: $(cat "$R/etc/ld.so.preload")"
[ -f "$work/image.upper/etc/ld.so.preload" ] || fail "the preload list is not in the overlay"
# A library ld.so can't load is refused, and nothing is listed.
cp "$R/etc/ld.so.preload" "$work/preload.before"
in_root image /usr/local/sbin/install-preload /etc/hostname >/dev/null 2>&1 &&
	fail "install-preload took a file that is no library"
cmp -s "$R/etc/ld.so.preload" "$work/preload.before" || fail "a refused library was listed"
echo "ok   container: the recipe applied; /etc/ld.so.preload lists $LIBDIR/libptreclaim.so.0"

# --- the image at work.
out=$(in_root image cat /proc/self/maps 2>"$work/err")
grep -qF "$LIBDIR/libptreclaim.so.0" <<<"$out" || fail "cat does not map the library"
[ ! -s "$work/err" ] || fail "cat under the preload wrote: $(cat "$work/err")"
echo "ok   container: a dynamic program maps the library, ld.so says nothing"

out=$(in_root image ptreclaim probe 2>&1) || fail "ptreclaim probe in the image: $out"
grep -q jemalloc <<<"$out" || fail "ptreclaim probe printed: $out"
echo "ok   container: ptreclaim probe under the preload"

# /etc/ptreclaim.conf is read: its report file, for a purging program.
echo 'stats_file:/tmp/ptreclaim-%p.log' >> "$R/etc/ptreclaim.conf"
out=$(in_root image "$PROG" fork 2>"$work/err") || fail "report_prog: $(cat "$work/err")"
[ ! -s "$work/err" ] || fail "a program in the image complained: $(cat "$work/err")"
parent=${out#parent=}; parent=${parent%% *}
grep -q 'mode=' "$R/tmp/ptreclaim-$parent.log" 2>/dev/null ||
	fail "no report in /tmp/ptreclaim-$parent.log ($out): /etc/ptreclaim.conf not read"
echo "ok   container: a purging program under the preload; /etc/ptreclaim.conf's report file written"

# --- systemd units, checked where systemd would read them.
if ! in_root image sh -c 'command -v systemd-analyze' >/dev/null 2>&1; then
	echo "SKIP systemd: no systemd-analyze"
	exit 0
fi
U=$R/etc/systemd/system
mkdir -p "$U/ptreclaim-example.service.d" || fail "mkdir"
cat > "$U/ptreclaim-example.service" <<'UNIT'
[Unit]
Description=a service for the ptreclaim drop-in
[Service]
ExecStart=/bin/sleep 1
DynamicUser=yes
UNIT
install -m 644 "$DEPLOY/systemd/ptreclaim.conf" "$U/ptreclaim-example.service.d/" &&
install -m 644 "$DEPLOY/systemd/ptreclaim-stat.service" "$DEPLOY/systemd/ptreclaim-stat.timer" "$U/" ||
	fail "install the units"
for unit in ptreclaim-example.service ptreclaim-stat.service ptreclaim-stat.timer; do
	out=$(in_root image systemd-analyze verify --man=no "/etc/systemd/system/$unit" 2>&1)
	rc=$?
	# Warnings about other units of this machine are not ours.
	mine=$(grep -E 'ptreclaim|^/etc/systemd/system/ptreclaim' <<<"$out")
	if [ $rc -ne 0 ] || [ -n "$mine" ]; then
		fail "systemd-analyze verify $unit (status $rc): $out"
	fi
	echo "ok   systemd: systemd-analyze verify $unit"
done
# The drop-in is the service's: systemd reads its environment.
env=$(grep '^Environment=' "$DEPLOY/systemd/ptreclaim.conf")
grep -q "LD_PRELOAD=$LIBDIR/libptreclaim.so.0" <<<"$env" &&
[ -e "$R$LIBDIR/libptreclaim.so.0" ] || fail "the drop-in's LD_PRELOAD is not the installed library"
echo "PASS: the deployment examples"
exit 0
