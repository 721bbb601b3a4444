#!/usr/bin/env bash
# Check the systemd units offline (the daemon's and the guest agent's) (no running systemd needed): each
# template conf/*.service.in is filled in as make install does, with
# @BINDIR@ the built daemon's directory, then `systemd-analyze verify`
# (vhost-user-rtc@.service as the instance vm1), and the `systemd-analyze
# security` exposure score must not exceed a threshold. Any verify
# message is a failure.
#   contrib/verify-unit.sh DAEMON [MAX_EXPOSURE]
set -euo pipefail

daemon=$(realpath "$1")
max=${2:-5.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The daemon is looked up as @BINDIR@/vhost-user-rtc, the guest agent
# (built beside it) as @BINDIR@/vrtc-agent.
mkdir "$tmp/bin"
ln -s "$daemon" "$tmp/bin/vhost-user-rtc"
ln -s "$(dirname "$daemon")/vrtc-agent" "$tmp/bin/vrtc-agent"

for in in conf/vhost-user-rtc.service.in conf/vhost-user-rtc@.service.in \
	conf/vrtc-agent.service.in; do
	name=$(basename "$in" .in)
	unit=$tmp/${name/@./@vm1.}
	sed -e "s|@BINDIR@|$tmp/bin|g" -e 's|@SYSCONFDIR@|/etc|g' "$in" >"$unit"
	if grep -n '@[A-Z]*@' "$unit" >&2; then
		echo "$in: placeholder left unfilled" >&2
		exit 1
	fi
	out=$(systemd-analyze verify --man=no "$unit" 2>&1) || {
		echo "$out" >&2
		exit 1
	}
	if [ -n "$out" ]; then
		echo "systemd-analyze verify $in:" >&2
		echo "$out" >&2
		exit 1
	fi
	score=$(systemd-analyze security --offline=true "$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "$in: verify clean, exposure $score (max $max)"
	awk -v s="$score" -v m="$max" 'BEGIN { exit !(s != "" && s <= m) }'
done
