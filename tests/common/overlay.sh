# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# overlay.sh - throwaway roots for the deploy and package tests: overlays of
# the host's / (lowerdir=/, the upper layer on a tmpfs) with fresh /proc,
# /dev, /sys and /tmp, inside a private mount and PID namespace, so that
# every mount and process is gone when the test ends and nothing is
# written to the host.  tests/image/image-test.sh builds its roots the same
# way.  Source it, then:
#
#   overlay_begin "$@"      re-runs the calling script in the namespaces
#                           (root and overlayfs needed, else exit 77); in
#                           there it returns, with $work a scratch directory
#   overlay_root NAME DIR... mount root $work/NAME, DIRs bound read-only
#   in_root NAME CMD...     run CMD with NAME as its root (pivot_root, by
#                           $ENTER, the static image_enter), a clean
#                           environment plus $ROOT_ENV
#
# The caller sets ENTER (the image_enter program) first.

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

ROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ROOT_ENV=()

overlay_begin() {
	if [ -n "${PTRECLAIM_OVERLAY_INNER:-}" ]; then
		work=$PTRECLAIM_OVERLAY_INNER
		[ "$$" -eq 1 ] || fail "not in a PID namespace of its own"
		trap 'echo "interrupted"; exit 1' INT TERM
		mount -t tmpfs -o mode=0755,size=1g ptreclaim-overlay "$work" ||
			skip "can't mount a tmpfs"
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || skip "needs root (mount and PID namespaces, overlayfs)"
	command -v unshare >/dev/null || skip "no unshare"
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
	grep -qw overlay /proc/filesystems || skip "no overlayfs in this kernel"
	unshare --mount --pid --fork true 2>/dev/null ||
		skip "unshare --mount --pid fails here"
	local dir rc child
	dir=$(mktemp -d /tmp/ptreclaim-overlay.XXXXXX) || fail "mktemp"
	PTRECLAIM_OVERLAY_INNER=$dir unshare --mount --propagation private \
		--pid --fork --kill-child -- "$0" "$@" &
	child=$!
	# unshare ignores TERM: kill it, and its PID namespace goes with it.
	trap 'echo "interrupted"; kill -KILL $child; wait $child; rmdir "$dir"; exit 1' INT TERM
	wait $child
	rc=$?
	# The namespace took its mounts with it: an empty directory is left.
	rmdir "$dir" || { echo "FAIL: $dir not empty after the run"; rc=1; }
	exit $rc
}

overlay_root() {
	local name=$1 root=$work/$1 d
	shift
	mkdir -p "$work/$name.upper" "$work/$name.work" "$root" || return 1
	mount -t overlay "ptreclaim-$name" \
		-o "lowerdir=/,upperdir=$work/$name.upper,workdir=$work/$name.work" \
		"$root" || skip "can't mount an overlay of / (overlayfs: lowerdir=/)"
	[ "$(stat -f -c %T "$root/etc")" = overlayfs ] || return 1
	mount -t proc proc "$root/proc" &&
	mount --rbind /dev "$root/dev" &&
	mount --rbind /sys "$root/sys" &&
	mount -t tmpfs -o mode=1777,size=256m tmpfs "$root/tmp" || return 1
	for d in "$@"; do
		mkdir -p "$root$d" &&
		mount --bind "$d" "$root$d" &&
		mount -o remount,bind,ro "$root$d" || return 1
	done
	# The host's preload list and configuration stay out of the root.
	rm -f "$root/etc/ld.so.preload" "$root/etc/ptreclaim.conf"
}

in_root() {
	local root=$work/$1
	shift
	env -i "PATH=$ROOT_PATH" HOME=/root LC_ALL=C.UTF-8 TERM=dumb \
		"${ROOT_ENV[@]}" "$ENTER" "$root" "$@" < /dev/null
}
