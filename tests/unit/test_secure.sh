#!/usr/bin/env bash
# Unit test: AT_SECURE ignores PTRECLAIM_CONF and the configuration file.  Needs root to make a setuid
# copy and setpriv to drop to nobody; skips (77) otherwise.
set -u
prog=$1
[ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null || { echo "skip: needs root and setpriv"; exit 77; }
dir=$(mktemp -d /var/tmp/ptreclaim-secure.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$prog" "$dir/secure" && chmod 4755 "$dir/secure" && chmod 755 "$dir"
plain=$(PTRECLAIM_CONF=stats:1 "$prog")
secure=$(PTRECLAIM_CONF=stats:1 setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/secure") ||
	{ echo "skip: cannot run setuid here (nosuid mount?)"; exit 77; }
echo "plain: $plain / setuid: $secure"
[ "$plain" = "secure=0 stats=1" ] && [ "$secure" = "secure=1 stats=0" ] || exit 1
# The configuration file too (a test file: PTRECLAIM_CONF_FILE, which a
# setuid process ignores as well; /etc/ptreclaim.conf is never written).
printf 'stats:1\n' >"$dir/ptreclaim.conf" && chmod 644 "$dir/ptreclaim.conf"
plain=$(PTRECLAIM_CONF_FILE=$dir/ptreclaim.conf "$prog")
secure=$(PTRECLAIM_CONF_FILE=$dir/ptreclaim.conf setpriv --reuid=65534 --regid=65534 --clear-groups "$dir/secure")
echo "file: plain: $plain / setuid: $secure"
[ "$plain" = "secure=0 stats=1" ] && [ "$secure" = "secure=1 stats=0" ]
