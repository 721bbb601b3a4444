#!/usr/bin/env bash
# Run the benchmark against the daemon in a build directory:
#   tests/bench/run.sh <build dir> [probe bench options...]
# The probe's bench starts (and stops) the daemon itself for each part, so it
# can switch polling modes and read the daemon's /proc entries. Results:
# table on stdout, copy in <build dir>/bench-results.txt.
set -euo pipefail

b=${1:?usage: $0 <build dir> [probe bench options]}
shift
b=$(cd "$b" && pwd)

for f in "$b/vhost-user-rtc" "$b/vhost-user-rtc-probe"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; run make first" >&2
		exit 1
	fi
done

# libvrtc on the host: vrtc_now() per call against a live status page, and
# the system calls it makes (counted by strace over 100000 and 1000 calls:
# the same count means none per call). Results in <build dir>/bench-vrtc.txt.
if [ -x "$b/vrtc-now" ]; then
	vd=$(mktemp -d)
	user=()
	if [ "$(id -u)" = 0 ] && ! getent passwd vhost-user-rtc >/dev/null; then
		user=(--user root) # it refuses to stay root unless asked
	fi
	"$b/vhost-user-rtc" --socket-path "$vd/bench.sock" "${user[@]}" \
		--vmclock-page "$vd/vmclock" >"$vd/daemon.log" 2>&1 &
	vpid=$!
	for _ in $(seq 1 50); do
		[ -S "$vd/bench.sock" ] && break
		sleep 0.1
	done
	sleep 1
	{
		echo "== libvrtc host side ($(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
		"$b/vrtc-now" --page "$vd/vmclock" --bench 1000000 || true
		if command -v strace >/dev/null; then
			for n in 100000 1000; do
				strace -f -c -o "$vd/strace.$n" "$b/vrtc-now" \
					--page "$vd/vmclock" --bench "$n" >/dev/null || true
				echo "system calls of a process making $n vrtc_now() calls: $(awk '/ total$/ { print $(NF-2) }' "$vd/strace.$n")"
			done
		fi
	} | tee "$b/bench-vrtc.txt"
	kill "$vpid" 2>/dev/null || true
	wait "$vpid" 2>/dev/null || true
	rm -rf "$vd"
fi

# 256 VMs need well over 1024 fds, in the daemon and in the bench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

# Live upgrade: the pause of service (the old process's image to the new
# one's first dispatch) over 20 upgrades through vhost-user-rtc-ctl, and
# crash recovery: SIGKILL to the answer of a READ made during the outage,
# over 20 SIGKILLs under the fd-store supervisor (restart at once), with
# 1, 64 and 256 VMs connected (all but 2 reading without pause, those 2
# with an alarm), by the integration test that checks them. Results in
# <build dir>/bench-upgrade.txt.
if [ -x "$b/tests/integration/test_upgrade" ]; then
	{
		echo "== live upgrade and crash recovery, 20 upgrades and 20 SIGKILLs each ($(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
		printf '  %-8s %12s %12s %12s %12s %16s\n' VMs "pause p50" "pause max" "kill p50" "kill max" "longest READ"
		for spec in 1:0 64:2 256:2; do
			vms=${spec%:*}
			al=${spec#*:}
			out=$(UPGRADE_VMS=$((vms - al)) UPGRADE_ALARMS=$al UPGRADE_COUNT=20 \
				CRASH_COUNT=20 VRTC_SUPERVISOR="$b/tests/fdstore-supervisor" \
				VRTC_DAEMON="$b/vhost-user-rtc" VRTC_CTL="$b/vhost-user-rtc-ctl" \
				"$b/tests/integration/test_upgrade" --jobs 1 --short-filename \
				--filter 'upgrade/vms*' 2>&1) || true
			p=$(grep -o 'pause of service [0-9.]* ms' <<<"$out" | awk '{print $4}' | sort -n)
			k=$(grep -o 'gap of service [0-9.]* ms' <<<"$out" | awk '{print $4}' | sort -n)
			if [ "$(wc -w <<<"$p")" -ne 20 ] || [ "$(wc -w <<<"$k")" -ne 20 ] ||
				! grep -q 'Passing: 1' <<<"$out"; then
				printf '  %-8s FAILED: %s\n' "$vms" "$(grep -m1 -A2 'Assertion' <<<"$out" | tr '\n' ' ')"
				continue
			fi
			printf '  %-8s %9s ms %9s ms %9s ms %9s ms %13s ms\n' "$vms" \
				"$(sed -n 10p <<<"$p")" "$(tail -n 1 <<<"$p")" \
				"$(sed -n 10p <<<"$k")" "$(tail -n 1 <<<"$k")" \
				"$(grep -o 'longest READ [0-9.]*' <<<"$out" | awk '{print $3}')"
		done
	} | tee "$b/bench-upgrade.txt"
fi

exec "$b/vhost-user-rtc-probe" bench --daemon "$b/vhost-user-rtc" \
	--out "$b/bench-results.txt" "$@"
