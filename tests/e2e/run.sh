#!/usr/bin/env bash
# End-to-end test: the daemon serves a virtio-rtc device to a real QEMU
# (11.1, from a cached trixie chroot) booting a real Linux guest (7.2, cached
# tiny build with CONFIG_VIRTIO_RTC=y); the guest checks what it sees.
#
#   tests/e2e/run.sh /abs/path/to/vhost-user-rtc
#   tests/e2e/run.sh --ref-only     infrastructure self-test without the
#                                   daemon (only QEMU's built-in device)
#   tests/e2e/run.sh --arch arm64 [--transport pci|mmio] ...
#                                   the same on an arm64 guest (qemu-system-
#                                   aarch64 -M virt); pci: vhost-user-rtc-pci,
#                                   mmio: vhost-user-rtc on a virtio-mmio
#                                   transport (default pci)
#
# Environment: VRTC_CACHE (cache dir, default /var/cache/vhost-user-rtc),
# VRTC_E2E_TIMEOUT (guest run limit, s, default 300), VRTC_E2E_SAMPLES
# (reads per PHC for the read-window statistics, default 1000),
# VRTC_E2E_KEEP=1 (keep the work directory), VRTC_LEAP_FILE (the leap table
# the expected TAI-UTC comes from), VRTC_DAEMON_ARGS (extra daemon options),
# VRTC_E2E_STATUS_CHANGE (limit for the guest to see holdover, s, default
# 40), VRTC_E2E_HOLDOVER (seconds the guest reads on in holdover, default 12:
# past libvrtc's 10 s max_age, so the page must be refreshed).
#
# The daemon's only source is a fake gpsd (fakegpsd.c) reporting this
# host's CLOCK_REALTIME as UTC; the host stops it when the guest prints
# "VRTC-E2E-MARK source-loss", and the guest reports when libvrtc saw the
# daemon's holdover (vrtc_status_seen; run.sh adds vrtc_status_change).
#
# The guest prints "VRTC-E2E: <check> PASS|FAIL|INFO ..." lines on its
# serial console; this script parses them, adds the daemon's own check
# (alive at the end, clean exit on SIGTERM) and ends with
# "N passed, N failed". Exit status 0 only if every check passed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

usage() {
	echo "usage: $0 [--arch x86_64|arm64] [--transport pci|mmio] /abs/path/to/vhost-user-rtc | --ref-only" >&2
	exit 2
}

E2E_ARCH=x86_64
TRANSPORT=pci
while [ $# -gt 1 ]; do
	case $1 in
	--arch) E2E_ARCH=$2 ;;
	--transport) TRANSPORT=$2 ;;
	*) usage ;;
	esac
	shift 2
done
case $E2E_ARCH/$TRANSPORT in
x86_64/pci | arm64/pci | arm64/mmio) ;;
*) usage ;;
esac
[ $# -eq 1 ] || usage
REF_ONLY=0
DAEMON=
case $1 in
--ref-only) REF_ONLY=1 ;;
-*) usage ;;
*) DAEMON=$(readlink -f "$1") ;;
esac
[ $REF_ONLY = 1 ] || [ -x "$DAEMON" ] || e2e_die "no executable daemon at $1"

TIMEOUT=${VRTC_E2E_TIMEOUT:-420}
# The daemon's publish interval (one publish: the page is rewritten), ms.
SYNC_MS=1000
# Limit for the guest to see the daemon's holdover after its marker, s.
STATUS_CHANGE=${VRTC_E2E_STATUS_CHANGE:-40}
# Seconds the guest keeps reading (and checking containment) in holdover.
HOLDOVER=${VRTC_E2E_HOLDOVER:-12}
SAMPLES=${VRTC_E2E_SAMPLES:-1000}
# Seconds of in-guest comparison of our UTC PHC with the reference PHC.
COMPARE=${VRTC_E2E_COMPARE:-60}
# Seconds of PHC reads with pauses around the daemon's poll window, none
# of which may hang (read_stall).
STALL=${VRTC_E2E_STALL:-60}
# Seconds of the same while the host upgrades the daemon live
# (read_upgrade), and how many upgrades in that time (one every 6 s).
UPGRADE_READS=${VRTC_E2E_UPGRADE_READS:-36}

