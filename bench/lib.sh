# bench/lib.sh - what the benchmarks share, sourced by each (bash):
# where the allocators are, the build's programs, the median every table
# prints, the warm-up before a run.  tests/meson.build asks alloc_lib too,
# so benchmarks and tests find the allocator libraries the one same way.

# Debian's multiarch library directory, from the compiler's triplet
# (dpkg's where there is no compiler; x86-64 where there is neither).
alloc_libdir() {
	local t
	t=$(${CC:-cc} -print-multiarch 2>/dev/null) || t=
	[ -n "$t" ] || t=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null) || t=
	echo "/usr/lib/${t:-x86_64-linux-gnu}"
}

# The library that puts an allocator in front with LD_PRELOAD ("" for
# glibc, which is there anyway).  Debian's packages: libjemalloc2,
# libtcmalloc-minimal4, libmimalloc2.0.
alloc_lib() {
	case "$1" in
	glibc) echo "" ;;
	jemalloc) echo "$(alloc_libdir)/libjemalloc.so.2" ;;
	tcmalloc) echo "$(alloc_libdir)/libtcmalloc_minimal.so.4" ;;
	mimalloc) echo "$(alloc_libdir)/libmimalloc.so.2" ;;
	*) echo "${BENCH:-bench}: unknown allocator $1" >&2; return 2 ;;
	esac
}

# The allocators of a list whose library is installed, one a line; the
# others are named on stderr and left out.
alloc_present() {
	local a lib
	for a in $1; do
		lib=$(alloc_lib "$a") || return 2
		if [ -n "$lib" ] && [ ! -r "$lib" ]; then
			echo "${BENCH:-bench}: $lib missing; skipping $a" >&2
			continue
		fi
		echo "$a"
	done
}

# Fail with the command that builds, unless every FILE exists.
need_built() {	# BUILD_DIR FILE...
	local build=$1 f
	shift
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			echo "${BENCH:-bench}: $f not found; build first:" >&2
			echo "  meson setup $build && meson compile -C $build" >&2
			exit 1
		fi
	done
}

# Touch N MiB of free memory in huge pages, then free it.  In a VM whose
# balloon reports free pages to the host, memory idle for 2 s is handed
# back and the next touch of it pays a host fault per 4 KiB: warming it
# first keeps that cost out of whichever mode runs next.
touch_free() {	# MIB
	python3 - "$1" <<'PY'
import mmap, sys
n = int(sys.argv[1]) << 20
m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
if hasattr(mmap, "MADV_HUGEPAGE"):
    m.madvise(mmap.MADV_HUGEPAGE)
for off in range(0, n, 4096):
    m[off] = 1
m.close()
PY
}

# awk functions for the tables: med(list) is the median of the numbers in
# a blank-separated list (0 for an empty one).  Use: awk "$BENCH_AWK"'...'
BENCH_AWK='
function med(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	if (!n) return 0
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
'
