#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# install-test.sh - `meson install --destdir`: the versioned library and
# its links, ptreclaim.pc, the header, the man pages and the completion;
# the library exports exactly shim/libptreclaim.map's list, which is
# every symbol the shim's code gives default visibility; a program
# builds against the installed copy with `pkg-config --cflags --libs
# ptreclaim` alone and runs.
#
# usage: install-test.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1 SRC=$2
fail() { echo "FAIL: $*"; exit 1; }
. "$SRC/tests/package/exports.sh"

dest=$(mktemp -d /tmp/ptreclaim-install.XXXXXX) || fail mktemp
trap 'rm -rf "$dest"' EXIT
meson install -C "$BUILD" --no-rebuild --destdir "$dest" >"$dest.log" 2>&1 ||
	{ cat "$dest.log"; rm -f "$dest.log"; fail "meson install"; }
rm -f "$dest.log"
prefix=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; o={x["name"]:x["value"] for x in json.load(sys.stdin)}; print(o["prefix"]); print(o["libdir"]); print(o["mandir"]); print(o["datadir"])')
{ read -r pfx; read -r libdir; read -r mandir; read -r datadir; } <<<"$prefix"
[[ $libdir = /* ]] || libdir=$pfx/$libdir
[[ $mandir = /* ]] || mandir=$pfx/$mandir
[[ $datadir = /* ]] || datadir=$pfx/$datadir
L=$dest$libdir
for f in "$L/libptreclaim.so.0.1.0" "$L/libptreclaim.so.0" "$L/libptreclaim.so" \
	 "$L/pkgconfig/ptreclaim.pc" "$dest$pfx/include/ptreclaim.h" \
	 "$dest$pfx/bin/ptreclaim" "$dest$mandir/man1/ptreclaim.1" \
	 "$dest$mandir/man3/libptreclaim.3" \
	 "$dest$datadir/bash-completion/completions/ptreclaim"; do
	[ -e "$f" ] || fail "not installed: ${f#"$dest"}"
done
echo "ok   installed: library, links, .pc, header, program, man pages, completion"

soname=$(objdump -p "$L/libptreclaim.so.0.1.0" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = libptreclaim.so.0 ] || fail "SONAME $soname"
[ "$(readlink "$L/libptreclaim.so")" = libptreclaim.so.0 ] || fail "libptreclaim.so -> $(readlink "$L/libptreclaim.so")"
echo "ok   SONAME libptreclaim.so.0; libptreclaim.so -> libptreclaim.so.0"

check_exports "$L/libptreclaim.so.0.1.0" "$SRC/shim/libptreclaim.map" || fail "exports"
check_visibility "$BUILD/shim/libptreclaim_core.a" "$SRC/shim/libptreclaim.map" ||
	fail "shim/libptreclaim.map does not list every PR_EXPORT symbol"
echo "ok   exports: $(nm -D --defined-only "$L/libptreclaim.so.0.1.0" | wc -l) symbols, the map's list"

# Every key of the table is in the man page (it is generated from it).
man=$dest$mandir/man3/libptreclaim.3
keys=$("$BUILD/tests/unit/test_config_readme" | sed -n 's/^| `\([a-z_]*\)` |.*/\1/p')
[ -n "$keys" ] || fail "no keys from test_config_readme"
for k in $keys; do
	grep -q "^\\\\fB$k\\\\fR$" "$man" || fail "libptreclaim(3) lacks the key $k"
done
man -l "$man" >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "man cannot format libptreclaim(3)"
echo "ok   libptreclaim(3) lists the $(wc -w <<<"$keys") keys"

# The bash completion: commands, and PTRECLAIM_CONF's keys after --conf
# (bash-completion's _init_completion stood in for).
complete_line() {
	bash -c '. "$0"
		_init_completion() { words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
			cur=${words[cword]}; prev=${words[cword-1]}; }
		read -ra COMP_WORDS <<<"$1"; COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_ptreclaim; echo "${COMPREPLY[*]}"' \
		"$dest$datadir/bash-completion/completions/ptreclaim" "$1"
}
[ "$(complete_line 'ptreclaim st')" = stat ] || fail "completion of 'ptreclaim st': $(complete_line 'ptreclaim st')"
[ "$(complete_line 'ptreclaim run --conf fence_')" = "fence_scope: fence_delay_ms: fence_rate: fence_batch:" ] ||
	fail "completion of 'ptreclaim run --conf fence_': $(complete_line 'ptreclaim run --conf fence_')"
echo "ok   bash completion: commands, and the key table's keys after --conf"

# pkg-config alone: the .pc of the destdir, its paths under the destdir.
export PKG_CONFIG_PATH=$L/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs ptreclaim) || fail "pkg-config"
# shellcheck disable=SC2086
cc -o "$dest/hello" "$SRC/tests/package/hello.c" $flags || fail "cc hello.c $flags"
out=$(LD_LIBRARY_PATH=$L "$dest/hello") || fail "hello: $out"
grep -q '^ptreclaim api 1: ' <<<"$out" || fail "hello printed: $out"
LD_LIBRARY_PATH=$L ldd "$dest/hello" | grep -q "libptreclaim.so.0 => $L/libptreclaim.so.0" ||
	fail "hello does not link libptreclaim.so.0: $(ldd "$dest/hello")"
echo "ok   cc hello.c \$(pkg-config --cflags --libs ptreclaim): $flags; runs"
echo "PASS"
