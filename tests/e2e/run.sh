#!/usr/bin/env bash
# End-to-end test: the daemon serves a virtio-rtc device to a real QEMU
# (11.1, from a cached trixie chroot) booting a real Linux guest (7.2, cached
# tiny build with CONFIG_VIRTIO_RTC=y); the guest checks what it sees.
#
#   tests/e2e/run.sh /abs/path/to/vhost-user-rtc
#   tests/e2e/run.sh --ref-only     infrastructure self-test without the
#                                   daemon (only QEMU's built-in device)
#
# Environment: VRTC_CACHE (cache dir, default /var/cache/vhost-user-rtc),
# VRTC_E2E_TIMEOUT (guest run limit, s, default 300), VRTC_E2E_SAMPLES
# (reads per PHC for the read-window statistics, default 1000),
# VRTC_E2E_KEEP=1 (keep the work directory), VRTC_LEAP_FILE (the leap table
# the expected TAI-UTC comes from), VRTC_DAEMON_ARGS (extra daemon options).
#
# The guest prints "VRTC-E2E: <check> PASS|FAIL|INFO ..." lines on its
# serial console; this script parses them, adds the daemon's own check
# (alive at the end, clean exit on SIGTERM) and ends with
# "N passed, N failed". Exit status 0 only if every check passed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 /abs/path/to/vhost-user-rtc | --ref-only" >&2
	exit 2
}

[ $# -eq 1 ] || usage
REF_ONLY=0
DAEMON=
case $1 in
--ref-only) REF_ONLY=1 ;;
-*) usage ;;
*) DAEMON=$(readlink -f "$1") ;;
esac
[ $REF_ONLY = 1 ] || [ -x "$DAEMON" ] || e2e_die "no executable daemon at $1"

TIMEOUT=${VRTC_E2E_TIMEOUT:-300}
SAMPLES=${VRTC_E2E_SAMPLES:-1000}
# Seconds of in-guest comparison of our UTC PHC with the reference PHC.
COMPARE=${VRTC_E2E_COMPARE:-60}

e2e_log "end-to-end test: $([ $REF_ONLY = 1 ] && echo "reference device only (self-test)" || echo "daemon $DAEMON")"
e2e_prepare

e2e_workdir e2e
GUEST_TOOL=$WORK/initramfs.d/bin/vrtc-guest
e2e_log "initramfs: $(du -k "$INITRAMFS" | cut -f1) KiB (busybox, vrtc-guest, init)"

e2e_leap_facts
e2e_host_tai "$GUEST_TOOL"
if [ "$HOST_TAI" = 0 ]; then
	TAI_CASE="host kernel TAI offset UNSET (adjtimex tai=0): TAI-UTC had to come from the daemon's leap table"
else
	TAI_CASE="host kernel TAI offset SET (adjtimex tai=$HOST_TAI)"
fi
e2e_log "leap table $LEAP_FILE: TAI-UTC=$LEAP_TAI_UTC s, expires $LEAP_EXPIRES$([ "$LEAP_EXPIRED" = 1 ] && echo " (EXPIRED)")$([ "$LEAP_NEAR" = 1 ] && echo ", a leap second is within a day")"
e2e_log "$TAI_CASE"

APPEND="vrtc.mode=test vrtc.ours=$VRTC_OURS_PCI vrtc.ref=$VRTC_REF_PCI vrtc.taiutc=$LEAP_TAI_UTC vrtc.leapnear=$LEAP_NEAR vrtc.samples=$SAMPLES vrtc.refonly=$REF_ONLY vrtc.compare=$COMPARE"

if [ $REF_ONLY = 0 ]; then
	e2e_start_daemon "$DAEMON" "$WORK/vrtc.sock" "$WORK/daemon.log"
fi
e2e_run_qemu "$WORK" "$TIMEOUT" $((1 - REF_ONLY)) "$APPEND"
if [ $REF_ONLY = 0 ]; then
	# The daemon's own count of what the guest asked, over its control
	# socket, before it stops.
	e2e_daemon_status "$DAEMON" "$WORK/vrtc.sock" --json \
		>"$WORK/status.json" 2>&1 || true
	e2e_stop_daemon
fi

# --- results ----------------------------------------------------------------

tr -d '\r' <"$WORK/console.log" >"$WORK/console.txt"
passed=0
failed=0
problems=()

if [ $REF_ONLY = 1 ]; then
	required=(guest_clock phcs rtc windows dmesg)
else
	required=(guest_clock phcs rtc utc_vs_ref phc_reader phc_compare tai_minus_utc
		monotonic windows rebind dmesg)
	[ "$LEAP_NEAR" = 1 ] || required+=(smeared_vs_utc)
fi

echo
echo "==== end-to-end results ===="
while IFS= read -r line; do
	read -r _ check verdict _ <<<"$line"
	case $verdict in
	PASS)
		passed=$((passed + 1))
		echo "  PASS $check: ${line#*PASS }"
		;;
	FAIL)
		failed=$((failed + 1))
		problems+=("guest check $check failed")
		echo "  FAIL $check: ${line#*FAIL }"
		;;
	INFO)
		case $check in
		phc | rtc | dmesg | guest) ;; # details, in the console log
		*) echo "  INFO $check: ${line#*INFO }" ;;
		esac
		;;
	esac
done < <(grep -E '^VRTC-E2E: [a-z_]+ (PASS|FAIL|INFO) ' "$WORK/console.txt" || true)

for c in "${required[@]}"; do
	if ! grep -qE "^VRTC-E2E: $c (PASS|FAIL) " "$WORK/console.txt"; then
		failed=$((failed + 1))
		problems+=("guest check $c did not report")
		echo "  FAIL $c: no result from the guest"
	fi
