#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# image-test.sh - the library in a base image's /etc/ld.so.preload.
#
# Two throwaway roots, both an overlay of the host's / (lowerdir=/, the
# upper layer on a tmpfs), each with fresh /proc, /dev and /sys, a tmpfs
# on /tmp and the build and source directories bind-mounted read-only at
# their own paths:
#   plain  /etc/ld.so.preload removed (a whiteout in the overlay)
#   image  /etc/ld.so.preload lists the library's absolute path
# Every case runs in the plain root, then in the image root, then in the
# image root with PTRECLAIM_CONF set to make the shim as busy as it gets
# (BUSY_CONF below, through the environment).  Stdout, stderr and the exit
# status must be identical byte for byte; any difference fails the test
# and is shown as a diff.  Each run enters its root through image_enter
# (static, so no preload of its own): a private mount namespace and
# pivot_root, as a container runtime does (chroot would make the kernel
# refuse `unshare -Ur`).
#
# Everything happens in a private mount and PID namespace (unshare(1)):
# when it ends, every process in it is killed and every mount is gone.
# The host's /etc/ld.so.preload is never written: its checksum (or its
# absence) is taken before and compared after, and the roots are checked
# to be overlays before anything is written into them.
#
# usage: image-test.sh LIBRARY IMAGE_ENTER SECCOMP_PURGE STATIC_HELLO SRCDIR
# exit: 0 all cases identical, 1 a difference (or a broken case), 77 this
# machine can't build the roots (not root, no unshare, no overlayfs...).
set -u

BUSY_CONF='fence:on,fence_scope:all,fence_delay_ms:0,fence_rate:1000000,fence_batch:512,advice_delay_ms:0,advice_rate:1000000,hint:on,hint_scope:all'
PATH_IN_ROOT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ $# -eq 5 ] || { echo "usage: $0 LIBRARY IMAGE_ENTER SECCOMP_PURGE STATIC_HELLO SRCDIR" >&2; exit 2; }
LIB=$(realpath -e "$1") || fail "no library $1"
ENTER=$(realpath -e "$2") || fail "no $2"
SECCOMP=$(realpath -e "$3") || fail "no $3"
STATIC=$(realpath -e "$4") || fail "no $4"
SRC=$(realpath -e "$5") || fail "no $5"
BUILD=$(dirname "$(dirname "$(dirname "$ENTER")")")   # build/tests/image/x

host_preload_state() {
	if [ -e /etc/ld.so.preload ] || [ -L /etc/ld.so.preload ]; then
		sha256sum /etc/ld.so.preload 2>&1
	else
		echo absent
	fi
}

