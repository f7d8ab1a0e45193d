# shellcheck shell=bash
# Shared helpers for the ptreclaim kernel test harness (sourced, not run).
#
# Environment:
#   PTRECLAIM_KCACHE   cache for kernel builds (default /var/cache/ptreclaim-kernel)
#   PTRECLAIM_KSRC     Debian source tarball (default /usr/src/linux-source-6.12.tar.xz)
#   PTRECLAIM_JOBS     make -j value (default 2)
#   PTRECLAIM_KEEP_TREE=1  keep the unpacked, built source tree in the cache

KT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KT_REPO=$(cd "$KT_DIR/../.." && pwd)
KT_PATCHES=$KT_REPO/kernel-patches
KT_FRAGMENT=$KT_DIR/config.fragment
# Merged on top for the patched flavours (the option is default n).
KT_FRAGMENT_PATCHED=$KT_DIR/config.patched
# The second configuration ("debug" flavour: KASAN, MMU_NOTIFIER, SWAP,
# BLOCK, IO_URING, KSM), with the test-only patches of debug-patches/ on
# top of the series (the negative control's knob).
KT_FRAGMENT_DEBUG=$KT_DIR/config.debug
KT_DEBUG_PATCHES=$KT_DIR/debug-patches
KT_CACHE=${PTRECLAIM_KCACHE:-/var/cache/ptreclaim-kernel}
KT_SRCPKG=linux-source-6.12
KT_TARBALL=${PTRECLAIM_KSRC:-/usr/src/linux-source-6.12.tar.xz}
KT_JOBS=${PTRECLAIM_JOBS:-2}
# Bump when the build recipe below changes in a way that changes the result.
KT_RECIPE=4

kt_log() { printf 'ktest: %s\n' "$*" >&2; }
kt_die() { printf 'ktest: error: %s\n' "$*" >&2; exit 125; }

# Debian packages the harness needs, as "command-or-file:package" pairs.
KT_NEEDS=(
	"$KT_TARBALL:$KT_SRCPKG"
	"quilt:quilt"
	"qemu-system-x86_64:qemu-system-x86"
	"gcc:gcc"
	"make:make"
	"flex:flex"
	"bison:bison"
	"bc:bc"
	"cpio:cpio"
	"pahole:dwarves"
	"/usr/include/libelf.h:libelf-dev"
	"/usr/include/openssl/ssl.h:libssl-dev"
	"/usr/lib/x86_64-linux-gnu/libc.a:libc6-dev"
	"xz:xz-utils"
	"perl:perl"
	"flock:util-linux"
	"timeout:coreutils"
	"sha256sum:coreutils"
	"ldd:libc-bin"
	"file:file"
)