e2e_log "end-to-end test ($E2E_ARCH, $TRANSPORT): $([ $REF_ONLY = 1 ] && echo "reference device only (self-test)" || echo "daemon $DAEMON")"
if [ "$E2E_ARCH" = arm64 ]; then
	e2e_prepare_arm64
	e2e_workdir_arm64 "e2e-arm64-$TRANSPORT"
	# the guest's tool is an arm64 binary: the host facts from a host build
	GUEST_TOOL=$WORK/vrtc-guest-host
	VRTC_OURS_PCI=$VRTC_OURS_PCI_ARM64
	[ "$TRANSPORT" = mmio ] && VRTC_OURS_PCI=$VRTC_OURS_MMIO_ARM64
	VRTC_REF_PCI=$VRTC_REF_PCI_ARM64
else
	e2e_prepare
	e2e_workdir e2e
	GUEST_TOOL=$WORK/initramfs.d/bin/vrtc-guest
fi
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

APPEND="vrtc.mode=test vrtc.ours=$VRTC_OURS_PCI vrtc.ref=$VRTC_REF_PCI vrtc.taiutc=$LEAP_TAI_UTC vrtc.leapnear=$LEAP_NEAR vrtc.samples=$SAMPLES vrtc.refonly=$REF_ONLY vrtc.compare=$COMPARE vrtc.statuschange=$((STATUS_CHANGE * (1 - REF_ONLY))) vrtc.holdover=$HOLDOVER vrtc.stall=$STALL vrtc.upgradereads=$((UPGRADE_READS * (1 - REF_ONLY)))"

# The guest's marker "VRTC-E2E-MARK source-loss" (after vrtc_bound, while
# the daemon is SYNCHRONIZED): the daemon's status now over its control
# socket, then its only source, the fake gpsd, goes away. The guest keeps
# polling libvrtc and reports when the page said FREERUNNING.
SOURCE_LOST=
# Live upgrades and SIGKILLs while the guest reads its PHCs
# (read_upgrade): UPGRADES upgrades and KILLS kills, alternating, one
# every 3 s from the guest's marker. Each upgrade's new process takes
# over every socket, connection and state (src/upgrade.h); after each
# SIGKILL the supervisor (systemd's fd store and Restart=on-failure,
# tests/support/fdstore_supervisor.c) starts a daemon that adopts them
# from the store (src/persist.h).
UPGRADES=${VRTC_E2E_UPGRADES:-5}
KILLS=${VRTC_E2E_KILLS:-5}
UPG_DONE=0
UPG_FAILED=
UPG_NEXT=0
UPG_PAUSES=
KILL_DONE=0
KILL_FAILED=
KILL_GAPS=
# The main pid under the supervisor.
e2e_main_pid() { cat "$WORK/vrtc.pid" 2>/dev/null || true; }
e2e_kill_step() {
	local old new i t0
	old=$(e2e_main_pid)
	t0=$(date +%s%N)
	kill -KILL "$old" 2>/dev/null || { KILL_FAILED="no daemon to kill"; return 0; }
	for i in $(seq 1 500); do
		new=$(e2e_main_pid)
		[ -n "$new" ] && [ "$new" != "$old" ] &&
			[ "$(grep -ac 'crash recovery: generation [0-9]* adopted' "$WORK/daemon.log")" -gt "$KILL_DONE" ] &&
			break
		sleep 0.01
	done
	if [ -z "$new" ] || [ "$new" = "$old" ]; then
		KILL_FAILED="no daemon after SIGKILL $((KILL_DONE + 1)) within 5 s"
		return 0
	fi
	KILL_DONE=$((KILL_DONE + 1))
	KILL_GAPS+="$((($(date +%s%N) - t0) / 1000000)) "
	e2e_log "SIGKILL $KILL_DONE of $KILLS: pid $old; pid $new adopted the VMs"
}
e2e_upgrade_step() {
	local out new now
	[ "$UPG_DONE" -lt "$UPGRADES" ] || [ "$KILL_DONE" -lt "$KILLS" ] || return 0
	[ -z "$UPG_FAILED" ] && [ -z "$KILL_FAILED" ] || return 0
	grep -aq '^VRTC-E2E-MARK read-stall upgrades' "$1/console.log" || return 0
	# only while read_upgrade runs: the later checks watch the page
	! grep -aq '^VRTC-E2E: read_upgrade ' "$1/console.log" || return 0
	now=$(date +%s)
	[ "$now" -ge "$UPG_NEXT" ] || return 0
	UPG_NEXT=$((now + 3))
	if [ "$KILL_DONE" -lt "$UPG_DONE" ] || [ "$UPG_DONE" -ge "$UPGRADES" ]; then
		e2e_kill_step
		return 0
	fi
	if out=$("$(dirname "$DAEMON")/vhost-user-rtc-ctl" --socket "$1/vrtc.ctl" upgrade 2>&1) &&
		new=$(sed -n 's/^upgraded: pid [0-9]* -> \([0-9]*\),.*/\1/p' <<<"$out") && [ -n "$new" ]; then
		UPG_DONE=$((UPG_DONE + 1))
		UPG_PAUSES+="$(sed -n 's/.*pause of service \([0-9.]*\) ms.*/\1/p' <<<"$out") "
		e2e_log "live upgrade $UPG_DONE of $UPGRADES: $out"
	else
		UPG_FAILED=$out
		e2e_log "live upgrade FAILED: $out"
	fi
}
e2e_watch_guest() {
	[ $REF_ONLY = 1 ] || e2e_upgrade_step "$1"
	[ -z "$SOURCE_LOST" ] || return 0
	grep -aq '^VRTC-E2E-MARK source-loss' "$1/console.log" || return 0
	SOURCE_LOST=1
	e2e_daemon_status "$DAEMON" "$WORK/vrtc.sock" --json \
		>"$WORK/status-before.json" 2>&1 || true
	e2e_stop_fakegpsd
	e2e_log "guest: $(grep -a '^VRTC-E2E-MARK source-loss' "$1/console.log" | tr -d '\r'); fake gpsd stopped"
}

