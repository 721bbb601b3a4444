# shellcheck shell=bash
# Helpers for the PHC end-to-end run (phc-guest.sh), on top of lib.sh:
# a second cached guest kernel (phc-guest-kernel.config: e1000e, igb,
# AF_PACKET, seccomp) and an initramfs holding the dynamically linked
# daemon, probe and ctl with their libraries, and linuxptp's ptp4l, pmc and
# phc2sys from the host (Debian bookworm's linuxptp package).
#
# Cache: $VRTC_CACHE/kernel/phc-<ver>-<hash>/ (like the main kernel, its own
# key), built in $VRTC_CACHE/kbuild-phc under $VRTC_CACHE/.lock-phc so that
# it neither waits for nor blocks the main kernel's builder.

# Variables set here are used by phc-guest.sh.
# shellcheck disable=SC2034

PHC_KERNEL_RECIPE=phc-v1
PHC_FRAGMENT=$E2E_DIR/phc-guest-kernel.config

phc_kernel_key() {
	local ver=$1 h
	h=$( (echo "$PHC_KERNEL_RECIPE"; cat "$PHC_FRAGMENT") |
		sha256sum | cut -c1-12)
	printf 'phc-%s-%s\n' "$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+\n' '_')" "$h"
}

phc_kernel_build() {
	local src=$1 jobs
	jobs=$(($(nproc) + 1))
	make -C "$src" ARCH=x86_64 tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$PHC_FRAGMENT"
	make -C "$src" ARCH=x86_64 olddefconfig
	kernel_check_config "$PHC_FRAGMENT" "$src/.config"
	nice make -C "$src" ARCH=x86_64 -j"$jobs" bzImage
}

