#!/usr/bin/env bash
# End-to-end test of live migration with stock QEMU 11.1, which marks
# vhost-user-rtc unmigratable: unplug, migrate, plug
# (`vhost-user-rtc-ctl migrate`).
#
#   tests/e2e/migrate.sh /abs/path/to/vhost-user-rtc   (the ctl beside it)
#
# Two "hosts" on this one: for each, a fake gpsd (the host's
# CLOCK_REALTIME as UTC) and a daemon with its own socket and status
# page. The source QEMU boots the guest with our device behind a
# pcie-root-port (native PCIe hotplug; the guest kernel is the e2e one
# plus guest-kernel-hotplug.config) and the page's ivshmem-plain behind
# another, plus QEMU's built-in virtio-rtc-pci as the reference; the
# destination QEMU has the same command line without our two devices, and
# -incoming. The guest (vrtc-guest migrate) reads our UTC PHC and libvrtc
# against the reference in a loop; at its marker the host runs the ctl,
# which unplugs, migrates and plugs on the destination. The guest reports
# the gap, the readings' containment and the clocks' names; this script
# adds the ctl's outcome and QEMU's query-migrate blocked-reasons with the
# device plugged.
#
# Environment: VRTC_CACHE, VRTC_E2E_KEEP=1 (keep the work directory),
# VRTC_E2E_TIMEOUT (limit for each QEMU, s, default 300),
# VRTC_E2E_MIGRATE (B,A,L: guest reads B s before the migration, A s after
# the device is back, gives up L s after it went; default 8,10,120),
# VRTC_E2E_MIGRATE_FAIL=1 (the failure path: the ctl migrates to a URI
# nobody listens on, and must put the devices back on the source, where
# the guest reads on).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] && [ "${1#-}" = "$1" ] ||
	{ echo "usage: $0 /abs/path/to/vhost-user-rtc" >&2; exit 2; }
DAEMON=$(readlink -f "$1")
CTL=$(dirname "$DAEMON")/vhost-user-rtc-ctl
[ -x "$DAEMON" ] || e2e_die "no executable daemon at $1"
[ -x "$CTL" ] || e2e_die "no $CTL (run make)"
TIMEOUT=${VRTC_E2E_TIMEOUT:-300}
MIGRATE=${VRTC_E2E_MIGRATE:-8,10,120}
FAIL=${VRTC_E2E_MIGRATE_FAIL:-0}
T_START=$(date +%s)

e2e_log "migration test: daemon $DAEMON"
e2e_prepare_migrate
e2e_workdir migrate
e2e_log "initramfs: $(du -k "$INITRAMFS" | cut -f1) KiB"

# Everything of the second host, and both QEMUs, on exit.
GPSD_B_PID=
DAEMON_B_PID=
mig_cleanup() {
	local rc=$? f
	for f in src.pid dst.pid; do
		[ ! -s "$WORK/$f" ] || kill -KILL "$(cat "$WORK/$f")" 2>/dev/null || true
	done
	for f in "$DAEMON_B_PID" "$GPSD_B_PID"; do
		[ -n "$f" ] || continue
		kill -KILL "$f" 2>/dev/null || true
		wait "$f" 2>/dev/null || true
	done
	(exit $rc)
	e2e_cleanup
}
trap mig_cleanup EXIT

# --- the two hosts' daemons ---------------------------------------------------

mkdir -p "$WORK/a" "$WORK/b"
e2e_start_fakegpsd "$WORK/b"
GPSD_B_PID=$FAKEGPSD_PID
e2e_start_daemon "$DAEMON" "$WORK/b/vrtc.sock" "$WORK/b/daemon.log" \
	--gpsd "127.0.0.1:$GPSD_PORT" --system-clock off --sync-interval-ms 1000
DAEMON_B_PID=$DAEMON_PID
e2e_start_fakegpsd "$WORK/a"
e2e_start_daemon "$DAEMON" "$WORK/a/vrtc.sock" "$WORK/a/daemon.log" \
	--gpsd "127.0.0.1:$GPSD_PORT" --system-clock off --sync-interval-ms 1000
for h in a b; do
	m=$(e2e_wait_log "$WORK/$h/daemon.log" ': model [a-z]+, bound' 20) ||
		e2e_die "daemon $h made no model from its fake gpsd within 20 s"
	e2e_log "daemon $h: ${m#*Z: }"
done

# --- the two QEMUs --------------------------------------------------------------