done
grep -q '^VRTC-E2E: end ' "$WORK/console.txt" ||
	problems+=("the guest tool did not finish")
grep -q '^VRTC-GUEST-DONE rc=' "$WORK/console.txt" ||
	problems+=("the guest did not reach the end of its init")
if [ -n "$QEMU_STOPPED" ]; then
	problems+=("QEMU $QEMU_STOPPED")
else
	case $QEMU_RC in
	0) ;;
	124 | 137) problems+=("QEMU timed out after ${TIMEOUT}s") ;;
	*) problems+=("QEMU exited with status $QEMU_RC") ;;
	esac
fi

# QEMU prints nothing on a good run; vhost-user trouble shows up here.
if grep -qiE 'vhost|virtio|error|fail' "$WORK/qemu.log"; then
	failed=$((failed + 1))
	problems+=("QEMU reported trouble: $(grep -iE 'vhost|virtio|error|fail' "$WORK/qemu.log" | head -n 3 | tr '\n' ' ')")
	echo "  FAIL qemu: $(grep -iE 'vhost|virtio|error|fail' "$WORK/qemu.log" | head -n 1)"
fi

if [ $REF_ONLY = 0 ]; then
	# The guest's driver and tools sent requests: the daemon counted them.
	st_acc=$(grep -o '"accepted_total":[0-9]*' "$WORK/status.json" | cut -d: -f2 || true)
	st_req=$(grep -o '"requests_total":[0-9]*' "$WORK/status.json" | cut -d: -f2 || true)
	st_err=$(grep -o '"errors_total":[0-9]*' "$WORK/status.json" | cut -d: -f2 || true)
	if [ -n "$st_req" ] && [ "$st_req" -gt 0 ] && [ "${st_acc:-0}" -ge 1 ]; then
		passed=$((passed + 1))
		echo "  PASS control_status: the daemon counted $st_req requests from the guest ($st_err answered with an error status), $st_acc front-end connection(s)"
	else
		failed=$((failed + 1))
		problems+=("control socket status: $(head -c 300 "$WORK/status.json")")
		echo "  FAIL control_status: $(head -c 300 "$WORK/status.json")"
	fi
	if [ "$DAEMON_RESULT" = ok ]; then
		passed=$((passed + 1))
		echo "  PASS daemon: alive through the run, exit status 0 on SIGTERM"
	else
		failed=$((failed + 1))
		problems+=("daemon $DAEMON_RESULT")
		echo "  FAIL daemon: $DAEMON_RESULT"
	fi
	if grep -qE 'AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:' \
		"$WORK/daemon.log"; then
		failed=$((failed + 1))
		problems+=("sanitizer report in the daemon log")
		echo "  FAIL daemon: sanitizer report in its log"
	fi
fi

echo
echo "==== summary ===="
echo "  QEMU:    $(e2e_qemu_version)"
echo "  kernel:  $(cat "$(dirname "$KERNEL_IMAGE")/version") ($KERNEL_IMAGE)"
echo "  guest:   $(sed -n 's/^VRTC-E2E: guest INFO //p' "$WORK/console.txt")"
pc=$(sed -n 's/^VRTC-E2E: phc_compare \(PASS\|FAIL\) //p' "$WORK/console.txt")
if [ -n "$pc" ]; then
	echo "  compare: ours (UTC) vs reference PHC in the guest: $pc"
	# kept across runs (the work directory is not)
	mkdir -p "$LOGDIR"
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $(e2e_qemu_version | head -n 1): $pc" \
		>>"$LOGDIR/e2e-phc-compare.log"
	echo "           (appended to $LOGDIR/e2e-phc-compare.log)"
fi
echo "  TAI:     $TAI_CASE; leap table TAI-UTC=$LEAP_TAI_UTC s (expires $LEAP_EXPIRES$([ "$LEAP_EXPIRED" = 1 ] && echo ", EXPIRED"))"
w=$(sed -n 's/^VRTC-E2E: windows PASS //p' "$WORK/console.txt")
if [ -n "$w" ]; then
	v() { printf '%s\n' "$w" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	if [ $REF_ONLY = 0 ]; then
		echo "  read windows (PTP_SYS_OFFSET_EXTENDED, n=$(v n) each, side by side):" \
			"ours p50 $(v ours_p50_ns) ns, reference p50 $(v ref_p50_ns) ns, ratio $(v ratio_p50)"
		# How much of our window the daemon itself spends (pop to
		# notify, all requests of the run); the rest is QEMU's
		# vhost-user notification path and the vCPU wake-ups.
		busy=$(sed -n 's/.*: served \([0-9]*\) requests.*device time per request: \(.*\)/\1 requests served; daemon time per request \2/p' \
			"$WORK/daemon.log" | tail -n 1)
		[ -n "$busy" ] && echo "  daemon:  $busy (pop to signal; the rest of the ours p50 above is the kick and call wake-ups, QEMU's vhost-user path and TCG)"
	else
		echo "  read windows (PTP_SYS_OFFSET_EXTENDED, n=$(v n)): reference p50 $(v ref_p50_ns) ns"
	fi
fi

if [ $failed -ne 0 ] || [ ${#problems[@]} -ne 0 ]; then
	echo
	e2e_show_log "guest console" "$WORK/console.log"
	[ -s "$WORK/qemu.log" ] && e2e_show_log "QEMU output" "$WORK/qemu.log"
	[ $REF_ONLY = 1 ] || e2e_show_log "daemon log" "$WORK/daemon.log" 200
	echo
	for p in "${problems[@]}"; do
		echo "!! [e2e] $p"
	done
	[ $failed -ne 0 ] || failed=1
fi
echo
echo "e2e: $passed passed, $failed failed"
[ $failed -eq 0 ]
