# shellcheck shell=bash
# Shared helpers for the end-to-end test (run.sh) and the demo (demo.sh).
#
# They build, once, and cache outside the work tree:
#   - a Debian trixie chroot with QEMU >= 11.1 from trixie-backports (the
#     first QEMU with -device vhost-user-rtc-pci; it does not install on the
#     bookworm host, so it lives in a chroot);
#   - a tiny x86_64 guest kernel from Debian's linux-source-7.2 with
#     CONFIG_VIRTIO_RTC, _PTP and _CLASS built in (no Debian kernel image
#     enables them);
# and, on every run (it takes a second), a busybox initramfs with the static
# guest tools and the init script.
#
# Cache: $VRTC_CACHE (default /var/cache/vhost-user-rtc)
#   chroot-trixie/            the chroot; .vrtc-stamp says what it holds
#   kernel/<key>/bzImage      key = linux-source version + recipe + fragment hash
#   logs/                     logs of the long steps (tail printed on failure)
#
# The Debian mirror is read from the host's apt configuration at run time.
# Everything runs as root, non-interactively; QEMU and apt run inside a
# private mount namespace (unshare -m), so no mount outlives the script.

# Variables set here are used by run.sh and demo.sh.
# shellcheck disable=SC2034

set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VRTC_CACHE=${VRTC_CACHE:-/var/cache/vhost-user-rtc}
CHROOT=$VRTC_CACHE/chroot-trixie
LOGDIR=$VRTC_CACHE/logs

# Bump when the chroot recipe changes; a stamp mismatch rebuilds the chroot.
CHROOT_STAMP="v1 trixie minbase + trixie-backports qemu-system-x86 (>= 11.1)"
# Bump when the kernel build recipe (not the fragment) changes.
KERNEL_RECIPE=v1
KERNEL_PKG=linux-source-7.2

QEMU_MIN_MAJOR=11
QEMU_MIN_MINOR=1

T0=$(date +%s)

# --- output ---------------------------------------------------------------

e2e_log() {
	printf '>> [e2e %4ss] %s\n' "$(($(date +%s) - T0))" "$*"
}

e2e_die() {
	printf '!! [e2e] FAILED: %s\n' "$*" >&2
	exit 1
}

# Run one long step with its output in a log file; print one line when it
# starts and one when it ends (with its duration), the log's tail on failure.
#   e2e_step NAME LOGFILE TIMEOUT_S CMD...
e2e_step() {
	local name=$1 log=$2 limit=$3 t rc=0
	shift 3
	mkdir -p "$(dirname "$log")"
	t=$(date +%s)
	e2e_log "$name ..."
	# A heartbeat on long steps (the kernel build takes minutes); it
	# stops with the step, or with this shell if it is interrupted.
	(
		while sleep 30; do
			kill -0 $$ 2>/dev/null || exit 0
			e2e_log "$name: $(($(date +%s) - t))s, at: $(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c1-70)"
		done
	) &
	local beat=$!
	# Through a fresh bash that sources this file, so CMD may be a function.
	# shellcheck disable=SC2016
	timeout --kill-after=30 "$limit" /bin/bash -c \
		'. "$0"; "$@"' "$E2E_DIR/lib.sh" "$@" </dev/null >"$log" 2>&1 || rc=$?
	kill "$beat" 2>/dev/null || true
	wait "$beat" 2>/dev/null || true
	if [ $rc -ne 0 ]; then
		printf '!! [e2e] %s failed (exit %d%s) after %ss; last lines of %s:\n' \
			"$name" $rc "$([ $rc -eq 124 ] && echo ", timed out at ${limit}s")" \
			"$(($(date +%s) - t))" "$log" >&2
		tail -n 40 "$log" | sed 's/^/   | /' >&2
		exit 1
	fi
	e2e_log "$name done in $(($(date +%s) - t))s (log: $log)"
}

# --- host facts -----------------------------------------------------------

