#!/usr/bin/env bash
# End-to-end: the daemon on a real PHC that ptp4l disciplines, inside a
# guest (this host has no PHC). QEMU 11.1 (TCG) emulates two NICs with a
# PTP hardware clock (igb by default, or e1000e), joined by a QEMU hub;
# in the guest (Linux 7.2, phc-guest-kernel.config):
#
#   ptp4l -2 -H on NIC A: grandmaster; its PHC is the probe's reference
#   ptp4l -2 -H -s on NIC B: slave, steers NIC B's PHC to NIC A's
#   vhost-user-rtc --phc /dev/ptpB --ptp4l-socket /run/ptp4l --system-clock off
#   vhost-user-rtc-probe eval --ref /dev/ptpA --control ... (10 Hz, live bound)
#
# and, mid-run, the slave's ptp4l is stopped for a while and restarted: the
# daemon degrades, holds over and recovers while the probe keeps reading.
#
#   tests/e2e/phc-guest.sh BUILD_DIR          (make e2e-phc: 120 s, fault at 45 s for 30 s)
#   VRTC_PHC_DURATION=600 VRTC_PHC_FAULT=300 VRTC_PHC_OUTAGE=60 \
#   VRTC_PHC_OUT=build/phc tests/e2e/phc-guest.sh build      (the README's run)
#
# Environment: VRTC_PHC_NIC (igb|e1000e, default igb), VRTC_PHC_TS (hw|sw:
# ptp4l -H, or -S with phc2sys steering the slave PHC; default hw),
# VRTC_PHC_DURATION (s of eval, 120), VRTC_PHC_FAULT (s into the eval when
# ptp4l stops, 45; 0: no fault), VRTC_PHC_OUTAGE (s, 30), VRTC_PHC_OUT
# (a directory to keep eval.csv, eval.png, report.txt), VRTC_PHC_LATCHFIX
# (1: run phc-igb-latch, which QEMU's igb needs for Rx stamps; 0: do not,
# to see the failure), VRTC_E2E_KEEP=1
# (keep the work directory), VRTC_CACHE.
# Ends with "e2e-phc: N passed, N failed"; exit 0 only if all passed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=phc-lib.sh
. "$E2E_DIR/phc-lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(readlink -f "$1")
NIC=${VRTC_PHC_NIC:-igb}
TS=${VRTC_PHC_TS:-hw}
DURATION=${VRTC_PHC_DURATION:-120}
FAULT=${VRTC_PHC_FAULT:-45}
OUTAGE=${VRTC_PHC_OUTAGE:-30}
RATE=10
# boot + ptp4l lock (at most 90 s) + eval + the report and files, TCG
TIMEOUT=$((DURATION + 400))

e2e_log "PHC end-to-end: daemon from $BUILD, two $NIC NICs, ptp4l $([ "$TS" = hw ] && echo "hardware" || echo "software + phc2sys") timestamps, eval ${DURATION}s$([ "$FAULT" -gt 0 ] && echo ", ptp4l stopped at ${FAULT}s for ${OUTAGE}s")"
e2e_need_root
# Only the chroot is shared with run.sh's cache: when it is there and
# current, use it without waiting for the lock (a builder replaces it
# only when its stamp is out of date).
if [ "$(cat "$CHROOT/.vrtc-stamp" 2>/dev/null)" = "$CHROOT_STAMP" ] &&
	chroot_qemu_ok "$CHROOT"; then
	e2e_log "chroot: cached ($CHROOT)"
else
	e2e_lock
	e2e_ensure_chroot
	e2e_unlock
fi
if [ "${VRTC_PHC_KERNEL:-debian}" = tiny ]; then
	KERNEL_MODULES=
	phc_ensure_kernel
else
	phc_ensure_debian_kernel
fi
e2e_log "QEMU: $(e2e_qemu_version); kernel: $(cat "$(dirname "$KERNEL_IMAGE")/version") ($KERNEL_IMAGE)"

e2e_leap_facts
WORK=$(mktemp -d /tmp/vrtc-phc.XXXXXX)
E2E_TAG=e2e-phc
DAEMON_PID=
trap e2e_cleanup EXIT
trap 'exit 143' TERM INT HUP
cp "$KERNEL_IMAGE" "$WORK/bzImage"
phc_build_initramfs "$WORK" "$BUILD"
e2e_log "initramfs: $(du -k "$INITRAMFS" | cut -f1) KiB (busybox, daemon, probe, ctl, ptp4l, pmc, phc2sys, their libraries)"

phc_run_qemu "$WORK" "$TIMEOUT" "$NIC" \
	"iomem=relaxed vrtc.gm=$PHC_GM_PCI vrtc.sl=$PHC_SL_PCI vrtc.ts=$TS vrtc.duration=$DURATION vrtc.fault=$FAULT vrtc.outage=$OUTAGE vrtc.latchfix=${VRTC_PHC_LATCHFIX:-1}"

