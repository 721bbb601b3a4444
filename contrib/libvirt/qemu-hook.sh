#!/bin/sh
# libvirt QEMU hook: start a VM's vhost-user-rtc@VM instance before QEMU
# and stop it after, for the domains that use its socket.
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
set -eu

vm=$1
op=$2
sub=$3
rundir=${VRTC_RUNDIR:-/run/vhost-user-rtc}
wait_s=${VRTC_SOCKET_WAIT_S:-10}
sock=$rundir/$vm.sock

case "$op/$sub" in
prepare/begin | release/end) ;;
*) exit 0 ;;
esac
# Only domains that use this VM's per-VM socket.
grep -qF "path=$sock" || exit 0
unit="vhost-user-rtc@$(systemd-escape -- "$vm").service"

if [ "$op" = release ]; then
	systemctl stop --no-block "$unit" || true
	exit 0
fi

systemctl start "$unit" || {
	echo "vhost-user-rtc hook: $unit did not start (journalctl -u '$unit')" >&2
	exit 1
}
# Type=notify: systemctl start returns once the daemon said READY=1,
# which it says after its sockets listen. The wait below is for a unit
# changed to another Type= (or a daemon without $NOTIFY_SOCKET).
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt $((wait_s * 10)) ]; then
		echo "vhost-user-rtc hook: no socket $sock after $wait_s s" >&2
		exit 1
	fi
	sleep 0.1
done
