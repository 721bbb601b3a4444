#!/usr/bin/env bash
# Makes BUILD_DIR/eval-chrony/eval-chrony-live.png and .csv (the plot in
# contrib/plots/ is one such run): the daemon following a real
# chronyd, evaluated with the live bound from its control socket.
#
#   tests/bench/eval-chrony.sh [BUILD_DIR] [SECONDS]     (root; chrony installed)
#
# A pair of chronyd -x on loopback (a "local stratum 8" server and a client
# polling it every 1/16 s; -x: neither touches the host clock), the daemon
# started at the same moment with --chrony (the client) and no system-clock
# fallback, and vhost-user-rtc-probe eval reading UTC, TAI and smeared UTC
# against CLOCK_TAI with --control, so the plot shows the status from the
# first second: unknown/initializing while chronyd synchronises, then
# synchronized, and the bound the daemon published for every sample.
set -euo pipefail
B=$(readlink -f "${1:-build}")
DUR=${2:-120}
OUT=$B/eval-chrony
mkdir -p "$OUT"
chronyd=$(command -v chronyd || echo /usr/sbin/chronyd)
[ -x "$chronyd" ] || { echo "chronyd is not installed (apt-get install chrony)" >&2; exit 1; }
for t in vhost-user-rtc vhost-user-rtc-probe vhost-user-rtc-ctl; do
	[ -x "$B/$t" ] || { echo "no $B/$t: build first (make)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/vrtc-eval-chrony.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/server.conf" <<CONF
port 11123
bindaddress 127.0.0.1
local stratum 8
allow 127.0.0.1
cmdport 0
bindcmdaddress $dir/server.sock
pidfile $dir/server.pid
CONF
cat >"$dir/client.conf" <<CONF
server 127.0.0.1 port 11123 iburst minpoll -4 maxpoll -4
port 0
cmdport 0
bindcmdaddress $dir/client.sock
pidfile $dir/client.pid
CONF
"$chronyd" -n -x -u root -f "$dir/server.conf" >"$dir/server.log" 2>&1 &
pids+=($!)
"$chronyd" -n -x -u root -f "$dir/client.conf" >"$dir/client.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	[ -S "$dir/client.sock" ] && break
	sleep 0.1
done

"$B/vhost-user-rtc" --socket-path "$dir/vm.sock" --control-socket "$dir/vm.ctl" \
	--chrony --chrony-socket "$dir/client.sock" --system-clock off \
	--user root >"$dir/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	[ -S "$dir/vm.ctl" ] && break
	sleep 0.1
done

"$B/vhost-user-rtc-probe" eval --socket "$dir/vm.sock" --control "$dir/vm.ctl" \
	--ref-clock tai --duration "$DUR" --rate 20 \
	--csv "$OUT/eval-chrony-live.csv" --plot "$OUT/eval-chrony-live.png"
echo
# (exits 1 or 2 when the model is not synchronized: shown, not a failure)
"$B/vhost-user-rtc-ctl" --socket "$dir/vm.ctl" status || true
