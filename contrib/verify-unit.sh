#!/usr/bin/env bash
# Check conf/vhost-user-rtc@.service offline (no running systemd needed):
# `systemd-analyze verify` on an instance of it whose ExecStart points at
# the built daemon, then print the `systemd-analyze security` exposure
# score and fail above a threshold. Any verify message is a failure.
#   contrib/verify-unit.sh DAEMON [MAX_EXPOSURE]
set -euo pipefail

daemon=$(realpath "$1")
max=${2:-5.0}
unit=conf/vhost-user-rtc@.service
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sed "s|/usr/local/bin/vhost-user-rtc|$daemon|g" "$unit" \
	>"$tmp/vhost-user-rtc@vm1.service"
out=$(systemd-analyze verify --man=no "$tmp/vhost-user-rtc@vm1.service" 2>&1) || {
	echo "$out" >&2
	exit 1
}
if [ -n "$out" ]; then
	echo "systemd-analyze verify $unit:" >&2
	echo "$out" >&2
	exit 1
fi
score=$(systemd-analyze security --offline=true \
	"$tmp/vhost-user-rtc@vm1.service" 2>&1 |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "$unit: verify clean, exposure $score (max $max)"
awk -v s="$score" -v m="$max" 'BEGIN { exit !(s != "" && s <= m) }'