if [ $REF_ONLY = 0 ]; then
	# The daemon's only source: the fake gpsd (no system clock, so that
	# losing the gpsd means holdover).
	e2e_start_fakegpsd "$WORK"
	# under the supervisor: its pid is DAEMON_PID, the daemon's in
	# $WORK/vrtc.pid
	E2E_SUPERVISOR="$(dirname "$DAEMON")/tests/fdstore-supervisor"
	[ -x "$E2E_SUPERVISOR" ] || e2e_die "no $E2E_SUPERVISOR (make all builds it)"
	e2e_start_daemon "$DAEMON" "$WORK/vrtc.sock" "$WORK/daemon.log" \
		--gpsd "127.0.0.1:$GPSD_PORT" --system-clock off \
		--sync-interval-ms "$SYNC_MS"
	# a model before the guest's driver probes (the guest waits for
	# SYNCHRONIZED itself before vrtc_bound)
	m=$(e2e_wait_log "$WORK/daemon.log" ': model [a-z]+, bound' 20) ||
		e2e_die "the daemon made no model from the fake gpsd within 20 s"
	e2e_log "daemon: ${m#*Z: }"
	# shellcheck disable=SC2034 # read by e2e_qemu_launch (lib.sh)
	E2E_WATCH_HOOK=e2e_watch_guest
fi
if [ "$E2E_ARCH" = arm64 ]; then
	e2e_run_qemu_arm64 "$WORK" "$TIMEOUT" $((1 - REF_ONLY)) "$APPEND" "$TRANSPORT"
else
	e2e_run_qemu "$WORK" "$TIMEOUT" $((1 - REF_ONLY)) "$APPEND"