# --- results ------------------------------------------------------------------

C=$WORK/console.txt
tr -d '\r' <"$WORK/console.log" >"$C"
# The files the guest sent (gzip | base64 between markers).
for f in eval.csv eval.png; do
	awk -v f="$f" '$0 == "VRTC-PHC-FILE " f " begin" { on = 1; next }
		$0 == "VRTC-PHC-FILE " f " end" { on = 0 } on' "$C" |
		base64 -d 2>/dev/null | gunzip >"$WORK/$f" 2>/dev/null || rm -f "$WORK/$f"
done
sed -n '/^==== eval report ====$/,/^==== end of eval report ====$/p' "$C" |
	sed '1d;$d' >"$WORK/report.txt"

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "  PASS $1: $2"; }
bad() { failed=$((failed + 1)); echo "  FAIL $1: $2"; }
g() { sed -n "s/^VRTC-PHC: $1 //p" "$C" | head -n 1; }

echo
echo "==== PHC end-to-end results ===="
n=$(g nics)
if [ -n "$n" ] && ! grep -q '^VRTC-PHC: FAIL' "$C"; then
	ok nics "$n; $(grep -c '^VRTC-PHC: phc ' "$C") PHCs: $(sed -n "s/^VRTC-PHC: phc \(.*\)/\1/p" "$C" | tr '\n' ';')"
else
	bad nics "$(grep '^VRTC-PHC: FAIL' "$C" || echo "no NIC line")"
fi
# A lock is gmPresent, |master_offset| < 2 us and portState SLAVE for 5 s
# in a row with no "without timestamp" in the ptp4l logs meanwhile: pmc
# alone reports gmPresent with master_offset 0 when no Rx timestamp ever
# arrives (the servo never ran; the port stays UNCALIBRATED).
l=$(g ptp4l_lock)
lv() { printf '%s' "$l" | sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }
off=$(lv master_offset_ns)
if [ "$(lv gmPresent)" = true ] && [ -n "$off" ] && [ "${off#-}" -lt 2000 ] &&
	[ "$(lv portState)" = SLAVE ] && [ "$(lv without_timestamp_in_window)" = 0 ] &&
	[ "$(lv locked_polls)" = 5 ]; then
	ok ptp4l_lock "$l"
else
	bad ptp4l_lock "${l:-no report}$(grep -q 'without timestamp' "$C" && printf '; ptp4l: %s' "$(grep -m1 'without timestamp' "$C")")"
fi
erc=$(sed -n 's/^VRTC-PHC: eval exit=//p' "$C")
exp=$((DURATION * RATE))
# the table's rows (a count after the name), not the notes under it
rows=$(awk '/^clock [0-9]/ && NF >= 10 && ($4 ~ /^[0-9]+$/ || ($4 ~ /^\(/ && $5 ~ /^[0-9]+$/))' "$WORK/report.txt")
if [ "$erc" = 0 ] && [ -n "$rows" ]; then
	# samples: the field after the name ("MONOTONIC (relative)" is two)
	short=$(printf '%s\n' "$rows" | awk -v e="$exp" '{ n = $4 ~ /^\(/ ? $5 : $4 } n + 0 < e { print $1, $2, $3 }')
	cov=$(printf '%s\n' "$rows" | awk '$NF != "n/a" && $NF != "100.000%" { print $1, $2, $3, $NF }')
	if [ -z "$short" ] && [ -z "$cov" ]; then
		ok eval "exit 0, every clock read $exp times (${DURATION} s at ${RATE} Hz) with no failed READ, coverage 100% against the live bound"
	else
		bad eval "short: ${short:-none}; coverage below 100%: ${cov:-none}"
	fi
else
	bad eval "eval exit ${erc:-?}: $(tail -n 5 "$WORK/report.txt" | tr '\n' ' ')"
fi
# The daemon's model status through the fault, from vhost-user-rtc-ctl.
st() { sed -n "s/^VRTC-PHC: status $1 t=[0-9.]* //p" "$C" | head -n 1; }
stname() { printf '%s' "$1" | sed -n 's/.*|model *\([a-z]*\).*/\1/p'; }
if [ "$FAULT" -gt 0 ]; then
	s0=$(stname "$(st steady)")
	s1=$(stname "$(st "outage+$((OUTAGE - 1))s")")
	s2=$(stname "$(st restart+20s)")
	s3=$(stname "$(st end)")
	if [ "$s0" = synchronized ] && [ "$s1" = freerunning ] &&
		[ "$s2" = synchronized ] && [ "$s3" = synchronized ]; then
		ok fault "model synchronized before, freerunning (holdover) at the end of the outage, synchronized 20 s after ptp4l's restart and at the end"
	else
		bad fault "model before=$s0 outage-end=$s1 restart+20s=$s2 end=$s3"
	fi
