# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# check_exports LIBRARY MAP: `nm -D --defined-only` of LIBRARY is exactly
# the global names of the version script MAP; prints the difference.
check_exports() {
	local want have
	want=$(sed -e 's|/\*.*\*/||' "$2" | sed -n '/global:/,/local:/p' |
		grep -oE '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' | tr -d ' \t;' | sort)
	have=$(nm -D --defined-only "$1" | awk '{print $3}' | sort)
	[ "$want" = "$have" ] && return 0
	echo "exports of $1 differ from $2:"
	diff <(echo "$want") <(echo "$have") | sed 's/^/  /'
	return 1
}