# ---------------------------------------------------------------- outside
if [ -z "${PTRECLAIM_IMAGE_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "needs root (mount and PID namespaces, overlayfs)"
	for tool in unshare mount umount pivot_root timeout diff sha256sum; do
		command -v "$tool" >/dev/null || [ "$tool" = pivot_root ] ||
			skip "no $tool"
	done
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		true
	grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"
	unshare --mount --pid --fork true 2>/dev/null ||
		skip "unshare --mount --pid fails here"

	before=$(host_preload_state)
	echo "host /etc/ld.so.preload before: $before"
	work=$(mktemp -d /tmp/ptreclaim-image.XXXXXX) || fail "mktemp"
	mkdir "$work/rw" "$work/plain" "$work/image" || fail "mkdir in $work"

	finish() {
		local rc=$1 after
		after=$(host_preload_state)
		echo "host /etc/ld.so.preload after: $after"
		# Only empty mount points are left (the namespace took its
		# mounts with it): rmdir, never rm -r.
		rmdir "$work/rw" "$work/plain" "$work/image" "$work" ||
			{ echo "FAIL: $work not empty after the run"; rc=1; }
		if [ "$before" != "$after" ]; then
			echo "FAIL: the host's /etc/ld.so.preload changed during the test"
			rc=1
		fi
		exit $rc
	}
	PTRECLAIM_IMAGE_INNER=$work unshare --mount --propagation private \
		--pid --fork --kill-child -- "$0" "$@" &
	child=$!
	# Interrupted (meson's timeout): unshare ignores TERM, so kill it;
	# --kill-child takes its PID 1 and so the whole PID namespace (every
	# process) and the mount namespace with it.  Then check the host.
	trap 'echo "interrupted"; kill -KILL $child; wait $child; finish 1' INT TERM
	wait $child
	finish $?
fi

# ----------------------------------------------------------------- inside
# PID 1 of a new PID namespace, in a private mount namespace.
work=$PTRECLAIM_IMAGE_INNER
[ "$$" -eq 1 ] || fail "not in a PID namespace of its own"
# As PID 1 this shell gets only the signals it handles.  Exiting kills
# every process of the namespace.
trap 'echo "interrupted"; exit 1' INT TERM

mount -t tmpfs -o mode=0755,size=512m ptreclaim-image "$work/rw" ||
	skip "can't mount a tmpfs"

# Mount one root: an overlay of / with the special filesystems and the
# build and source directories.
make_root() {
	local name=$1 root=$work/$1 d
	mkdir "$work/rw/$name-upper" "$work/rw/$name-work" || return 1
	mount -t overlay "ptreclaim-$name" \
		-o "lowerdir=/,upperdir=$work/rw/$name-upper,workdir=$work/rw/$name-work" \
		"$root" || return 2
	[ "$(stat -f -c %T "$root")" = overlayfs ] || return 1
	[ "$(stat -f -c %T "$root/etc")" = overlayfs ] || return 1
	mount -t proc proc "$root/proc" &&
	mount --rbind /dev "$root/dev" &&
	mount --rbind /sys "$root/sys" &&
	mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/tmp" || return 1
	for d in "$BUILD" "$SRC" "$(dirname "$LIB")"; do
		mkdir -p "$root$d" &&
		mount --bind "$d" "$root$d" &&
		mount -o remount,bind,ro "$root$d" || return 1
	done
	# Neither root sees the host's preload list or configuration file,
	# whatever they hold; removing them in the overlay writes whiteouts
	# in the upper layer, never on the host.
	rm -f "$root/etc/ld.so.preload" "$root/etc/ptreclaim.conf" || return 1
}

make_root plain; r=$?
[ $r -eq 2 ] && skip "can't mount an overlay of / (overlayfs: lowerdir=/)"
[ $r -eq 0 ] || fail "can't build the plain root"
make_root image || fail "can't build the image root"

# The one write of a preload list: into the image root's upper layer.
[ "$(stat -f -c %T "$work/image/etc")" = overlayfs ] ||
	fail "$work/image/etc is not on the overlay"
echo "$LIB" > "$work/image/etc/ld.so.preload" || fail "write the image's preload list"
[ -f "$work/rw/image-upper/etc/ld.so.preload" ] ||
	fail "the preload list did not land in the overlay's upper layer"

out=$work/rw/out
mkdir "$out"

# run ROOT CONF NAME TIMEOUT COMMAND... : files $out/NAME.{out,err,rc}
run() {
	local root=$1 conf=$2 name=$3 t=$4
	shift 4
	local env=(env -i "PATH=$PATH_IN_ROOT" HOME=/root LC_ALL=C.UTF-8 TERM=dumb)
	[ -n "$conf" ] && env+=("PTRECLAIM_CONF=$conf")
	# In the background, so that a signal's trap runs at once.
	timeout -k 5 "$t" "${env[@]}" "$ENTER" "$work/$root" "$@" \
		> "$out/$name.out" 2> "$out/$name.err" < /dev/null &
	wait $!
	echo $? > "$out/$name.rc"
}

# ------------------------------------------------------- the roots work
run plain "" probe 30 /bin/true
[ "$(cat "$out/probe.rc")" = 0 ] ||
	skip "can't enter a root with pivot_root: $(cat "$out/probe.err")"

# The preload is live in the image root and absent from the plain one
# (otherwise every comparison below would be vacuous).
run image "" maps 30 /bin/cat /proc/self/maps
grep -qF "$LIB" "$out/maps.out" ||
	fail "the image root's preload is not in effect: $LIB not in a dynamic program's maps ($(cat "$out/maps.err"))"
run plain "" maps-plain 30 /bin/cat /proc/self/maps
grep -qF libptreclaim "$out/maps-plain.out" &&
	fail "the plain root has the library loaded"
echo "image root: $LIB mapped in /bin/cat through /etc/ld.so.preload"

# ------------------------------------------------------------- the cases
names=() ; declare -A tmo=() cmd=() expect=()
add() { names+=("$1"); tmo[$1]=$2; shift 2; cmd[${names[-1]}]=$(printf '%q ' "$@"); }

add shell      60 /bin/sh "$SRC/cases/shell.sh"
add bash       60 /bin/bash "$SRC/cases/bash.sh"
add coreutils  30 /bin/sh -c 'stat -c "%n %F %a" /bin /etc /usr/bin/env; readlink -f /bin/sh; du -s --apparent-size --block-size=1 /usr/share/doc/coreutils; df --output=fstype / | tail -n 1; uname -s; sha1sum /etc/debian_version; truncate -s 5M /tmp/f && cksum /tmp/f && shred -n 1 -u /tmp/f; test -e /tmp/f; echo "gone $?"'
add dpkg       30 dpkg --version
add dpkg-query 30 dpkg-query -W -f '${Package} ${Status}\n' dpkg coreutils libc6
add apt-get    30 apt-get --version
add python3    90 /usr/bin/python3 "$SRC/cases/python.py"
add redis     120 /bin/sh "$SRC/cases/redis.sh"
add setpriv    30 setpriv --reuid=65534 --regid=65534 --clear-groups id -u
add unshare    30 unshare -Ur id
add seccomp    60 "$SECCOMP"
add static     30 "$STATIC" one two
add static-3   30 "$STATIC"

# What the plain run itself must give, so that a broken case (or a
# machine that can't run it) is not taken for agreement.
expect[setpriv]='^65534$'
expect[unshare]='^uid=0\(root\) gid=0\(root\)'
expect[seccomp]='^seccomp-purge: 12 rounds under a TSYNC allow-list, 95 MiB purged in 64 KiB pieces, every byte checked$'
expect[static]='^static: hello from a statically linked binary, 2 arguments$'
expect[redis]='^redis-server exit 0$'
declare -A want_rc=([shell]=3 [bash]=5 [python3]=6 [static-3]=3 [dpkg]=0
	[dpkg-query]=0 [apt-get]=0 [redis]=0 [setpriv]=0 [unshare]=0
	[seccomp]=0 [static]=0 [coreutils]=0)

# Without user namespaces (even with no preload) the unshare case can't
# say anything.
run plain "" userns-probe 30 unshare -Ur true
userns_ok=1
if [ "$(cat "$out/userns-probe.rc")" != 0 ]; then
	userns_ok=0
	echo "note: 'unshare -Ur true' fails without the preload ($(cat "$out/userns-probe.err")): case unshare skipped"
fi

failed=() passed=() skipped=()
# " (SIGABRT)" for a status of 134, as a shell reports a killed process.
signame() { [ "$1" -gt 128 ] && [ "$1" -lt 160 ] && echo " (SIG$(kill -l $(($1 - 128))))"; }
show() { # file label
	echo "    --- $2"
	sed -n '1,40s/^/    | /p' "$1"
	[ "$(wc -l < "$1")" -le 40 ] || echo "    | ... ($(wc -l < "$1") lines)"
}

for n in "${names[@]}"; do
	if [ "$n" = unshare ] && [ $userns_ok = 0 ]; then
		skipped+=("$n"); continue
	fi
	eval "set -- ${cmd[$n]}"
	echo "== $n: $*"
	run plain "" "$n.plain" "${tmo[$n]}" "$@"
	prc=$(cat "$out/$n.plain.rc")
	if [ "$prc" = 124 ] || [ "$prc" = 137 ] || [ "$prc" = 125 ] ||
	   [ "$prc" != "${want_rc[$n]}" ] ||
	   { [ -n "${expect[$n]:-}" ] && ! grep -qE "${expect[$n]}" "$out/$n.plain.out"; }; then
		echo "   BROKEN without the preload: status $prc (want ${want_rc[$n]})"
		show "$out/$n.plain.out" stdout; show "$out/$n.plain.err" stderr
		failed+=("$n(broken-plain)")
		continue
	fi
	for cfg in image busy; do
		conf=; [ $cfg = busy ] && conf=$BUSY_CONF
		run image "$conf" "$n.$cfg" "${tmo[$n]}" "$@"
		irc=$(cat "$out/$n.$cfg.rc")
		d=
		[ "$irc" = "$prc" ] || d+=" status $prc -> $irc$(signame "$irc");"
		cmp -s "$out/$n.plain.out" "$out/$n.$cfg.out" || d+=" stdout differs;"
		cmp -s "$out/$n.plain.err" "$out/$n.$cfg.err" || d+=" stderr differs;"
		if [ -z "$d" ]; then
			echo "   ok   $cfg (status $irc)"
			passed+=("$n/$cfg")
			continue
		fi
		echo "   DIFF $cfg:$d"
		diff -u --label "stdout plain" --label "stdout $cfg" \
			"$out/$n.plain.out" "$out/$n.$cfg.out" | sed -n '1,40s/^/    /p'
		diff -u --label "stderr plain" --label "stderr $cfg" \
			"$out/$n.plain.err" "$out/$n.$cfg.err" | sed -n '1,40s/^/    /p'
		failed+=("$n/$cfg")
	done
done

echo
echo "passed: ${passed[*]:-none}"
[ ${#skipped[@]} -eq 0 ] || echo "skipped: ${skipped[*]}"
if [ ${#failed[@]} -ne 0 ]; then
	echo "FAIL: differs from the run without the preload: ${failed[*]}"
	exit 1
fi
echo "PASS: every case identical with the library in /etc/ld.so.preload"
exit 0
