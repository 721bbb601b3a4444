# shellcheck shell=bash
# The arm64 guest of the end-to-end test (sourced by lib.sh; used by
# run.sh --arch arm64): QEMU's `-M virt` with qemu-system-aarch64 from the
# same trixie chroot, a Linux 7.2 arm64 kernel cross-built on the host with
# Debian's gcc-aarch64-linux-gnu, and an arm64 initramfs (busybox-static
# from trixie's arm64 archive, vrtc-guest cross-compiled static).
#
# Cache, next to the x86_64 one ($VRTC_CACHE):
#   chroot-trixie/.vrtc-arm64-stamp   qemu-system-arm installed, dpkg knows arm64
#   kernel/arm64-<key>/Image          key = version + recipe + both fragments
#   arm64/busybox                     busybox-static:arm64 (and its version)
#
# Everything here is separate from the x86_64 functions of lib.sh, which
# stay as they are.

# shellcheck disable=SC2034 # variables for run.sh

# Bump when the arm64 chroot additions change.
ARM64_CHROOT_STAMP="v1 trixie-backports qemu-system-arm; dpkg arch arm64"
# Bump when the arm64 kernel build recipe (not the fragments) changes.
ARM64_KERNEL_RECIPE=v1
ARM64_CROSS=aarch64-linux-gnu-
# The guest's CPU under TCG. Plain "max": the guest kernel (tinyconfig)
# has no pointer authentication, so the costly architected PAC algorithm
# of -cpu max is never run and pauth-impdef=on changes nothing measurable
# (tests/e2e/README.md, "arm64").
ARM64_CPU=${VRTC_E2E_ARM64_CPU:-max}

e2e_need_arm64() {
	local t
	for t in "${ARM64_CROSS}gcc" dpkg-deb flex bison bc; do
		command -v "$t" >/dev/null ||
			e2e_die "missing tool: $t (run contrib/install-deps.sh e2e)"
	done
	# Static linking needs the cross libc's libc.a.
	[ -r /usr/aarch64-linux-gnu/lib/libc.a ] ||
		e2e_die "missing /usr/aarch64-linux-gnu/lib/libc.a (package libc6-dev-arm64-cross)"
}

