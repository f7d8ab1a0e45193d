# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# The global names of the version script MAP, sorted.
map_globals() {
	sed -e 's|/\*.*\*/||' "$1" | sed -n '/global:/,/local:/p' |
		grep -oE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' | tr -d ' \t;' | sort
}

# differ WHAT WANT HAVE: 0 if equal, else the difference and 1.
differ() {
	[ "$2" = "$3" ] && return 0
	echo "$1 (< the map, > the library):"
	diff <(echo "$2") <(echo "$3") | sed 's/^/  /'
	return 1
}

# check_exports LIBRARY MAP: `nm -D --defined-only` of LIBRARY is exactly
# the global names of the version script MAP.
check_exports() {
	differ "exports of $1 differ from $2" "$(map_globals "$2")" \
		"$(nm -D --defined-only "$1" | awk '{print $3}' | sort)"
}

# check_visibility ARCHIVE MAP: the symbols the shim's code defines with
# default visibility (PR_EXPORT: the API, the interposed functions) are
# exactly the map's, so a new interposer left out of the map (and so
# silently not interposed) fails here.
check_visibility() {
	differ "default-visibility symbols of $1 differ from $2" "$(map_globals "$2")" \
		"$(readelf -sW "$1" | awk '($5 == "GLOBAL" || $5 == "WEAK") &&
			$6 == "DEFAULT" && $7 != "UND" {print $8}' | sort -u)"
}
