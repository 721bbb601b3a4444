#!/bin/sh
# A VM with a virtio-rtc device served by vhost-user-rtc, QEMU 11.1 or later.
#
#   contrib/qemu-example.sh -drive file=guest.qcow2,if=virtio
#   contrib/qemu-example.sh -kernel bzImage -initrd initrd.gz -append console=ttyS0
#
# Everything after the script name goes to QEMU as is. Override with
# environment variables: VRTC (daemon), QEMU, SOCK, MEM, SMP.
#
# The guest (Linux >= 6.16 with CONFIG_VIRTIO_RTC, _PTP, _CLASS) then has a
# PHC per clock, /dev/ptpN named "Virtio PTP type T/variant V", and a
# read-only /dev/rtcN for the smeared-UTC clock. See 99-virtio-ptp.rules
# and chrony-guest.conf in this directory.
set -eu

VRTC=${VRTC:-vhost-user-rtc}
QEMU=${QEMU:-qemu-system-x86_64}
SOCK=${SOCK:-${XDG_RUNTIME_DIR:-/tmp}/vhost-user-rtc-example.sock}
MEM=${MEM:-1G}
SMP=${SMP:-2}

# 1. The back-end first: it listens, QEMU connects to it as a client and
#    fails at start-up if nobody listens. One daemon can serve many VMs
#    (one --socket-path each); this one serves just this VM and ends with it.
"$VRTC" --socket-path "$SOCK" &
vrtc_pid=$!
trap 'kill "$vrtc_pid" 2>/dev/null; wait "$vrtc_pid" 2>/dev/null' EXIT
trap 'exit 130' INT TERM
i=0
while [ ! -S "$SOCK" ]; do
	i=$((i + 1))
	if [ $i -gt 50 ] || ! kill -0 "$vrtc_pid" 2>/dev/null; then
		echo "vhost-user-rtc did not start" >&2
		exit 1
	fi
	sleep 0.1
done

# 2. QEMU.
#  - Guest RAM must be a shared, fd-backed memory backend (memfd or a file
#    with share=on): the back-end maps it to read and write the rings.
#    Without it QEMU boots, but the device never works ("vhost_set_mem_table
#    failed").
#  - vhost-user-rtc-pci is the dedicated device (virtio id 17, 2 queues of
#    1024, no config space). On virtio-mmio machines (-M virt, -M microvm)
#    use -device vhost-user-rtc,chardev=vrtc instead, with
#    -global virtio-mmio.force-legacy=false (virtio-mmio is legacy by
#    default; virtio-rtc is virtio 1.x only). QEMU 10.2 to 11.0 have
#    only the generic device:
#      -device vhost-user-test-device-pci,chardev=vrtc,virtio-id=17,num_vqs=2,vq_size=1024
#  - No reconnect-ms= on the chardev: QEMU cannot resume this device with a
#    restarted back-end. Restart the VM instead.
#  - QEMU marks the device unmigratable. To live-migrate, put it (and an
#    ivshmem-plain status page) behind a pcie-root-port with an id= and use
#    vhost-user-rtc-ctl migrate (README, "Live migration").
"$QEMU" \
	-machine q35,memory-backend=mem -accel kvm -accel tcg \
	-m "$MEM" -smp "$SMP" \
	-object memory-backend-memfd,id=mem,size="$MEM",share=on \
	-chardev socket,id=vrtc,path="$SOCK" \
	-device vhost-user-rtc-pci,chardev=vrtc \
	-nographic \
	"$@"