chroot_qemu_arm64_ok() {
	local v major minor
	[ -x "$CHROOT/usr/bin/qemu-system-aarch64" ] || return 1
	v=$(e2e_in_chroot "$CHROOT" -- qemu-system-aarch64 --version 2>/dev/null |
		sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	[ -n "$v" ] || return 1
	read -r major minor <<<"$v"
	[ "$major" -gt $QEMU_MIN_MAJOR ] ||
		{ [ "$major" -eq $QEMU_MIN_MAJOR ] && [ "$minor" -ge $QEMU_MIN_MINOR ]; }
}

# Add qemu-system-aarch64 (package qemu-system-arm, trixie-backports) and
# the arm64 architecture (for busybox-static:arm64) to the chroot that
# e2e_ensure_chroot made; a rebuilt chroot loses the stamp and gets them
# again.
e2e_ensure_chroot_arm64() {
	if [ "$(cat "$CHROOT/.vrtc-arm64-stamp" 2>/dev/null)" = "$ARM64_CHROOT_STAMP" ] &&
		chroot_qemu_arm64_ok; then
		e2e_log "chroot: qemu-system-aarch64 cached"
		return 0
	fi
	e2e_step "chroot: install qemu-system-arm from trixie-backports, add dpkg arch arm64" \
		"$LOGDIR/qemu-arm64-install.log" 1200 \
		e2e_in_chroot "$CHROOT" -- /bin/sh -c '
			dpkg --add-architecture arm64 &&
			apt-get update -q &&
			apt-get install -y -q --no-install-recommends \
				-t trixie-backports qemu-system-arm &&
			apt-get clean'
	chroot_qemu_arm64_ok ||
		e2e_die "chroot: qemu-system-aarch64 in $CHROOT is missing or older than $QEMU_MIN_MAJOR.$QEMU_MIN_MINOR"
	printf '%s\n' "$ARM64_CHROOT_STAMP" >"$CHROOT/.vrtc-arm64-stamp"
}

e2e_qemu_version_arm64() {
	e2e_in_chroot "$CHROOT" -- qemu-system-aarch64 --version | head -n 1
}

# A static arm64 busybox: busybox-static:arm64 from the chroot's archive
# (trixie), unpacked on the host. Sets BUSYBOX_ARM64.
e2e_ensure_busybox_arm64() {
	local dir=$VRTC_CACHE/arm64
	BUSYBOX_ARM64=$dir/busybox
	if [ -x "$BUSYBOX_ARM64" ]; then
		e2e_log "busybox arm64: cached ($(cat "$dir/busybox.version" 2>/dev/null))"
		return 0
	fi
	e2e_safe_rm "$dir/dl"
	mkdir -p "$dir/dl"
	e2e_step "busybox arm64: download busybox-static:arm64" \
		"$LOGDIR/busybox-arm64-download.log" 600 \
		e2e_in_chroot "$CHROOT" "$dir/dl:/var/tmp/vrtc-dl" -- /bin/sh -c \
		'cd /var/tmp/vrtc-dl && apt-get download -q busybox-static:arm64'
	(
		set -e
		cd "$dir/dl"
		dpkg-deb -x busybox-static_*_arm64.deb pkg
		dpkg-deb -f busybox-static_*_arm64.deb Version >../busybox.version
		# trixie ships it in /usr/bin (merged /usr); older releases in /bin
		if [ -f pkg/usr/bin/busybox ]; then cp pkg/usr/bin/busybox ../busybox.new; else cp pkg/bin/busybox ../busybox.new; fi
	) || e2e_die "busybox arm64: unpacking failed"
	file_is_static "$dir/busybox.new" ||
		e2e_die "busybox arm64: $dir/busybox.new is not static"
	mv "$dir/busybox.new" "$BUSYBOX_ARM64"
	e2e_safe_rm "$dir/dl"
	e2e_log "busybox arm64: ready ($(cat "$dir/busybox.version"))"
}

kernel_key_arm64() {
	local ver=$1 h
	h=$( (echo "arm64 $ARM64_KERNEL_RECIPE"; cat "$E2E_DIR/guest-kernel.config" \
		"$E2E_DIR/guest-kernel-arm64.config") | sha256sum | cut -c1-12)
	printf 'arm64-%s-%s\n' "$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+\n' '_')" "$h"
}

# tinyconfig, then the common fragment and the arm64 one; both are checked
# in the final .config.
kernel_build_arm64() {
	local src=$1 jobs frags
	jobs=$(($(nproc) + 1))
	frags=("$E2E_DIR/guest-kernel.config" "$E2E_DIR/guest-kernel-arm64.config")
	local mk=(make -C "$src" ARCH=arm64 CROSS_COMPILE="$ARM64_CROSS")
	"${mk[@]}" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "${frags[@]}"
	"${mk[@]}" olddefconfig
	kernel_check_config "${frags[0]}" "$src/.config"
	kernel_check_config "${frags[1]}" "$src/.config"
	"${mk[@]}" -j"$jobs" Image
}

e2e_prepare_arm64() {
	local t
	t=$(date +%s)
	e2e_need_root
	e2e_need_arm64
	e2e_lock
	e2e_ensure_chroot
	e2e_ensure_chroot_arm64
	kernel_ensure arm64
	e2e_ensure_busybox_arm64
	e2e_unlock
	e2e_log "QEMU: $(e2e_qemu_version_arm64); kernel: $(cat "$(dirname "$KERNEL_IMAGE")/version")"
	e2e_log "prepared in $(($(date +%s) - t))s"
}

# Like e2e_workdir, for the arm64 guest: $WORK with Image, the arm64
# initramfs and a host build of vrtc-guest ($WORK/vrtc-guest-host, for
# hosttai: the guest's binary does not run on the host).
e2e_workdir_arm64() {
	E2E_TAG=$1
	WORK=$(mktemp -d "/tmp/vrtc-$E2E_TAG.XXXXXX")
	DAEMON_PID=
	FAKEGPSD_PID=
	trap e2e_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	cp "$KERNEL_IMAGE" "$WORK/Image"
	e2e_build_initramfs_arm64 "$WORK"
	gcc "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../sync/sources" -I"$E2E_DIR/../../include" \
		-I"$E2E_DIR/../../src/libvrtc" \
		-o "$WORK/vrtc-guest-host" "$E2E_DIR"/guest/*.c \
		"$E2E_DIR/../../sync/sources/phc.c" "$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "compiling the guest tool for the host failed"
}

e2e_build_initramfs_arm64() {
	local out=$1 root=$1/initramfs.d
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc}
	cp "$BUSYBOX_ARM64" "$root/bin/busybox"
	"${ARM64_CROSS}gcc" "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../sync/sources" \
		-I"$E2E_DIR/../../include" -I"$E2E_DIR/../../src/libvrtc" \
		-o "$root/bin/vrtc-guest" "$E2E_DIR"/guest/*.c \
		"$E2E_DIR/../../sync/sources/phc.c" "$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: cross-compiling the guest tool for arm64 failed"
	"${ARM64_CROSS}gcc" "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../include" \
		-o "$root/bin/vrtc-now" "$E2E_DIR"/../../src/tools/now/*.c \
		"$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: cross-compiling vrtc-now for arm64 failed"
	"${ARM64_CROSS}gcc" "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../include" \
		-I"$E2E_DIR/../../src/libvrtc" \
		-o "$root/bin/vrtc-agent" "$E2E_DIR"/../../src/tools/agent/*.c \
		"$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: cross-compiling vrtc-agent for arm64 failed"
	install -m 0755 "$E2E_DIR/guest/init" "$root/init"
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner 0:0 --quiet) | gzip -9n >"$out/initramfs.gz"
	INITRAMFS=$out/initramfs.gz
}

# Where the guest sees the two devices (the parent of virtioN in sysfs):
# on virt's PCIe root bus as on q35; the first virtio-mmio -device takes
# virt's highest transport (0x0a000000 + 31 * 0x200), see QEMU's
# hw/arm/virt.c create_virtio_devices().
VRTC_OURS_PCI_ARM64=0000:00:04.0
VRTC_OURS_MMIO_ARM64=a003e00.virtio_mmio
VRTC_REF_PCI_ARM64=0000:00:05.0

# Boot the arm64 guest; the same contract as e2e_run_qemu (WORKDIR holds
# Image and initramfs.gz; sets QEMU_RC and QEMU_STOPPED).
#   e2e_run_qemu_arm64 WORKDIR TIMEOUT_S WITH_VHOST(0|1) APPEND TRANSPORT(pci|mmio)
# shellcheck disable=SC2054 # commas inside QEMU options
e2e_run_qemu_arm64() {
	local work=$1 limit=$2 vhost=$3 append=$4 transport=${5:-pci}
	local args=(
		-nodefaults -no-user-config
		-accel tcg -machine virt,gic-version=3,memory-backend=mem
		-cpu "$ARM64_CPU" -m 256M -smp 1
		-object memory-backend-memfd,id=mem,size=256M,share=on
	)
	if [ "$vhost" = 1 ]; then
		args+=(-chardev socket,id=vrtc,path=/vrtc/vrtc.sock)
		case $transport in
		pci) args+=(-device vhost-user-rtc-pci,chardev=vrtc,addr=04.0) ;;
		# virtio-mmio is legacy (virtio 0.9) by default; virtio-rtc is
		# a virtio 1.x device and the daemon refuses a driver that does
		# not ack VERSION_1.
		mmio) args+=(-global virtio-mmio.force-legacy=false
			-device vhost-user-rtc,chardev=vrtc) ;;
		*) e2e_die "unknown transport $transport (pci or mmio)" ;;
		esac
		# the daemon's status page, read-only to the guest
		args+=(-object memory-backend-file,id=vrtcpage,mem-path=/vrtc/vrtc.vmclock,size=4096,share=on,readonly=on
			-device ivshmem-plain,memdev=vrtcpage,addr=06.0)
	fi
	args+=(
		-device virtio-rtc-pci,addr=05.0
		-kernel /vrtc/Image -initrd /vrtc/initramfs.gz
		-append "console=ttyAMA0 panic=-1 $append"
		-display none -monitor none -serial file:/vrtc/console.log
		-no-reboot -pidfile /vrtc/qemu.pid
	)
	e2e_qemu_launch "$work" "$limit" qemu-system-aarch64 "${args[@]}"
}