khz=$("$WORK/initramfs.d/bin/vrtc-guest" hosttsc 2>/dev/null) || khz=
APPEND="console=ttyS0 panic=-1 ${khz:+tsc_early_khz=$khz tsc=reliable }vrtc.mode=migrate vrtc.ref=0000:00:05.0 vrtc.migrate=$MIGRATE"
# shellcheck disable=SC2054 # commas inside QEMU options
common=(
	-nodefaults -no-user-config
	-accel tcg -machine q35,memory-backend=mem -m 256M -smp 1
	-object memory-backend-memfd,id=mem,size=256M,share=on
	# native PCIe hotplug on the root ports (the guest has no ACPI)
	-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
	-device pcie-root-port,id=rp1,chassis=1,slot=1,addr=04.0
	-device pcie-root-port,id=rp2,chassis=2,slot=2,addr=06.0
	-device virtio-rtc-pci,addr=05.0
	-kernel /vrtc/bzImage -initrd /vrtc/initramfs.gz -append "$APPEND"
	-display none -monitor none -no-reboot
)
# shellcheck disable=SC2054
ours=(
	-chardev socket,id=vrtc,path=/vrtc/a/vrtc.sock
	-device vhost-user-rtc-pci,id=vrtc0,chardev=vrtc,bus=rp1,addr=00.0
	-object memory-backend-file,id=vrtcpage,mem-path=/vrtc/a/vrtc.vmclock,size=4096,share=on,readonly=on
	-device ivshmem-plain,id=vrtcpage0,memdev=vrtcpage,bus=rp2,addr=00.0
)

# qemu_bg NAME ARGS...: QEMU from the chroot in the background, its
# output in WORK/qemu-NAME.log; sets QPID (the namespace's shell).
qemu_bg() {
	local name=$1
	shift
	: >"$WORK/console-$name.log"
	e2e_in_chroot "$CHROOT" "$WORK:/vrtc" -- \
		timeout --kill-after=5 "$TIMEOUT" qemu-system-x86_64 "$@" \
		-serial "file:/vrtc/console-$name.log" \
		-pidfile "/vrtc/$name.pid" \
		-qmp "unix:/vrtc/$name.qmp,server=on,wait=off" \
		</dev/null >"$WORK/qemu-$name.log" 2>&1 &
	QPID=$!
}

wait_file() { # PATH LIMIT_S
	local _
	for _ in $(seq 1 $(($2 * 10))); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

T_BOOT=$(date +%s)
qemu_bg src "${common[@]}" "${ours[@]}"
SRC_BG=$QPID
qemu_bg dst "${common[@]}" -incoming unix:/vrtc/mig.sock
DST_BG=$QPID
wait_file "$WORK/src.qmp" 30 || e2e_die "the source QEMU has no QMP socket: $(cat "$WORK/qemu-src.log")"
wait_file "$WORK/dst.qmp" 30 || e2e_die "the destination QEMU has no QMP socket: $(cat "$WORK/qemu-dst.log")"
e2e_log "qemu: source and destination (-incoming unix:/vrtc/mig.sock) started"

# --- the migration, at the guest's marker -------------------------------------------

ready=
for _ in $(seq 1 $((TIMEOUT * 2))); do
	if grep -aq '^VRTC-E2E-MARK migrate-ready' "$WORK/console-src.log"; then
		ready=1
		break
	fi
	kill -0 "$SRC_BG" 2>/dev/null || break
	sleep 0.5
done
[ -n "$ready" ] || {
	e2e_show_log "guest console (source)" "$WORK/console-src.log"
	e2e_show_log "QEMU (source)" "$WORK/qemu-src.log"
	e2e_die "the guest never said migrate-ready"
}
e2e_log "guest: $(grep -a '^VRTC-E2E-MARK migrate-ready' "$WORK/console-src.log" | tr -d '\r') after $(($(date +%s) - T_BOOT)) s"
CTL_RC=0
T_MIG=$(date +%s%N)
# VRTC_E2E_MIGRATE_FAIL=1: a URI nobody listens on, the failure path
URI=unix:/vrtc/mig.sock
[ "$FAIL" = 0 ] || URI=unix:/vrtc/nobody-listens.sock
"$CTL" migrate --qmp "$WORK/src.qmp" --dest-qmp "$WORK/dst.qmp" \
	--uri "$URI" \
	--dest-socket /vrtc/b/vrtc.sock --dest-page /vrtc/b/vrtc.vmclock \
	>"$WORK/ctl.log" 2>&1 || CTL_RC=$?
T_MIG_END=$(date +%s%N)
sed 's/^/   ctl | /' "$WORK/ctl.log"
e2e_log "ctl migrate: exit $CTL_RC after $(((T_MIG_END - T_MIG) / 1000000)) ms"

if [ "$FAIL" = 0 ]; then
	# The source stays paused (postmigrate): the destination has the
	# guest, which powers off there when it is done.
	kill -TERM "$(cat "$WORK/src.pid" 2>/dev/null)" 2>/dev/null || true
	wait "$SRC_BG" 2>/dev/null || true
	DST_RC=0
	wait "$DST_BG" || DST_RC=$?
	e2e_log "qemu: destination exited with status $DST_RC"
else
	# The guest stays on the source, its devices back.
	wait "$SRC_BG" || true
	kill -TERM "$(cat "$WORK/dst.pid" 2>/dev/null)" 2>/dev/null || true
	wait "$DST_BG" 2>/dev/null || true
	e2e_log "qemu: the source's guest ended; destination stopped"
fi
e2e_stop_daemon
DAEMON_A_RESULT=$DAEMON_RESULT
DAEMON_PID=$DAEMON_B_PID
DAEMON_B_PID=
e2e_stop_daemon
DAEMON_B_RESULT=$DAEMON_RESULT
e2e_stop_fakegpsd

# --- results -------------------------------------------------------------------------

cat "$WORK/console-src.log" "$WORK/console-dst.log" | tr -d '\r' >"$WORK/console.txt"
passed=0
failed=0
check() { # NAME OK(0|1) TEXT
	if [ "$2" = 1 ]; then
		passed=$((passed + 1))
		echo "  PASS $1: $3"
	else
		failed=$((failed + 1))
		echo "  FAIL $1: $3"
	fi
}
echo
echo "==== migration results ===="
for c in migrate migrate_names; do
	line=$(grep -E "^VRTC-E2E: $c (PASS|FAIL) " "$WORK/console.txt" | head -n 1 || true)
	if [ -z "$line" ]; then
		check "$c" 0 "no result from the guest"
	else
		v=$(cut -d' ' -f3 <<<"$line")
		check "$c" "$([ "$v" = PASS ] && echo 1 || echo 0)" "${line#*"$v" }"
	fi
done
grep -E '^VRTC-E2E: migrate_(bad|stale_handle|wait) ' "$WORK/console.txt" |
	sed 's/^VRTC-E2E: \([a-z_]*\) INFO /  INFO \1: /' || true
if [ "$FAIL" = 0 ]; then
	check ctl "$([ $CTL_RC = 0 ] && echo 1 || echo 0)" "vhost-user-rtc-ctl migrate exit $CTL_RC"
else
	check ctl "$([ $CTL_RC = 1 ] && grep -q 'source: vrtc0 plugged' "$WORK/ctl.log" &&
		grep -q 'source: vrtcpage0 plugged' "$WORK/ctl.log" && echo 1 || echo 0)" \
		"vhost-user-rtc-ctl migrate to a URI nobody listens on: exit $CTL_RC (1 expected), devices back on the source"