# The Debian mirror the host's apt uses: the first URIs of a deb822 entry
# (debian.sources first) for a Debian release suite that is not -security,
# else the first such plain "deb" line of sources.list.
DEBIAN_SUITES='bullseye|bookworm|trixie|forky|duke|sid|oldstable|stable|testing|unstable'
e2e_mirror() {
	local m="" f
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		m=$(awk -v suites_re="^($DEBIAN_SUITES)(-updates|-backports)?\$" '
			BEGIN { RS = ""; FS = "\n" }
			{
				uris = ""; suites = ""; types = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^[ \t]*#/) continue
					if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
					if ($i ~ /^Suites:/) { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
					if ($i ~ /^Types:/) { types = $i }
				}
				if (uris == "" || types !~ /deb([ \t]|$)/) next
				n = split(suites, s, /[ \t]+/); ok = 0
				for (j = 1; j <= n; j++) if (s[j] ~ suites_re) ok = 1
				if (!ok) next
				split(uris, u, /[ \t]+/)
				print u[1]; exit
			}' "$f")
		[ -n "$m" ] && break
	done
	if [ -z "$m" ] && [ -r /etc/apt/sources.list ]; then
		m=$(awk -v suites_re="^($DEBIAN_SUITES)(-updates|-backports)?\$" '
			$1 != "deb" { next }
			{
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) ~ suites_re) { print $i; exit }
			}' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || e2e_die "cannot find the Debian mirror in the host's apt sources"
	printf '%s\n' "${m%/}"
}

e2e_need_root() {
	[ "$(id -u)" -eq 0 ] || e2e_die "the end-to-end test needs root (chroot, mounts, debootstrap)"
	local t
	for t in debootstrap unshare chroot flock timeout gcc cpio gzip make readelf; do
		command -v "$t" >/dev/null || e2e_die "missing tool: $t (run contrib/install-deps.sh e2e)"
	done
	[ -x /bin/busybox ] || e2e_die "missing /bin/busybox (package busybox-static)"
	file_is_static /bin/busybox || e2e_die "/bin/busybox is not static (install busybox-static)"
}

file_is_static() {
	# A static ELF has no program interpreter.
	! LC_ALL=C readelf -lW "$1" 2>/dev/null | grep -q 'INTERP'
}

# Serialise cache builders (make check and make demo may run together).
e2e_lock() {
	mkdir -p "$VRTC_CACHE" "$LOGDIR"
	exec 9>"$VRTC_CACHE/.lock"
	if ! flock -n 9; then
		e2e_log "waiting for another run holding $VRTC_CACHE/.lock"
		flock -w 3600 9 || e2e_die "could not lock $VRTC_CACHE/.lock"
	fi
}

e2e_unlock() {
	flock -u 9 2>/dev/null || true
}

# Refuse to delete a tree that still has something mounted below it.
e2e_safe_rm() {
	local d=$1
	[ -e "$d" ] || return 0
	if awk -v p="$d/" 'index($2 "/", p) == 1 { found = 1 } END { exit !found }' \
		/proc/self/mounts; then
		e2e_die "refusing to remove $d: something is mounted below it (umount it first)"
	fi
	rm -rf --one-file-system "$d"
}

# --- the chroot -----------------------------------------------------------

