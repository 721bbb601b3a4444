#!/usr/bin/env bash
# Demo: the daemon serves a real QEMU guest; the guest shows what it sees
# (its PHCs with their names, one reading of each next to QEMU's built-in
# reference clock, TAI-UTC, the RTC) and powers off. Non-interactive.
#
#   tests/e2e/demo.sh /abs/path/to/vhost-user-rtc
#
# Same cache and environment as tests/e2e/run.sh (VRTC_CACHE,
# VRTC_E2E_TIMEOUT, VRTC_E2E_KEEP).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 /abs/path/to/vhost-user-rtc" >&2; exit 2; }
DAEMON=$(readlink -f "$1")
[ -x "$DAEMON" ] || e2e_die "no executable daemon at $1"
TIMEOUT=${VRTC_E2E_TIMEOUT:-300}

e2e_log "demo: daemon $DAEMON"
e2e_prepare

e2e_workdir demo
e2e_leap_facts
e2e_host_tai "$WORK/initramfs.d/bin/vrtc-guest"

cat <<EOF

==== Host ====
  daemon:      $DAEMON --socket-path $WORK/vrtc.sock $(e2e_user_args) -v
  QEMU:        $(e2e_qemu_version), TCG
               -device vhost-user-rtc-pci,addr=04.0  (served by the daemon)
               -device virtio-rtc-pci,addr=05.0      (QEMU's built-in UTC clock: the reference)
  guest:       Linux $(cut -d' ' -f2 "$(dirname "$KERNEL_IMAGE")/version"), busybox initramfs
  leap table:  $LEAP_FILE says TAI-UTC = $LEAP_TAI_UTC s (expires $LEAP_EXPIRES$([ "$LEAP_EXPIRED" = 1 ] && echo ", EXPIRED"))
  host kernel: TAI offset (adjtimex) = $HOST_TAI$([ "$HOST_TAI" = 0 ] && echo " (unset: CLOCK_TAI == CLOCK_REALTIME on this host)")
  host clock:  $(date -u '+%Y-%m-%d %H:%M:%S.%N UTC')
EOF

e2e_start_daemon "$DAEMON" "$WORK/vrtc.sock" "$WORK/daemon.log"
e2e_run_qemu "$WORK" "$TIMEOUT" 1 \
	"quiet loglevel=3 vrtc.mode=demo vrtc.ours=$VRTC_OURS_PCI vrtc.ref=$VRTC_REF_PCI"
DAEMON_STATUS=$(e2e_daemon_status "$DAEMON" "$WORK/vrtc.sock" 2>&1 || true)
e2e_stop_daemon

echo
echo "==================== guest console ===================="
tr -d '\r' <"$WORK/console.log" | sed -n '/^VRTC-GUEST-START/,$p' |
	grep -v '^VRTC-GUEST-' || true
echo "================= end of guest console ================"
echo
echo "==== The daemon's view after the VM left (vhost-user-rtc-ctl status) ===="
printf '%s\n' "$DAEMON_STATUS"
echo
echo "==== Daemon log (last 15 lines) ===="
tail -n 15 "$WORK/daemon.log" || true
echo

ok=1
grep -q 'VRTC-GUEST-DONE rc=0' "$WORK/console.log" || ok=0
[ "$QEMU_RC" = 0 ] || ok=0
[ "$DAEMON_RESULT" = ok ] || ok=0
if [ $ok = 0 ]; then
	e2e_show_log "full guest console" "$WORK/console.log"
	[ -s "$WORK/qemu.log" ] && e2e_show_log "QEMU output" "$WORK/qemu.log"
	echo "!! [demo] something went wrong: QEMU status $QEMU_RC, daemon: $DAEMON_RESULT" >&2
	exit 1
fi
echo "demo: done (QEMU exited cleanly, daemon: $DAEMON_RESULT)"
