#!/bin/sh
# libvirt QEMU hook: start a VM's vhost-user-rtc@VM instance before QEMU
# and stop it after, for the domains that use its socket; and, for a
# live migration, start the destination QEMU without the device.
#
# Install (libvirt >= 6.5 runs every executable in qemu.d):
#   install -D -m 0755 qemu-hook.sh /etc/libvirt/hooks/qemu.d/vhost-user-rtc
#   systemctl restart libvirtd   (or virtqemud; hooks are read at start)
#
# libvirt calls it as HOOK VM OPERATION SUB-OPERATION with the domain XML
# on stdin. On "prepare begin", if the XML names
# /run/vhost-user-rtc/VM.sock (contrib/libvirt/vm1.xml does), it starts
# vhost-user-rtc@VM.service and waits until the socket exists, so QEMU
# finds the back-end listening; a failure stops the VM's start with the
# reason in libvirt's error. On "release end" it stops the instance.
# Domains with other sockets (the shared vhost-user-rtc.service one)
# are left alone. It never calls back into libvirt (that would deadlock).
#
# Live migration (QEMU 11.1 marks vhost-user-rtc unmigratable): the
# device must leave the guest on the source before the migration and
# come back on the destination after it. A hook cannot do either:
# libvirt runs no hook on the source before a migration, a hook may not
# call libvirt (virsh) and QMP is libvirt's own connection. What it does:
# on "migrate begin" (the destination, before its QEMU starts) it prints
# the incoming XML without the <qemu:commandline> arguments of the device
# (those that name vhost-user-rtc: the -chardev, the -device, the status
# page's memory backend) and of the ivshmem-plain device of that backend,
# since the source no longer has them; "prepare begin" then starts the
# destination's daemon. The operator runs the unplug and the plug with
# `virsh qemu-monitor-command` around `virsh migrate`, as the README's
# "Live migration" section lists them.
set -eu

vm=$1
op=$2
sub=$3
rundir=${VRTC_RUNDIR:-/run/vhost-user-rtc}
wait_s=${VRTC_SOCKET_WAIT_S:-10}
sock=$rundir/$vm.sock

case "$op/$sub" in
prepare/begin | release/end | migrate/begin) ;;
*) exit 0 ;;
esac
xml=$(cat)
unit="vhost-user-rtc@$(systemd-escape -- "$vm").service"
# Only domains that use this VM's per-VM socket; at the end, also one
# whose device came back by hot-plug (not in libvirt's XML any more).
case $xml in
*"path=$sock"*) ;;
*)
	if [ "$op" = release ] && systemctl is-active --quiet "$unit"; then
		systemctl stop --no-block "$unit" || true
	fi
	exit 0
	;;
esac

# Start the instance and wait for its socket; messages on stderr (on
# "migrate begin" stdout is the domain XML).
start_instance() {
	systemctl start "$unit" >&2 || {
		echo "vhost-user-rtc hook: $unit did not start (journalctl -u '$unit')" >&2
		exit 1
	}
	# Type=notify: systemctl start returns once the daemon said
	# READY=1, which it says after its sockets listen. The wait below
	# is for a unit changed to another Type= (or a daemon without
	# $NOTIFY_SOCKET).
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		if [ $i -gt $((wait_s * 10)) ]; then
			echo "vhost-user-rtc hook: no socket $sock after $wait_s s" >&2
			exit 1
		fi
		sleep 0.1
	done
}

case $op in
release)
	systemctl stop --no-block "$unit" || true
	;;
prepare)
	start_instance
	;;
migrate)
	# The destination's daemon now: "prepare begin" will get the XML
	# below, which no longer names its socket.
	start_instance
	# libvirt writes one <qemu:arg value='...'/> per line; drop each
	# option/value pair whose value names vhost-user-rtc or the socket, and the
	# ivshmem-plain devices of a memory backend dropped before them.
	printf '%s\n' "$xml" | awk -v sock="path=$sock" '
		function val(s) {
			sub(/.*value=./, "", s)
			sub(/.\/>.*/, "", s)
			return s
		}
		pending != "" {
			v = val($0)
			drop = v ~ /vhost-user-rtc/ || index(v, sock)
			if (v ~ /^ivshmem-plain,/) {
				for (id in gone) {
					if (v ~ ("memdev=" id "(,|$)")) drop = 1
				}
			}
			if (drop && v ~ /^memory-backend/ && match(v, /id=[^,]*/)) {
				gone[substr(v, RSTART + 3, RLENGTH - 3)] = 1
			}
			if (!drop) print pending ORS $0
			pending = ""
			next
		}
		/<qemu:arg value=.-(chardev|device|object)./ { pending = $0; next }
		{ print }
		END { if (pending != "") print pending }'
	;;
esac