# Make sure the PHC guest kernel exists; sets KERNEL_IMAGE. Needs the chroot.
phc_ensure_kernel() {
	local ver key dir
	exec 8>"$VRTC_CACHE/.lock-phc"
	flock -w 3600 8 || e2e_die "could not lock $VRTC_CACHE/.lock-phc"
	ver=$(kernel_pkg_version)
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		e2e_die "kernel: no $KERNEL_PKG candidate in the chroot's apt lists (run make e2e once)"
	fi
	key=$(phc_kernel_key "$ver")
	dir=$VRTC_CACHE/kernel/$key
	if [ -f "$dir/bzImage" ]; then
		KERNEL_IMAGE=$dir/bzImage
		e2e_log "kernel: cached ($KERNEL_PKG $ver, $dir)"
		flock -u 8
		return 0
	fi
	local work=$VRTC_CACHE/kbuild-phc dl=$VRTC_CACHE/kbuild-phc/dl src
	src=$work/$KERNEL_PKG
	# A source tree left by an interrupted build is reused.
	if [ ! -f "$src/Makefile" ]; then
		e2e_safe_rm "$work"
		mkdir -p "$dl"
		e2e_step "kernel (PHC guest): download $KERNEL_PKG $ver" "$LOGDIR/phc-kernel-download.log" 1800 \
			e2e_in_chroot "$CHROOT" "$dl:/var/tmp/vrtc-dl" -- /bin/sh -c \
			"cd /var/tmp/vrtc-dl && apt-get download -q '$KERNEL_PKG=$ver'"
		e2e_step "kernel (PHC guest): unpack the source" "$LOGDIR/phc-kernel-unpack.log" 1200 \
			/bin/sh -c "set -e; cd '$work'; dpkg-deb -x dl/*.deb pkg;
				rm -f dl/*.deb;
				tar -xf pkg/usr/src/$KERNEL_PKG.tar.xz; rm -rf pkg"
	fi
	[ -f "$src/Makefile" ] || e2e_die "kernel: no source tree at $src"
	# e2e_step sources lib.sh only: the build function comes with phc-lib.sh.
	# shellcheck disable=SC2016 # expanded by that bash
	e2e_step "kernel (PHC guest): configure and build bzImage (tinyconfig + phc-guest-kernel.config)" \
		"$LOGDIR/kernel-build-$key.log" 3600 \
		/bin/bash -c '. "$1"; . "$2"; phc_kernel_build "$3"' phc-kernel \
		"$E2E_DIR/lib.sh" "$E2E_DIR/phc-lib.sh" "$src"
	mkdir -p "$dir.new"
	cp "$src/arch/x86/boot/bzImage" "$dir.new/bzImage"
	cp "$src/.config" "$dir.new/config"
	cp "$LOGDIR/kernel-build-$key.log" "$dir.new/build.log"
	printf '%s %s\n' "$KERNEL_PKG" "$ver" >"$dir.new/version"
	e2e_safe_rm "$dir"
	mv "$dir.new" "$dir"
	e2e_safe_rm "$work"
	KERNEL_IMAGE=$dir/bzImage
	flock -u 8
	e2e_log "kernel: ready ($dir)"
}

# --- or Debian's own kernel (the default): no build ---------------------------

# The PHC guest needs nothing Debian's generic kernel lacks (no virtio-rtc):
# bookworm's linux-image (the host's apt sources, apt-get download) with
# igb, e1000e and their dependencies as modules, insmod'ed by the init.
PHC_DEBIAN_MODULES="kernel/drivers/dca/dca.ko kernel/drivers/i2c/algos/i2c-algo-bit.ko
kernel/drivers/net/ethernet/intel/igb/igb.ko
kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko"

# Sets KERNEL_IMAGE and KERNEL_MODULES (a directory of the .ko files, in
# load order in its file "order").
phc_ensure_debian_kernel() {
	local pkg ver dir m
	exec 8>"$VRTC_CACHE/.lock-phc-debian"
	flock -w 3600 8 || e2e_die "could not lock $VRTC_CACHE/.lock-phc-debian"
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || e2e_die "kernel: apt knows no linux-image-amd64 (apt-get update?)"
	ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2; exit }')
	dir=$VRTC_CACHE/kernel/debian-$pkg-$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+\n' '_')
	if [ ! -f "$dir/vmlinuz" ]; then
		e2e_safe_rm "$dir.new"
		mkdir -p "$dir.new/dl"
		chmod 0777 "$dir.new/dl" # apt's _apt user downloads into it
		e2e_step "kernel (PHC guest): download $pkg $ver" "$LOGDIR/phc-debian-kernel.log" 1800 \
			/bin/sh -c "cd '$dir.new/dl' && apt-get download -q '$pkg=$ver' &&
				dpkg-deb -x ./*.deb x"
		cp "$dir.new"/dl/x/boot/vmlinuz-* "$dir.new/vmlinuz"
		cp "$dir.new"/dl/x/boot/config-* "$dir.new/config"
		mkdir -p "$dir.new/modules"
		: >"$dir.new/modules/order"
		for m in $PHC_DEBIAN_MODULES; do
			cp "$dir.new"/dl/x/lib/modules/*/"$m" "$dir.new/modules/" ||
				e2e_die "kernel: $pkg has no $m"
			basename "$m" >>"$dir.new/modules/order"
		done
		printf '%s %s\n' "$pkg" "$ver" >"$dir.new/version"
		rm -rf "$dir.new/dl"
		e2e_safe_rm "$dir"
		mv "$dir.new" "$dir"
	else
		e2e_log "kernel: cached ($pkg $ver, $dir)"
	fi
	KERNEL_IMAGE=$dir/vmlinuz
	KERNEL_MODULES=$dir/modules
	flock -u 8
}

# --- the initramfs: busybox, our tools and linuxptp's, with their libraries