fi
br=$(sed -n 's/.*blocked-reasons before: //p' "$WORK/ctl.log")
check blocked_before "$([ -n "$br" ] && [ "$br" != "[]" ] && echo 1 || echo 0)" \
	"query-migrate with the device plugged: blocked-reasons $br"
ba=$(sed -n 's/.*blocked-reasons now: //p' "$WORK/ctl.log")
check blocked_after "$([ "$ba" = "[]" ] && echo 1 || echo 0)" \
	"query-migrate with the device unplugged: blocked-reasons ${ba:-?}"
nb=$(grep -c 'connection' "$WORK/b/daemon.log" || true)
if [ "$FAIL" = 0 ]; then
	check dest_daemon "$(grep -qiE 'accepted|connected' "$WORK/b/daemon.log" && echo 1 || echo 0)" \
		"the destination daemon served the plugged device ($nb connection lines in its log)"
else
	check source_daemon "$(grep -c 'front-end connected' "$WORK/a/daemon.log" | grep -qx 2 && echo 1 || echo 0)" \
		"the source daemon served the device again: $(grep -c 'front-end connected' "$WORK/a/daemon.log") connections (2 expected)"
fi
check daemons "$([ "$DAEMON_A_RESULT" = ok ] && [ "$DAEMON_B_RESULT" = ok ] && echo 1 || echo 0)" \
	"source daemon: $DAEMON_A_RESULT; destination daemon: $DAEMON_B_RESULT"
check guest_done "$(grep -q '^VRTC-GUEST-DONE rc=0' "$WORK/console.txt" && echo 1 || echo 0)" \
	"the guest finished on the $([ "$FAIL" = 0 ] && echo destination || echo source) ($(grep -a '^VRTC-GUEST-DONE' "$WORK/console.txt" || echo none))"
for q in src dst; do
	if grep -qiE 'error|fail' "$WORK/qemu-$q.log"; then
		echo "  INFO qemu-$q: $(grep -iE 'error|fail' "$WORK/qemu-$q.log" | head -n 3 | tr '\n' ' ')"
	fi
done

echo
echo "==== summary ===="
echo "  QEMU:    $(e2e_qemu_version)"
echo "  kernel:  $(cat "$(dirname "$KERNEL_IMAGE")/version")"
echo "  gap:     $(sed -n 's/^VRTC-E2E: migrate [A-Z]* gap_s=\([^ ]*\).*/\1/p' "$WORK/console.txt") s without the device in the guest (reference PHC time, last good reading to first good one)"
echo "  ctl:     $(grep -E 'released by|completed in' "$WORK/ctl.log" | sed 's/^\[ *[0-9.]* s\] //' | tr '\n' ';')"
echo "  time:    $(($(date +%s) - T_START)) s for this test"
if [ $failed -ne 0 ]; then
	e2e_show_log "guest console" "$WORK/console.txt"
	e2e_show_log "QEMU (source)" "$WORK/qemu-src.log"
	e2e_show_log "QEMU (destination)" "$WORK/qemu-dst.log"
	e2e_show_log "daemon a" "$WORK/a/daemon.log" 40
	e2e_show_log "daemon b" "$WORK/b/daemon.log" 40
fi
echo
echo "e2e-migrate: $passed passed, $failed failed"
[ $failed -eq 0 ]