fi
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
		monotonic windows vrtc_bound vrtc_now_cli vrtc_status_seen rebind dmesg
		agent_auto agent_cost agent_bound agent_clockbound agent_exit
		cross_cap)
	[ "$LEAP_NEAR" = 1 ] || required+=(smeared_vs_utc)
	[ "$STALL" -le 0 ] || required+=(read_stall)
	[ "$STALL" -le 0 ] || [ "$UPGRADE_READS" -le 0 ] || required+=(read_upgrade)
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
	# The live upgrades during read_stall: every one done, none failed
	# (the guest's read_stall says whether a read suffered).
	if [ "$STALL" -le 0 ] || [ "$UPGRADE_READS" -le 0 ]; then
		echo "  INFO upgrades: none (no read_upgrade phase)"
	elif [ "$UPG_DONE" -eq "$UPGRADES" ] && [ -z "$UPG_FAILED" ]; then
		passed=$((passed + 1))
		echo "  PASS upgrades: $UPG_DONE live upgrades of the daemon while the guest read its PHCs; pauses of service (ms): $UPG_PAUSES"
	else
		failed=$((failed + 1))
		problems+=("live upgrades: $UPG_DONE of $UPGRADES done${UPG_FAILED:+; failed: $UPG_FAILED}")
		echo "  FAIL upgrades: $UPG_DONE of $UPGRADES done${UPG_FAILED:+; failed: $UPG_FAILED}"
	fi
	# The SIGKILLs during read_stall: a daemon adopted the VMs each time
	# (the guest's read_upgrade says whether a read suffered or failed).
	if [ "$STALL" -le 0 ] || [ "$UPGRADE_READS" -le 0 ]; then
		echo "  INFO kills: none (no read_upgrade phase)"
	elif [ "$KILL_DONE" -eq "$KILLS" ] && [ -z "$KILL_FAILED" ]; then
		passed=$((passed + 1))
		echo "  PASS kills: $KILL_DONE SIGKILLs of the daemon while the guest read its PHCs, each time a new one adopted the VMs from the fd store; SIGKILL to adoption (ms): $KILL_GAPS"
	else
		failed=$((failed + 1))
		problems+=("SIGKILLs: $KILL_DONE of $KILLS recovered${KILL_FAILED:+; $KILL_FAILED}")
		echo "  FAIL kills: $KILL_DONE of $KILLS recovered${KILL_FAILED:+; $KILL_FAILED}"
	fi
	# Every guest request came with its kick or was polled (issue of the
	# poll window): the daemon's sweep never had to serve one.
	st_mk=$(grep -o '"kicks_missed_total":[0-9]*' "$WORK/status.json" | cut -d: -f2 || true)
	if [ "${st_mk:-x}" = 0 ]; then
		passed=$((passed + 1))
		echo "  PASS kicks: no request waited for a kick that never came (the daemon's kicks_missed_total is 0)"
	else
		failed=$((failed + 1))
		problems+=("the daemon served ${st_mk:-?} requests without their kick (kicks_missed_total)")
		echo "  FAIL kicks: kicks_missed_total=${st_mk:-missing}: requests waited for a kick that never came"
	fi
	# libvrtc's status in the guest (from the page over ivshmem-plain)
	# is the model's status the daemon reports: before the source was
	# lost (the guest's vrtc_bound against the control socket at the
	# guest's marker) and after (the guest's last reading against the
	# control socket at the end).
	gv() { sed -n "s/^VRTC-E2E: $1 [A-Z]* .*[ ]$2=\([^ ]*\).*/\1/p" "$WORK/console.txt" | head -n 1; }
	dst() { grep -o '"model":{[^}]*' "$1" 2>/dev/null | grep -o '"status":"[a-z]*"' | cut -d'"' -f4 || true; }
	g_st=$(gv vrtc_bound status)
	d_st=$(dst "$WORK/status-before.json")
	g_end=$(gv vrtc_status_seen status_end)
	d_end=$(dst "$WORK/status.json")
	if [ -n "$g_st" ] && [ "$g_st" = "$d_st" ] && [ -n "$g_end" ] && [ "$g_end" = "$d_end" ]; then
		passed=$((passed + 1))
		echo "  PASS vrtc_status: the guest's libvrtc says $g_st, then $g_end, as the daemon's control socket"
	else
		failed=$((failed + 1))
		problems+=("vrtc status: guest '${g_st:-none}' then '${g_end:-none}', daemon '${d_st:-none}' then '${d_end:-none}'")
		echo "  FAIL vrtc_status: guest '${g_st:-none}' then '${g_end:-none}', daemon '${d_st:-none}' then '${d_end:-none}'"
	fi
	# The status change: the daemon logs "model freerunning" right after
	# the publish that wrote it to the page; the guest's first reading
	# that said FREERUNNING must come within one publish of it. Both
	# times are host CLOCK_REALTIME: the daemon's log (ms, time of day),
	# the guest's from the reference PHC (QEMU's virtio-rtc-pci).
	seen=$(gv vrtc_status_seen seen_utc_ns)
	before=$(gv vrtc_status_seen before_utc_ns)
	ch=$(sed -n 's/^[^ ]*: \([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\)\.\([0-9][0-9][0-9]\)Z: model freerunning.*/\1 \2 \3 \4/p' \
		"$WORK/daemon.log" | head -n 1)
	if [ -n "$ch" ] && [ -n "$seen" ] && [ "$seen" != 0 ] && [ -n "$before" ] && [ "$before" != 0 ]; then
		read -r hh mm ss ms <<<"$ch"
		d_ms=$(((10#$hh * 3600 + 10#$mm * 60 + 10#$ss) * 1000 + 10#$ms))
		day=86400000
		# delays modulo a day, in (-12 h, 12 h]
		delay=$(((seen / 1000000 - d_ms) % day))
		delay=$(((delay + day + day / 2) % day - day / 2))
		last=$(((before / 1000000 - d_ms) % day))
		last=$(((last + day + day / 2) % day - day / 2))
		lost=$(((${GPSD_STOPPED_NS:-0} / 1000000 - d_ms) % day))
		lost=$(((lost + day + day / 2) % day - day / 2))
		sq_b=$(gv vrtc_status_seen seq_before)
		sq_s=$(gv vrtc_status_seen seq_seen)
		msg="the daemon logged FREERUNNING $((-lost)) ms after the fake gpsd stopped; the guest saw it $delay ms after that log line (its last reading before: $last ms; page seq_count $sq_b -> $sq_s), one publish = $SYNC_MS ms"
		# within one publish after the log line, and the guest's
		# readings close enough together to tell
		if [ "$delay" -le "$SYNC_MS" ] && [ "$delay" -gt "-$SYNC_MS" ] &&
			[ $((delay - last)) -lt "$SYNC_MS" ]; then
			passed=$((passed + 1))
			echo "  PASS vrtc_status_change: $msg"
		else
			failed=$((failed + 1))
			problems+=("vrtc status change: $msg")
			echo "  FAIL vrtc_status_change: $msg"
		fi
	else
		failed=$((failed + 1))
		problems+=("vrtc status change: daemon log '${ch:-no model freerunning line}', guest seen_utc_ns '${seen:-none}'")
		echo "  FAIL vrtc_status_change: daemon log '${ch:-no model freerunning line}', guest seen_utc_ns '${seen:-none}'"
	fi
	if [ "$DAEMON_RESULT" = ok ]; then
		passed=$((passed + 1))
		echo "  PASS daemon: alive through the run, exit status 0 on SIGTERM"
	else
		failed=$((failed + 1))
		problems+=("daemon $DAEMON_RESULT")
		echo "  FAIL daemon: $DAEMON_RESULT"
	fi
	# The arm64 driver asks CROSS_CAP(ARM_VCT) per clock at every probe
	# (boot and rebind); the daemon logs the count when the VM goes.
	cc=$(sed -n 's/.*: CROSS_CAP asked \([0-9]*\) times for ARM_VCT, \([0-9]*\) for X86_TSC.*/\1 \2/p' \
		"$WORK/daemon.log" | tail -n 1)
	read -r cc_arm cc_x86 <<<"${cc:-0 0}"
	if [ "$E2E_ARCH" = arm64 ]; then
		if [ "$cc_arm" -ge 4 ]; then
			passed=$((passed + 1))
			echo "  PASS cross_cap_asked: the guest driver asked CROSS_CAP for ARM_VCT $cc_arm times (4 clocks per probe), X86_TSC $cc_x86; the daemon answered OK without the flag"
		else
			failed=$((failed + 1))
			problems+=("the daemon saw $cc_arm CROSS_CAP(ARM_VCT) requests, expected at least 4")
			echo "  FAIL cross_cap_asked: ARM_VCT $cc_arm, X86_TSC $cc_x86 (expected >= 4 ARM_VCT from the arm64 driver's probe)"
		fi
	else
		echo "  INFO cross_cap_asked: ARM_VCT $cc_arm, X86_TSC $cc_x86 (the x86 driver never asks)"
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
echo "  arch:    $E2E_ARCH, our device on $TRANSPORT ($VRTC_OURS_PCI)"
if [ "$E2E_ARCH" = arm64 ]; then
	echo "  QEMU:    $(e2e_qemu_version_arm64) -M virt -cpu $ARM64_CPU"
else
	echo "  QEMU:    $(e2e_qemu_version)"
fi
echo "  kernel:  $(cat "$(dirname "$KERNEL_IMAGE")/version") ($KERNEL_IMAGE)"
echo "  guest:   $(sed -n 's/^VRTC-E2E: guest INFO //p' "$WORK/console.txt")"
pc=$(sed -n 's/^VRTC-E2E: phc_compare \(PASS\|FAIL\) //p' "$WORK/console.txt")
if [ -n "$pc" ]; then
	echo "  compare: ours (UTC) vs reference PHC in the guest: $pc"
	# kept across runs (the work directory is not)
	mkdir -p "$LOGDIR"
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $E2E_ARCH/$TRANSPORT $(e2e_qemu_version | head -n 1): $pc" \
		>>"$LOGDIR/e2e-phc-compare.log"
	echo "           (appended to $LOGDIR/e2e-phc-compare.log)"
fi
vb=$(sed -n 's/^VRTC-E2E: vrtc_bound \(PASS\|FAIL\) //p' "$WORK/console.txt")
[ -n "$vb" ] && echo "  libvrtc: in the guest over ivshmem-plain: $vb"
for c in agent_cost agent_bound agent_clockbound; do
	a=$(sed -n "s/^VRTC-E2E: $c \\(PASS\\|FAIL\\) //p" "$WORK/console.txt")
	[ -n "$a" ] && echo "  agent:   $c: $a"
done
vs=$(sed -n 's/^VRTC-E2E: vrtc_status_seen \(PASS\|FAIL\) //p' "$WORK/console.txt")
[ -n "$vs" ] && echo "  holdover: the guest polling libvrtc while the daemon lost its source: $vs"
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