# Copy FILE into ROOT at the same path (or at DEST), with every library it loads
# (ldd's closure, the program interpreter included).
# Usage: phc_copy_with_libs ROOT FILE [DEST]
phc_copy_with_libs() {
	local root=$1 f=$2 lib
	install -D -m 0755 "$f" "$root${3:-$f}"
	for lib in $(ldd "$f" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

# phc_build_initramfs OUTDIR BUILDDIR: OUTDIR/initramfs.gz; sets INITRAMFS.
phc_build_initramfs() {
	local out=$1 build=$2 root=$1/initramfs.d f
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc,usr/share/zoneinfo}
	cp /bin/busybox "$root/bin/busybox"
	for f in vhost-user-rtc vhost-user-rtc-probe vhost-user-rtc-ctl; do
		[ -x "$build/$f" ] || e2e_die "no $build/$f (run make)"
		# into /usr/bin, not the build's own path: the guest mounts a
		# tmpfs on /tmp and /run, which would hide a build under them
		phc_copy_with_libs "$root" "$build/$f" "/usr/bin/$f"
	done
	# QEMU's igb needs help to give Linux's igb Rx timestamps (see the
	# tool's comment): static, like the e2e guest tool.
	gcc "${GUEST_CFLAGS[@]}" -o "$root/bin/phc-igb-latch" "$E2E_DIR/phc-igb-latch.c" ||
		e2e_die "compiling phc-igb-latch failed"
	for f in ptp4l pmc phc2sys phc_ctl; do
		f=$(command -v "$f") || e2e_die "missing $f (package linuxptp)"
		phc_copy_with_libs "$root" "$f"
	done
	# The daemon's and the probe's leap table; fonts for the probe's plot.
	cp "$LEAP_FILE" "$root/usr/share/zoneinfo/leap-seconds.list"
	cp -r /etc/fonts "$root/etc/fonts"
	mkdir -p "$root/usr/share/fonts/truetype/dejavu"
	cp /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
		/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
		"$root/usr/share/fonts/truetype/dejavu/" 2>/dev/null ||
		e2e_die "missing DejaVu fonts (package fonts-dejavu-core)"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\n' >"$root/etc/group"
	if [ -n "${KERNEL_MODULES:-}" ]; then
		mkdir -p "$root/lib/modules"
		cp "$KERNEL_MODULES"/* "$root/lib/modules/"
	fi
	install -m 0755 "$E2E_DIR/phc-guest-init" "$root/init"
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner 0:0 --quiet) | gzip -1n >"$out/initramfs.gz"
	INITRAMFS=$out/initramfs.gz
}

# --- QEMU: two NICs with a PHC, back to back --------------------------------

# An igb (82576) reserves its SR-IOV VFs' functions at devfn + 0x80: the
# two PFs sit far enough apart that their VF slots (22-23, 26-27) do not
# collide.
PHC_GM_PCI=0000:00:06.0
PHC_SL_PCI=0000:00:0a.0

# phc_run_qemu WORKDIR TIMEOUT_S NIC_MODEL APPEND: boot the guest with two
# NICs of NIC_MODEL (igb or e1000e) on one QEMU hub (a cable between them),
# plus QEMU's built-in virtio-rtc-pci; wait for it to power off. Console in
# WORKDIR/console.log, QEMU's output in WORKDIR/qemu.log; sets QEMU_RC.
# shellcheck disable=SC2054 # commas inside QEMU options
phc_run_qemu() {
	local work=$1 limit=$2 model=$3 append=$4 t khz n=0 bg
	# Under TCG the guest's TSC is the host's: tell the guest its rate
	# (see lib.sh's e2e_run_qemu), with the e2e guest tool built on the host.
	gcc "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../sync/sources" -I"$E2E_DIR/../../include" \
		-I"$E2E_DIR/../../src/libvrtc" -o "$work/vrtc-guest" "$E2E_DIR"/guest/*.c \
		"$E2E_DIR/../../sync/sources/phc.c" "$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "compiling the e2e guest tool (for the host's TSC rate) failed"
	khz=$("$work/vrtc-guest" hosttsc 2>/dev/null) || khz=
	[ -n "$khz" ] && append="tsc_early_khz=$khz tsc=reliable $append"
	local args=(
		-nodefaults -no-user-config
		-accel tcg -machine q35 -m 512M -smp 1
		-netdev hubport,id=n0,hubid=0
		-netdev hubport,id=n1,hubid=0
		-device "$model,netdev=n0,addr=06.0,mac=52:54:00:00:00:06"
		-device "$model,netdev=n1,addr=0a.0,mac=52:54:00:00:00:0a"
		-device virtio-rtc-pci,addr=05.0
		-kernel /vrtc/bzImage -initrd /vrtc/initramfs.gz
		-append "console=ttyS0 panic=-1 $append"
		-display none -monitor none -serial file:/vrtc/console.log
		-no-reboot -pidfile /vrtc/qemu.pid
	)
	: >"$work/console.log"
	t=$(date +%s)
	e2e_log "qemu: booting the guest with two $model NICs (TCG; timeout ${limit}s)"
	QEMU_RC=0
	e2e_in_chroot "$CHROOT" "$work:/vrtc" -- \
		timeout --kill-after=5 "$limit" qemu-system-x86_64 "${args[@]}" \
		</dev/null >"$work/qemu.log" 2>&1 &
	bg=$!
	while kill -0 $bg 2>/dev/null; do
		sleep 0.5
		n=$((n + 1))
		if [ $((n % 60)) -eq 0 ]; then
			e2e_log "qemu: running for $((n / 2))s; guest's last line: $(grep -a 'VRTC-' "$work/console.log" | tail -n 1 | tr -d '\r' | cut -c1-110)"
		fi
	done
	wait $bg || QEMU_RC=$?
	rm -f "$work/qemu.pid"
	e2e_log "qemu: exited with status $QEMU_RC after $(($(date +%s) - t))s$([ "$QEMU_RC" = 124 ] && echo " (TIMED OUT)")"
}
