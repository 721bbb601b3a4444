# shellcheck shell=bash
# The migration test (migrate.sh; sourced by lib.sh): a guest kernel with
# PCIe hotplug, and helpers for two QEMUs (source and -incoming).
#
# Cache, next to the others ($VRTC_CACHE):
#   kernel/hotplug-<key>/bzImage   key = version + recipe + both fragments

# shellcheck disable=SC2034 # variables for migrate.sh

# Bump when the hotplug kernel's build recipe (not the fragments) changes.
HOTPLUG_KERNEL_RECIPE=v1

kernel_key_hotplug() {
	local ver=$1 h
	h=$( (echo "hotplug $HOTPLUG_KERNEL_RECIPE $KERNEL_RECIPE"
		cat "$E2E_DIR/guest-kernel.config" \
			"$E2E_DIR/guest-kernel-hotplug.config") |
		sha256sum | cut -c1-12)
	printf 'hotplug-%s-%s\n' "$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+\n' '_')" "$h"
}

# tinyconfig, the common fragment and the hotplug one; both checked.
kernel_build_hotplug() {
	local src=$1 jobs frags
	jobs=$(($(nproc) + 1))
	frags=("$E2E_DIR/guest-kernel.config" "$E2E_DIR/guest-kernel-hotplug.config")
	make -C "$src" ARCH=x86_64 tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "${frags[@]}"
	make -C "$src" ARCH=x86_64 olddefconfig
	kernel_check_config "${frags[0]}" "$src/.config"
	kernel_check_config "${frags[1]}" "$src/.config"
	make -C "$src" ARCH=x86_64 -j"$jobs" bzImage
}

e2e_prepare_migrate() {
	local t
	t=$(date +%s)
	e2e_need_root
	e2e_lock
	e2e_ensure_chroot
	kernel_ensure x86_64-hotplug
	e2e_unlock
	e2e_log "QEMU: $(e2e_qemu_version); kernel: $(cat "$(dirname "$KERNEL_IMAGE")/version")"
	e2e_log "prepared in $(($(date +%s) - t))s"
}