kt_ensure_packages() {
	local need=() item what pkg
	for item in "${KT_NEEDS[@]}"; do
		what=${item%:*}
		pkg=${item##*:}
		if [[ $what == /* ]]; then
			[[ -e $what ]] && continue
		else
			command -v "$what" >/dev/null 2>&1 && continue
		fi
		need+=("$pkg")
	done
	((${#need[@]})) || return 0
	kt_log "installing missing Debian packages: ${need[*]}"
	if [[ $(id -u) != 0 ]]; then
		kt_die "missing packages ${need[*]} and not root: run apt-get install -y ${need[*]}"
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
		{ apt-get update >&2 &&
		  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2; } ||
		kt_die "apt-get install ${need[*]} failed"
}

kt_pkg_version() {
	dpkg-query -W -f='${Version}' "$KT_SRCPKG" 2>/dev/null || echo unknown
}

# kt_fragments FLAVOUR: the config fragments merged, in order.
kt_fragments() {
	echo "$KT_FRAGMENT"
	[[ $1 == stock ]] || echo "$KT_FRAGMENT_PATCHED"
	[[ $1 == debug ]] && echo "$KT_FRAGMENT_DEBUG"
	return 0
}

# kt_patches FLAVOUR: the patches applied, in order.
kt_patches() {
	local p dir dirs=()
	[[ $1 == stock ]] && return 0
	dirs=("$KT_PATCHES")
	[[ $1 == debug ]] && dirs+=("$KT_DEBUG_PATCHES")
	for dir in "${dirs[@]}"; do
		while read -r p _; do
			[[ -z $p || $p == \#* ]] && continue
			echo "$dir/$p"
		done <"$dir/series"
	done
}

# Print the cache key for a "patched", "stock" or "debug" kernel.
kt_hash() {
	local flavour=$1 p f
	{
		echo "recipe $KT_RECIPE flavour $flavour pkg $(kt_pkg_version)"
		if [[ $flavour == stock ]]; then
			cat "$KT_FRAGMENT"
		else
			echo "apply: quilt push --fuzz=0"
			while read -r f; do cat "$f"; done < <(kt_fragments "$flavour")
			while read -r p; do
				echo "== ${p##*/}"
				cat "$p"
			done < <(kt_patches "$flavour")
		fi
	} | sha256sum | cut -c1-16
}

# kt_build patched|stock: make sure the kernel is built; print its cache dir.
kt_build() {
	local flavour=$1 hash dir tmp src
	kt_ensure_packages
	hash=$(kt_hash "$flavour")
	dir=$KT_CACHE/$flavour-$hash
	if [[ -f $dir/bzImage ]]; then
		echo "$dir"
		return 0
	fi
	mkdir -p "$KT_CACHE" || kt_die "cannot create $KT_CACHE"
	# One kernel build at a time on this machine.
	exec 8>"$KT_CACHE/.build.lock"
	flock 8
	if [[ -f $dir/bzImage ]]; then
		exec 8>&-
		echo "$dir"
		return 0
	fi
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	kt_log "building $flavour kernel into $dir (log: $tmp/build.log)"
	local t0=$SECONDS
	# Not a "set -e" subshell: errexit is ignored inside "( ... ) ||".
	(
		fail() { echo "ktest build: $*"; exit 1; }
		tar -xf "$KT_TARBALL" -C "$tmp" || fail "cannot unpack $KT_TARBALL"
		src=$tmp/linux-source-6.12
		cd "$src" || fail "no $src"
		if [[ $flavour != stock ]]; then
			mkdir -p "$tmp/patches"
			kt_patches "$flavour" >"$tmp/patches/list"
			while read -r p; do
				cp "$p" "$tmp/patches/" || fail "cannot copy $p"
				echo "${p##*/}"
			done <"$tmp/patches/list" >"$tmp/patches/series"
			# No fuzz: every patch must apply as git am would.
			QUILT_PATCHES=$tmp/patches QUILT_PC=.pc quilt push -a -q --fuzz=0 ||
				fail "the series does not apply"
		fi
		make -s ARCH=x86_64 tinyconfig || fail "make tinyconfig"
		local frags
		mapfile -t frags < <(kt_fragments "$flavour")
		scripts/kconfig/merge_config.sh -m -O . .config "${frags[@]}" >/dev/null ||
			fail "merge_config.sh"
		make -s ARCH=x86_64 olddefconfig || fail "make olddefconfig"
		# Every option the fragments set must have survived.
		local line missing=0
		while read -r line; do
			case $line in
			CONFIG_*=n) grep -qx "# ${line%=n} is not set" .config || { echo "config: $line did not stick"; missing=1; } ;;
			CONFIG_*) grep -qxF "$line" .config || { echo "config: $line did not stick"; missing=1; } ;;
			esac
		done < <(cat "${frags[@]}")
		if [[ $flavour != stock ]]; then
			grep -qx CONFIG_RECLAIM_PT=y .config || { echo "config: CONFIG_RECLAIM_PT not enabled"; missing=1; }
		fi
		((missing == 0)) || fail "configuration incomplete"
		make ARCH=x86_64 -j"$KT_JOBS" bzImage || fail "make bzImage"
		cp arch/x86/boot/bzImage .config System.map vmlinux "$tmp/" ||
			fail "cannot copy the build results"
		if [[ $flavour != stock ]]; then
			gcc -static -O2 -Wall -pthread -o "$tmp/reclaim_pt_selftest" \
				tools/testing/selftests/mm/reclaim_pt.c ||
				fail "cannot build the selftest"
		fi
		echo "$flavour $(kt_pkg_version)" >"$tmp/version"
	) >"$tmp/build.log" 2>&1 || {
		tail -n 40 "$tmp/build.log" >&2
		kt_die "building the $flavour kernel failed (full log: $tmp/build.log)"
	}
	if [[ ${PTRECLAIM_KEEP_TREE:-0} != 1 ]]; then
		# Deleting a built tree takes a minute here: do it in the
		# background.
		local trash
		trash=$(mktemp -d "$KT_CACHE/.trash.XXXXXX")
		mv "$tmp/linux-source-6.12" "$trash/"
		(rm -rf "$trash" &) >/dev/null 2>&1 </dev/null
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
	kt_log "built $flavour kernel in $((SECONDS - t0)) s"
	exec 8>&-
	echo "$dir"
}
