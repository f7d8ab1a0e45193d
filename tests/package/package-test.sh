#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# package-test.sh - the Debian packages, built and installed for real:
#   1. dpkg-buildpackage -b -us -uc in a copy of the source tree;
#      dpkg -c lists the library, program, man pages, completion,
#      examples (ptreclaim) and header, .pc, dev link (libptreclaim-dev)
#   2. in a throwaway root (an overlay of /, tests/common/overlay.sh):
#      dpkg -i both; the installed library exports exactly
#      shim/libptreclaim.map's list; `ptreclaim probe` runs; `ptreclaim run`
#      finds the installed libptreclaim.so.0 and a program runs under it;
#      LD_PRELOAD=libptreclaim.so.0 by name; a program builds with
#      pkg-config alone; man finds both pages
#   3. dpkg -r, then dpkg --purge: every file of both packages is gone and
#      dpkg knows neither
# Nothing is written to the host: the build runs on a tmpfs of the test's
# own mount namespace, the install in the overlay.
#
# usage: package-test.sh SOURCE_DIR IMAGE_ENTER
# exit: 0 pass, 1 fail, 77 no dpkg-buildpackage/debhelper, root or overlayfs.
set -u
[ $# -eq 2 ] || { echo "usage: $0 SOURCE_DIR IMAGE_ENTER" >&2; exit 2; }
SRC=$(realpath -e "$1") && ENTER=$(realpath -e "$2") || { echo "FAIL: arguments"; exit 1; }
# shellcheck source=../common/overlay.sh
. "$SRC/tests/common/overlay.sh"
. "$SRC/tests/package/exports.sh"

for tool in dpkg-buildpackage dh fakeroot; do
	command -v $tool >/dev/null || skip "no $tool (./scripts/install-deps --package)"
done
missing=$(cd "$SRC" && dpkg-checkbuilddeps 2>&1) ||
	skip "build dependencies missing: $missing"

overlay_begin "$@"

# --- 1. build, in a copy of the tracked (or, outside git, all) files.
mkdir "$work/src" || fail mkdir
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$SRC" ls-files -co --exclude-standard -z |
		(cd "$SRC" && tar --null -cf - -T -) | tar -xf - -C "$work/src"
else
	(cd "$SRC" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$work/src"
fi || fail "copy the source"
log=$work/build.log
(cd "$work/src" && nice dpkg-buildpackage -b -us -uc) >"$log" 2>&1 ||
	{ tail -n 40 "$log"; fail "dpkg-buildpackage -b -us -uc"; }
ver=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
RT=$work/ptreclaim_${ver}_$arch.deb DEV=$work/libptreclaim-dev_${ver}_$arch.deb
[ -f "$RT" ] && [ -f "$DEV" ] || fail "no packages: $(ls "$work")"
echo "ok   dpkg-buildpackage: $(basename "$RT") $(basename "$DEV")"

L=/usr/lib/$multi
want_rt="./usr/bin/ptreclaim .$L/libptreclaim.so.0.1.0 .$L/libptreclaim.so.0
./usr/share/man/man1/ptreclaim.1.gz ./usr/share/man/man3/libptreclaim.3.gz
./usr/share/bash-completion/completions/ptreclaim
./usr/share/doc/ptreclaim/examples/systemd/ptreclaim.conf
./usr/share/doc/ptreclaim/examples/systemd/ptreclaim-stat.timer
./usr/share/doc/ptreclaim/examples/container/Containerfile"
want_dev="./usr/include/ptreclaim.h .$L/libptreclaim.so .$L/pkgconfig/ptreclaim.pc"
for pair in "$RT:$want_rt" "$DEV:$want_dev"; do
	deb=${pair%%:*}
	list=$(dpkg -c "$deb" | awk '{print $6}')
	for f in ${pair#*:}; do
		grep -qxF "$f" <<<"$list" || fail "$(basename "$deb") lacks $f"
	done
done
dpkg -c "$DEV" | grep -q "libptreclaim.so -> libptreclaim.so.0$" || fail "the dev link"
echo "ok   dpkg -c: the library, program, man pages, completion, examples; header, .pc, dev link"

# --- 2. install into a throwaway root.
overlay_root pkg || fail "can't build the root"
R=$work/pkg
cp "$RT" "$DEV" "$SRC/tests/package/hello.c" "$R/tmp/" || fail "copy into the root"
out=$(in_root pkg dpkg -i "/tmp/$(basename "$RT")" "/tmp/$(basename "$DEV")" 2>&1) ||
	fail "dpkg -i: $out"
echo "ok   dpkg -i ptreclaim libptreclaim-dev"
[ "$(in_root pkg dpkg-query -W -f '${Status}' ptreclaim)" = "install ok installed" ] ||
	fail "ptreclaim not installed"

check_exports "$R$L/libptreclaim.so.0" "$SRC/shim/libptreclaim.map" || fail "exports"
echo "ok   nm -D --defined-only: the map's list"

out=$(in_root pkg ptreclaim probe 2>&1) || fail "ptreclaim probe: $out"
grep -q jemalloc <<<"$out" || fail "ptreclaim probe printed: $out"
echo "ok   ptreclaim probe"

out=$(in_root pkg ptreclaim run --stats -- python3 -c 'print(open("/proc/self/maps").read())' 2>"$work/err") ||
	fail "ptreclaim run: $(cat "$work/err")"
grep -qF "$L/libptreclaim.so.0" <<<"$out" ||
	fail "ptreclaim run did not preload $L/libptreclaim.so.0: $(grep ptreclaim <<<"$out") $(cat "$work/err")"
grep -q 'mode=' "$work/err" || fail "no report from ptreclaim run --stats: $(cat "$work/err")"
echo "ok   ptreclaim run --stats -- python3: the installed library, its report"

out=$(in_root pkg env LD_PRELOAD=libptreclaim.so.0 cat /proc/self/maps 2>&1)
grep -qF "$L/libptreclaim.so.0" <<<"$out" || fail "LD_PRELOAD=libptreclaim.so.0: $out"
echo "ok   LD_PRELOAD=libptreclaim.so.0 cat"

out=$(in_root pkg sh -c 'cd /tmp && cc -o hello hello.c $(pkg-config --cflags --libs ptreclaim) && ./hello' 2>&1) ||
	fail "pkg-config build: $out"
grep -q '^ptreclaim api 1: ' <<<"$out" || fail "hello: $out"
echo "ok   cc hello.c \$(pkg-config --cflags --libs ptreclaim) && ./hello"

if in_root pkg sh -c 'command -v man' >/dev/null; then
	for page in 1:ptreclaim 3:libptreclaim; do
		in_root pkg man -w "${page%%:*}" "${page#*:}" >/dev/null 2>&1 ||
			fail "man ${page%%:*} ${page#*:} not found"
	done
	echo "ok   man 1 ptreclaim, man 3 libptreclaim"
fi

# --- 3. remove and purge.
files=$(in_root pkg dpkg -L ptreclaim libptreclaim-dev | grep -v '^/usr$\|^/usr/[a-z]*$\|^/\.$')
out=$(in_root pkg dpkg -r libptreclaim-dev ptreclaim 2>&1) || fail "dpkg -r: $out"
out=$(in_root pkg dpkg --purge libptreclaim-dev ptreclaim 2>&1) || fail "dpkg --purge: $out"
left=
for f in $files; do
	[ -d "$R$f" ] && [ -e "/$f" ] && continue	# a directory of the host's
	[ -e "$R$f" ] || [ -L "$R$f" ] && left+=" $f"
done
[ -z "$left" ] || fail "left after dpkg --purge:$left"
in_root pkg dpkg-query -W ptreclaim >/dev/null 2>&1 && fail "dpkg still knows ptreclaim"
in_root pkg cat /proc/self/maps | grep -q libptreclaim && fail "the library is still loaded"
echo "ok   dpkg -r and --purge: every file gone"
echo "PASS"
exit 0