# Run a command inside a chroot, in a private mount namespace with /dev,
# /proc and /sys, and with extra bind mounts given as SRC:DEST pairs before
# "--".  The mounts vanish with the namespace.
#   e2e_in_chroot ROOT [SRC:DEST ...] -- CMD...
e2e_in_chroot() {
	local root=$1 v
	# Proxy settings of the caller, if any, for apt in the chroot.
	E2E_PROXY_ENV=
	for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
		[ -n "${!v:-}" ] && E2E_PROXY_ENV+=" $v=${!v}"
	done
	export E2E_PROXY_ENV
	shift
	local binds=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		binds+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	# shellcheck disable=SC2016
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		root=$1; n=$2; shift 2
		mount --rbind /dev "$root/dev"
		mount -t proc proc "$root/proc"
		mount --rbind /sys "$root/sys"
		while [ "$n" -gt 0 ]; do
			src=${1%%:*}; dst=$root${1#*:}
			mkdir -p "$dst"
			mount --bind "$src" "$dst"
			shift; n=$((n - 1))
		done
		exec chroot "$root" /usr/bin/env -i \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
			DEBIAN_FRONTEND=noninteractive $E2E_PROXY_ENV "$@"
	' e2e-chroot "$root" "${#binds[@]}" "${binds[@]}" "$@"
}

chroot_qemu_ok() {
	local root=$1 v
	[ -x "$root/usr/bin/qemu-system-x86_64" ] || return 1
	v=$(e2e_in_chroot "$root" -- qemu-system-x86_64 --version 2>/dev/null |
		sed -n 's/^QEMU emulator version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	[ -n "$v" ] || return 1
	local major minor
	read -r major minor <<<"$v"
	[ "$major" -gt $QEMU_MIN_MAJOR ] ||
		{ [ "$major" -eq $QEMU_MIN_MAJOR ] && [ "$minor" -ge $QEMU_MIN_MINOR ]; }
}

# Make sure $CHROOT holds trixie with QEMU >= 11.1; build it when missing.
e2e_ensure_chroot() {
	if [ -f "$CHROOT/.vrtc-stamp" ] &&
		[ "$(cat "$CHROOT/.vrtc-stamp")" = "$CHROOT_STAMP" ] &&
		chroot_qemu_ok "$CHROOT"; then
		e2e_log "chroot: cached ($CHROOT)"
		return 0
	fi
	local mirror new=$CHROOT.new
	mirror=$(e2e_mirror)
	e2e_log "chroot: building trixie + QEMU from trixie-backports (mirror from apt config: $mirror)"
	e2e_safe_rm "$new"
	e2e_step "chroot: debootstrap trixie" "$LOGDIR/debootstrap.log" 1200 \
		unshare --mount --propagation private -- \
		debootstrap --variant=minbase trixie "$new" "$mirror"
	cat >"$new/etc/apt/sources.list.d/backports.sources" <<EOF
Types: deb
URIs: $mirror
Suites: trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	# Keep the chroot small and apt quiet.
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$new/etc/apt/apt.conf.d/90vrtc"
	# The host's apt proxy settings, if any.
	apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' \
		>"$new/etc/apt/apt.conf.d/91vrtc-proxy" || true
	e2e_step "chroot: install qemu-system-x86 from trixie-backports" \
		"$LOGDIR/qemu-install.log" 1200 \
		e2e_in_chroot "$new" -- /bin/sh -c '
			apt-get update -q &&
			apt-get install -y -q --no-install-recommends \
				-t trixie-backports qemu-system-x86 &&
			apt-get clean'
	chroot_qemu_ok "$new" ||
		e2e_die "chroot: QEMU in $new is missing or older than $QEMU_MIN_MAJOR.$QEMU_MIN_MINOR"
	printf '%s\n' "$CHROOT_STAMP" >"$new/.vrtc-stamp"
	e2e_safe_rm "$CHROOT"
	mv "$new" "$CHROOT"
	e2e_log "chroot: ready ($CHROOT)"
}

e2e_qemu_version() {
	e2e_in_chroot "$CHROOT" -- qemu-system-x86_64 --version | head -n 1
}

# --- the guest kernel -----------------------------------------------------

# Candidate version of linux-source-7.2 as the chroot's apt sees it.
kernel_pkg_version() {
	e2e_in_chroot "$CHROOT" -- apt-cache policy "$KERNEL_PKG" 2>/dev/null |
		awk '/Candidate:/ { print $2; exit }'
}

kernel_key() {
	local ver=$1 h
	h=$( (echo "$KERNEL_RECIPE"; cat "$E2E_DIR/guest-kernel.config") |
		sha256sum | cut -c1-12)
	printf '%s-%s\n' "$(printf '%s' "$ver" | tr -c 'A-Za-z0-9.+\n' '_')" "$h"
}

# Check that every "CONFIG_X=y" / "# CONFIG_X is not set" line of the
# fragment made it into the final .config.
kernel_check_config() {
	local frag=$1 cfg=$2 bad=0 line sym
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF "$line" "$cfg" || {
				echo "   fragment wants '$line', .config has: $(grep -E "^(# )?${line%%=*}[= ]" "$cfg" || echo 'nothing')" >&2
				bad=1
			}
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			if grep -q "^$sym=" "$cfg"; then
				echo "   fragment wants '$line', .config has: $(grep "^$sym=" "$cfg")" >&2
				bad=1
			fi
			;;
		esac
	done <"$frag"
	return $bad
}

kernel_build() {
	local src=$1 jobs
	jobs=$(($(nproc) + 1))
	make -C "$src" ARCH=x86_64 tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" \
		"$E2E_DIR/guest-kernel.config"
	make -C "$src" ARCH=x86_64 olddefconfig
	kernel_check_config "$E2E_DIR/guest-kernel.config" "$src/.config"
	make -C "$src" ARCH=x86_64 -j"$jobs" bzImage
}

# kernel_ensure ARCH: make sure a guest kernel for ARCH (x86_64, or arm64
# with lib-arm64.sh) and the current fragments is in the cache, keyed by
# the package version and the fragments' hash (kernel_key, kernel_key_arm64);
# sets KERNEL_IMAGE.
kernel_ensure() {
	local arch=$1 ver key dir src pass
	local label=kernel logp=kernel image=bzImage built=arch/x86/boot/bzImage
	local keyf=kernel_key buildf=kernel_build work=$VRTC_CACHE/kbuild tag=
	local what="configure and build bzImage (tinyconfig + guest-kernel.config"
	if [ "$arch" = arm64 ]; then
		label="kernel arm64" logp=kernel-arm64 image=Image
		built=arch/arm64/boot/Image keyf=kernel_key_arm64
		buildf=kernel_build_arm64 work=$VRTC_CACHE/kbuild-arm64 tag=" arm64"
		what="configure and cross-build Image (tinyconfig + guest-kernel.config + guest-kernel-arm64.config"
	fi
	# Cached for the candidate the chroot's lists name? Otherwise refresh
	# them first, so that we download a version the mirror still has.
	for pass in cached updated; do
		if [ "$pass" = updated ]; then
			e2e_step "$label: apt-get update in the chroot" "$LOGDIR/apt-update.log" 600 \
				e2e_in_chroot "$CHROOT" -- apt-get update -q
		fi
		ver=$(kernel_pkg_version)
		if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
			[ "$pass" = cached ] && continue
			e2e_die "$label: no $KERNEL_PKG candidate in the chroot's apt sources"
		fi
		key=$($keyf "$ver")
		dir=$VRTC_CACHE/kernel/$key
		if [ -f "$dir/$image" ]; then
			KERNEL_IMAGE=$dir/$image
			e2e_log "$label: cached ($KERNEL_PKG $ver, $dir)"
			return 0
		fi
	done

	e2e_safe_rm "$work"
	mkdir -p "$work/dl"
	e2e_step "$label: download $KERNEL_PKG $ver" "$LOGDIR/$logp-download.log" 1800 \
		e2e_in_chroot "$CHROOT" "$work/dl:/var/tmp/vrtc-dl" -- /bin/sh -c \
		"cd /var/tmp/vrtc-dl && apt-get download -q '$KERNEL_PKG=$ver'"
	e2e_step "$label: unpack the source" "$LOGDIR/$logp-unpack.log" 1200 \
		/bin/sh -c "set -e; cd '$work'; dpkg-deb -x dl/*.deb pkg;
			rm -f dl/*.deb;
			tar -xf pkg/usr/src/$KERNEL_PKG.tar.xz; rm -rf pkg"
	src=$work/$KERNEL_PKG
	[ -f "$src/Makefile" ] || e2e_die "$label: no source tree at $src"
	e2e_step "$label: $what, -j$(($(nproc) + 1)))" \
		"$LOGDIR/kernel-build-$key.log" 3600 $buildf "$src"
	mkdir -p "$dir.new"
	cp "$src/$built" "$dir.new/$image"
	cp "$src/.config" "$dir.new/config"
	cp "$LOGDIR/kernel-build-$key.log" "$dir.new/build.log"
	printf '%s %s%s\n' "$KERNEL_PKG" "$ver" "$tag" >"$dir.new/version"
	e2e_safe_rm "$dir"
	mv "$dir.new" "$dir"
	e2e_safe_rm "$work"
	KERNEL_IMAGE=$dir/$image
	e2e_log "$label: ready ($dir)"
}

# --- the initramfs --------------------------------------------------------

GUEST_CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2
	-Wmissing-prototypes -Wstrict-prototypes -static -D_GNU_SOURCE)

# Build the initramfs into DIR/initramfs.gz with busybox, the static guest
# tool vrtc-guest (all of guest/*.c and sync/sources/phc.c) and the init script.  Sets INITRAMFS.
# e2e_workdir TAG: make $WORK (a fresh directory under /tmp) holding the
# guest kernel and initramfs, and on exit kill the guest and the daemon
# ($DAEMON_PID, set by e2e_start_daemon) and remove $WORK (VRTC_E2E_KEEP=1 keeps it).
e2e_workdir() {
	E2E_TAG=$1
	WORK=$(mktemp -d "/tmp/vrtc-$E2E_TAG.XXXXXX")
	DAEMON_PID=
	FAKEGPSD_PID=
	trap e2e_cleanup EXIT
	trap 'exit 143' TERM INT HUP
	cp "$KERNEL_IMAGE" "$WORK/bzImage"
	e2e_build_initramfs "$WORK"
}

e2e_cleanup() {
	local rc=$?
	e2e_kill_qemu "$WORK"
	if [ -n "${DAEMON_PID:-}" ]; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	# a daemon under a supervisor (its pid file)
	if [ -s "$WORK/vrtc.pid" ]; then
		kill -KILL "$(cat "$WORK/vrtc.pid")" 2>/dev/null || true
	fi
	if [ -n "${FAKEGPSD_PID:-}" ]; then
		kill -KILL "$FAKEGPSD_PID" 2>/dev/null || true
	fi
	if [ "${VRTC_E2E_KEEP:-0}" = 1 ]; then
		echo ">> [$E2E_TAG] work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}

e2e_build_initramfs() {
	local out=$1 root=$1/initramfs.d c
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc}
	cp /bin/busybox "$root/bin/busybox"
	# With the daemon's PHC reader (sync/sources/phc.c, no GLib) and
	# libvrtc (src/libvrtc) linked in; vrtc-now is libvrtc's CLI.
	gcc "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../sync/sources" -I"$E2E_DIR/../../include" \
		-I"$E2E_DIR/../../src/libvrtc" \
		-o "$root/bin/vrtc-guest" "$E2E_DIR"/guest/*.c \
		"$E2E_DIR/../../sync/sources/phc.c" "$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: compiling the guest tool (guest/*.c, sync/sources/phc.c, src/libvrtc) failed"
	gcc "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../include" \
		-o "$root/bin/vrtc-now" "$E2E_DIR"/../../src/tools/now/*.c \
		"$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: compiling vrtc-now failed"
	# the guest agent (checks_agent.c starts it)
	gcc "${GUEST_CFLAGS[@]}" -I"$E2E_DIR/../../include" \
		-I"$E2E_DIR/../../src/libvrtc" \
		-o "$root/bin/vrtc-agent" "$E2E_DIR"/../../src/tools/agent/*.c \
		"$E2E_DIR"/../../src/libvrtc/*.c ||
		e2e_die "initramfs: compiling vrtc-agent failed"
	install -m 0755 "$E2E_DIR/guest/init" "$root/init"
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner 0:0 --quiet) | gzip -9n >"$out/initramfs.gz"
	INITRAMFS=$out/initramfs.gz
}

# --- a run: leap table, daemon, QEMU ------------------------------------

LEAP_FILE=${VRTC_LEAP_FILE:-/usr/share/zoneinfo/leap-seconds.list}

# Sets LEAP_TAI_UTC (TAI-UTC now, s), LEAP_NEAR (1 if a leap second is
# within a day of now), LEAP_EXPIRED (1 if the list's expiry date passed),
# LEAP_EXPIRES (expiry as a date).
e2e_leap_facts() {
	[ -r "$LEAP_FILE" ] || e2e_die "no leap-second list at $LEAP_FILE (package tzdata)"
	local now out
	now=$(($(date +%s) + 2208988800))
	out=$(awk -v now="$now" '
		/^#@/ { expiry = $2; next }
		/^#/ || NF < 2 { next }
		{
			if ($1 <= now) off = $2
			d = $1 - now; if (d < 0) d = -d
			if (d < 86400) near = 1
		}
		END { printf "%d %d %d %.0f\n", off, near, (expiry != "" && expiry < now), expiry }
	' "$LEAP_FILE")
	local exp
	read -r LEAP_TAI_UTC LEAP_NEAR LEAP_EXPIRED exp <<<"$out"
	LEAP_EXPIRES=$(date -u -d "@$((exp - 2208988800))" +%Y-%m-%d 2>/dev/null || echo "?")
}

# The host kernel's TAI offset (adjtimex tai field); sets HOST_TAI.
e2e_host_tai() {
	HOST_TAI=$("$1" hosttai | cut -d' ' -f1) || HOST_TAI="?"
}

# --user root where the daemon would refuse to start: as root on a machine
# without its user vhost-user-rtc (it never stays root unless asked).
e2e_user_args() {
	if [ "$(id -u)" = 0 ] && ! getent passwd vhost-user-rtc >/dev/null; then
		echo "--user root"
	fi
}

# Start the daemon listening on SOCK, log in LOG, with extra OPTIONs (its
# time sources; none: the host's system clock); sets DAEMON_PID.
#   e2e_start_daemon DAEMON SOCK LOG [OPTION...]
e2e_start_daemon() {
	local daemon=$1 sock=$2 log=$3 i
	shift 3
	[ -x "$daemon" ] || e2e_die "daemon $daemon is not an executable"
	# The status page next to the socket, for ivshmem-plain.
	# shellcheck disable=SC2046,SC2086 # words to split
	# E2E_SUPERVISOR: run it under that fd-store supervisor, which
	# writes the daemon's pid to SOCK's .pid (DAEMON_PID is its own)
	# shellcheck disable=SC2046,SC2086 # words to split
	${E2E_SUPERVISOR:+"$E2E_SUPERVISOR" --pid-file "${sock%.sock}.pid" --} \
		"$daemon" --socket-path "$sock" --control-socket "${sock%.sock}.ctl" \
		--vmclock-page "${sock%.sock}.vmclock" $(e2e_user_args) \
		-v "$@" ${VRTC_DAEMON_ARGS:-} </dev/null >"$log" 2>&1 &
	DAEMON_PID=$!
	for i in $(seq 1 100); do
		[ -S "$sock" ] && break
		if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			wait "$DAEMON_PID" && i=0 || i=$?
			e2e_show_log "daemon log" "$log" 60
			e2e_die "the daemon exited (status $i) before listening on $sock"
		fi
		sleep 0.1
	done
	[ -S "$sock" ] || {
		e2e_show_log "daemon log" "$log" 60
		e2e_die "the daemon did not create $sock within 10 s"
	}
	e2e_log "daemon: pid $DAEMON_PID listening on $sock"
}

# Wait until a line of LOG matches the extended regex RE, at most LIMIT_S;
# print the first such line. Fails if none came.
#   e2e_wait_log LOG RE LIMIT_S
e2e_wait_log() {
	local log=$1 re=$2 i
	for i in $(seq 1 $(($3 * 10))); do
		grep -m 1 -E "$re" "$log" && return 0
		sleep 0.1
	done
	return 1
}

# The fake gpsd (fakegpsd.c: it reports the host's CLOCK_REALTIME as the
# receiver's UTC, with PPS), built with the host's gcc into WORKDIR and
# started on an ephemeral port of 127.0.0.1; sets FAKEGPSD_PID and
# GPSD_PORT. e2e_cleanup stops it.
#   e2e_start_fakegpsd WORKDIR
e2e_start_fakegpsd() {
	local work=$1 i
	gcc -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 \
		-Wmissing-prototypes -Wstrict-prototypes -D_GNU_SOURCE \
		-o "$work/fakegpsd" "$E2E_DIR/fakegpsd.c" ||
		e2e_die "compiling the fake gpsd (fakegpsd.c) failed"
	"$work/fakegpsd" "$work/gpsd.port" </dev/null >"$work/fakegpsd.log" 2>&1 &
	FAKEGPSD_PID=$!
	for i in $(seq 1 50); do
		[ -s "$work/gpsd.port" ] && break
		kill -0 "$FAKEGPSD_PID" 2>/dev/null || break
		sleep 0.1
	done
	GPSD_PORT=$(cat "$work/gpsd.port" 2>/dev/null) ||
		e2e_die "the fake gpsd did not start: $(cat "$work/fakegpsd.log")"
	e2e_log "fake gpsd: pid $FAKEGPSD_PID on 127.0.0.1:$GPSD_PORT (reports this host's CLOCK_REALTIME as UTC, PPS every second)"
}

# Stop the fake gpsd (the daemon's source is lost); sets GPSD_STOPPED_NS
# (host CLOCK_REALTIME when it had exited).
e2e_stop_fakegpsd() {
	[ -n "${FAKEGPSD_PID:-}" ] || return 0
	kill -TERM "$FAKEGPSD_PID" 2>/dev/null || true
	wait "$FAKEGPSD_PID" 2>/dev/null || true
	FAKEGPSD_PID=
	GPSD_STOPPED_NS=$(date +%s%N)
}

# What the daemon says over its control socket (next to SOCK, as .ctl),
# with vhost-user-rtc-ctl from beside the daemon binary.
#   e2e_daemon_status DAEMON SOCK [--json]
e2e_daemon_status() {
	local ctl
	ctl="$(dirname "$1")/vhost-user-rtc-ctl"
	[ -x "$ctl" ] || { echo "no $ctl (run make)"; return 1; }
	"$ctl" --socket "${2%.sock}.ctl" status "${@:3}"
}

# Stop the daemon with SIGTERM; sets DAEMON_RESULT to "ok" or to why not.
e2e_stop_daemon() {
	local i rc=0
	DAEMON_RESULT=ok
	[ -n "${DAEMON_PID:-}" ] || return 0
	if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
		wait "$DAEMON_PID" || rc=$?
		DAEMON_RESULT="died during the run (exit status $rc$([ $rc -gt 128 ] && echo ", signal $((rc - 128))"))"
		DAEMON_PID=
		return 0
	fi
	kill -TERM "$DAEMON_PID"
	for i in $(seq 1 100); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ "${DAEMON_ADOPTED:-0}" = 1 ]; then
		# a process of a live upgrade: not our child, no status to
		# read; it must end on SIGTERM and say so in its log
		if kill -0 "$DAEMON_PID" 2>/dev/null; then
			kill -KILL "$DAEMON_PID" 2>/dev/null || true
			DAEMON_RESULT="did not exit within 10 s of SIGTERM (killed)"
		fi
		DAEMON_PID=
		return 0
	fi
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_RESULT="did not exit within 10 s of SIGTERM (killed)"
	else
		wait "$DAEMON_PID" || rc=$?
		[ $rc -eq 0 ] || DAEMON_RESULT="exit status $rc after SIGTERM$([ $rc -gt 128 ] && echo " (signal $((rc - 128)))")"
	fi
	DAEMON_PID=
}

# Kill a QEMU still running from WORKDIR (after a signal or an error).
e2e_kill_qemu() {
	local pid
	pid=$(cat "$1/qemu.pid" 2>/dev/null) || return 0
	if [ -n "$pid" ]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

e2e_show_log() {
	local title=$1 file=$2 n=${3:-0}
	echo "----- $title ($file)$([ "$n" -gt 0 ] && echo ", last $n lines") -----"
	if [ -r "$file" ]; then
		if [ "$n" -gt 0 ]; then
			tail -n "$n" "$file" | tr -d '\r'
		else
			tr -d '\r' <"$file"
		fi
	else
		echo "(missing)"
	fi
	echo "----- end of $title -----"
}

# Boot the guest under QEMU (from the chroot) and wait for it to power off.
#   e2e_run_qemu WORKDIR TIMEOUT_S WITH_VHOST(0|1) APPEND
# WORKDIR holds bzImage, initramfs.gz (and initramfs.d/, from
# e2e_build_initramfs) and the socket vrtc.sock; it is seen
# as /vrtc inside the chroot. The serial console goes to WORKDIR/console.log,
# QEMU's own output to WORKDIR/qemu.log. Sets QEMU_RC, and QEMU_STOPPED
# when it had to stop QEMU because the daemon died.
VRTC_OURS_PCI=0000:00:04.0
VRTC_REF_PCI=0000:00:05.0
# shellcheck disable=SC2054 # commas inside QEMU options
e2e_run_qemu() {
	local work=$1 limit=$2 vhost=$3 append=$4
	# Under TCG the guest's TSC is the host's; tell the guest its rate, as
	# its calibration against the emulated PIT sometimes fails and leaves
	# it on jiffies (see vrtc-guest hosttsc).
	local khz
	khz=$("$work/initramfs.d/bin/vrtc-guest" hosttsc 2>/dev/null) || khz=
	[ -n "$khz" ] && append="tsc_early_khz=$khz tsc=reliable $append"
	local args=(
		-nodefaults -no-user-config
		-accel tcg -machine q35,memory-backend=mem -m 256M -smp 1
		-object memory-backend-memfd,id=mem,size=256M,share=on
	)
	if [ "$vhost" = 1 ]; then
		args+=(-chardev socket,id=vrtc,path=/vrtc/vrtc.sock
			-device vhost-user-rtc-pci,chardev=vrtc,addr=04.0
			# the daemon's status page, read-only to the guest
			-object memory-backend-file,id=vrtcpage,mem-path=/vrtc/vrtc.vmclock,size=4096,share=on,readonly=on
			-device ivshmem-plain,memdev=vrtcpage,addr=06.0)
	fi
	args+=(
		-device virtio-rtc-pci,addr=05.0
		-kernel /vrtc/bzImage -initrd /vrtc/initramfs.gz
		-append "console=ttyS0 panic=-1 $append"
		-display none -monitor none -serial file:/vrtc/console.log
		-no-reboot -pidfile /vrtc/qemu.pid
	)
	e2e_qemu_launch "$work" "$limit" qemu-system-x86_64 "${args[@]}"
}

# Start QEMU (from the chroot, WORKDIR seen as /vrtc) in the background and
# watch it until it exits: a progress line every 30 s, the function named
# by E2E_WATCH_HOOK (if set) called with WORKDIR every 0.5 s (run.sh acts
# on the guest's console markers there), and QEMU stopped 15 s after the
# daemon died. Sets QEMU_RC and QEMU_STOPPED.
#   e2e_qemu_launch WORKDIR TIMEOUT_S QEMU_BINARY ARGS...
e2e_qemu_launch() {
	local work=$1 limit=$2 t
	shift 2
	: >"$work/console.log"
	t=$(date +%s)
	e2e_log "qemu: booting the guest ($1, TCG; timeout ${limit}s)"
	QEMU_RC=0
	QEMU_STOPPED=
	# In the background, so that a signal to this script runs its trap
	# (which kills QEMU by its pid file) without waiting for QEMU.
	e2e_in_chroot "$CHROOT" "$work:/vrtc" -- \
		timeout --kill-after=5 "$limit" "$@" \
		</dev/null >"$work/qemu.log" 2>&1 &
	local bg=$! n=0 dead=0
	# Watch: if the daemon dies, give the guest 15 s to notice and end,
	# then stop QEMU (a guest waiting for a dead device would otherwise
	# sit until the timeout).
	while kill -0 $bg 2>/dev/null; do
		sleep 0.5
		n=$((n + 1))
		[ -z "${E2E_WATCH_HOOK:-}" ] || "$E2E_WATCH_HOOK" "$work"
		if [ $((n % 60)) -eq 0 ]; then
			e2e_log "qemu: running for $((n / 2))s; guest's last line: $(grep -a 'VRTC-' "$work/console.log" | tail -n 1 | tr -d '\r' | cut -c1-100)"
		fi
		if [ -n "${DAEMON_PID:-}" ] && ! kill -0 "$DAEMON_PID" 2>/dev/null; then
			dead=$((dead + 1))
			[ $dead -eq 1 ] && e2e_log "qemu: the daemon died; stopping QEMU in 15 s"
			if [ $dead -eq 30 ]; then
				QEMU_STOPPED="stopped by this script 15 s after the daemon died"
				e2e_kill_qemu "$work"
			fi
		fi
	done
	wait $bg || QEMU_RC=$?
	rm -f "$work/qemu.pid"
	e2e_log "qemu: exited with status $QEMU_RC after $(($(date +%s) - t))s$([ "$QEMU_RC" = 124 ] && echo " (TIMED OUT)")"
}

# --- everything -----------------------------------------------------------

e2e_prepare() {
	local t
	t=$(date +%s)
	e2e_need_root
	e2e_lock
	e2e_ensure_chroot
	kernel_ensure x86_64
	e2e_unlock
	e2e_log "QEMU: $(e2e_qemu_version); kernel: $(cat "$(dirname "$KERNEL_IMAGE")/version")"
	e2e_log "prepared in $(($(date +%s) - t))s"
}

# The arm64 guest (run.sh --arch arm64): its own functions.
# shellcheck source-path=SCRIPTDIR source=lib-arm64.sh
. "$E2E_DIR/lib-arm64.sh"