fi
# What the daemon counted for the probe's connection.
v=$(st end | grep -o '[0-9]* requests, [0-9]* errors' | head -n 1) || true
if [ -n "$v" ] && [ "$(echo "$v" | awk '{ print $3 }')" = 0 ] &&
	[ "$(echo "$v" | awk '{ print $1 }')" -gt 0 ]; then
	ok requests "the daemon answered $v (none lost or failed, counted by the daemon)"
else
	bad requests "daemon's count: ${v:-none}"
fi
d=$(sed -n 's/^VRTC-PHC: daemon \(exit=.*\)/\1/p' "$C" | head -n 1)
if [ "$d" = "exit=0" ]; then
	ok daemon "alive through the run, exit 0 on SIGTERM"
else
	bad daemon "${d:-$(g daemon)}"
fi
grep -q '^VRTC-GUEST-DONE rc=' "$C" || bad guest "the guest did not reach the end of its init (QEMU status $QEMU_RC)"
if [ -s "$WORK/eval.csv" ] && [ -s "$WORK/eval.png" ]; then
	ok files "eval.csv ($(($(wc -l <"$WORK/eval.csv") - 1)) rows) and eval.png ($(du -k "$WORK/eval.png" | cut -f1) KiB) from the guest"
else
	bad files "eval.csv or eval.png missing"
fi

# Steady state and across the fault, TAI clock (id 1), from the CSV:
# |offset| p50/p99/max and the bound's p50/max, per phase.
phase_stats() { # NAME FROM_S TO_S
	local sel o b
	sel=$(awk -F, -v a="$2" -v b="$3" 'NR > 1 && $3 == "TAI" && $1 >= a && $1 < b {
		print ($6 < 0 ? -$6 : $6), $9, $7 }' "$WORK/eval.csv")
	if [ -z "$sel" ]; then
		printf '  %-30s no samples\n' "$1"
		return
	fi
	# p50, p99, max of a column (mawk: no asort)
	pct() { printf '%s\n' "$sel" | awk -v c="$1" '{ print $c }' | sort -n |
		awk '{ v[NR] = $1 } END { i = int(NR * 0.99) + 1; if (i > NR) i = NR
			printf "%.0f %.0f %.0f %d", v[int(NR * 0.5) + 1], v[i], v[NR], NR }'; }
	o=$(pct 1) b=$(pct 2) w=$(pct 3)
	# shellcheck disable=SC2086 # split into p50, p99, max, n
	set -- "$1" $o $b $w
	printf '  %-30s n=%5d |offset| p50 %7s p99 %8s max %8s ns; bound p50 %7s max %8s ns; window p50 %7s ns\n' \
		"$1" "$5" "$2" "$3" "$4" "$6" "$8" "${10}"
}

echo
echo "==== summary ===="
echo "  QEMU:    $(e2e_qemu_version)"
echo "  kernel:  $(cat "$(dirname "$KERNEL_IMAGE")/version")"
echo "  setup:   two $NIC NICs, ptp4l ($([ "$TS" = hw ] && echo "-H hardware" || echo "-S software + phc2sys") timestamps), $(g nics)"
if [ -s "$WORK/eval.csv" ]; then
	echo "  served TAI minus the grandmaster's PHC (ns), by phase:"
	if [ "$FAULT" -gt 0 ]; then
		phase_stats "steady (until ptp4l stops)" 0 "$FAULT"
		phase_stats "outage (ptp4l stopped)" "$FAULT" $((FAULT + OUTAGE))
		phase_stats "after ptp4l restarts" $((FAULT + OUTAGE)) "$DURATION"
	fi
	phase_stats "whole run" 0 "$DURATION"
fi
echo "  ptp4l:   $(g ptp4l_lock)"
echo "  missing timestamps over the run: $(g without_timestamp)"
grep '^phc-igb-latch: .*released' "$C" | sed 's/^/  /'
echo "  eval report (in the guest):"
sed 's/^/    /' "$WORK/report.txt"
grep '^VRTC-PHC: status ' "$C" | sed 's/^VRTC-PHC: /  /' | cut -c1-300
if [ -n "${VRTC_PHC_OUT:-}" ]; then
	mkdir -p "$VRTC_PHC_OUT"
	cp "$WORK/eval.csv" "$WORK/eval.png" "$WORK/report.txt" "$VRTC_PHC_OUT/" 2>/dev/null || true
	echo "  kept: $VRTC_PHC_OUT/{eval.csv,eval.png,report.txt}"
fi

if [ $failed -ne 0 ]; then
	echo
	e2e_show_log "guest console" "$WORK/console.txt"
	[ -s "$WORK/qemu.log" ] && e2e_show_log "QEMU output" "$WORK/qemu.log"
fi
echo
echo "e2e-phc: $passed passed, $failed failed"
[ $failed -eq 0 ]
