#!/usr/bin/env bash
# Install the built .debs into a clean Debian bookworm root (the release it
# is built on) with apt, so its dependencies come from the archive as on a
# user's host, then run tests/package/in-root.sh there: files, conffile,
# the user made by systemd-sysusers in the postinst, --help, both units
# through systemd-analyze verify, the packaged daemon serving
# vhost-user-rtc-probe check as its user, and a purge.
#
# The pristine root (debootstrap --variant=minbase) is cached in
# $VRTC_CACHE/root-bookworm; each run installs into a fresh copy. The
# mirror comes from the host's apt configuration (tests/e2e/lib.sh).
#   tests/package/root.sh PACKAGE.deb...
set -euo pipefail

debs=()
for d in "$@"; do
	debs+=("$(realpath "$d")")
done
[ ${#debs[@]} -gt 0 ] || { echo "usage: $0 PACKAGE.deb..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# e2e_mirror, e2e_in_chroot, e2e_safe_rm, e2e_step.
# shellcheck source=tests/e2e/lib.sh
. "$here/../e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || e2e_die "the package test needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null ||
	e2e_die "missing debootstrap (contrib/install-deps.sh package)"

pristine=$VRTC_CACHE/root-bookworm
stamp="v1 bookworm minbase"
mkdir -p "$VRTC_CACHE" "$LOGDIR"
# Its own lock: the e2e test's may be held for long.
exec 8>"$VRTC_CACHE/.root-bookworm.lock"
flock -w 1800 8 || e2e_die "could not lock $VRTC_CACHE/.root-bookworm.lock"

if [ "$(cat "$pristine/.vrtc-stamp" 2>/dev/null)" != "$stamp" ]; then
	mirror=$(e2e_mirror)
	new=$pristine.new
	e2e_safe_rm "$new"
	e2e_step "package: debootstrap bookworm (mirror from apt config: $mirror)" \
		"$LOGDIR/debootstrap-bookworm.log" 1200 \
		unshare --mount --propagation private -- \
		debootstrap --variant=minbase bookworm "$new" "$mirror"
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
		>"$new/etc/apt/apt.conf.d/90vrtc"
	apt-config dump 2>/dev/null | grep -i '^Acquire::[a-z]*::Proxy' \
		>"$new/etc/apt/apt.conf.d/91vrtc-proxy" || true
	printf '%s\n' "$stamp" >"$new/.vrtc-stamp"
	e2e_safe_rm "$pristine"
	mv "$new" "$pristine"
fi

# libvrtc-dev as a user of the library has it: a program compiled with
# vrtc.pc's flags against the packaged header, linked with the packaged
# libvrtc.so (here, outside the root: it has no compiler).
dev=$(mktemp -d /var/tmp/vrtc-dev.XXXXXX)
for d in "${debs[@]}"; do
	case $(basename "$d") in
	libvrtc0_* | libvrtc-dev_*) dpkg-deb -x "$d" "$dev" ;;
	esac
done
pc=$(ls "$dev"/usr/lib/*/pkgconfig/vrtc.pc 2>/dev/null | head -n 1)
[ -n "$pc" ] || e2e_die "package: no vrtc.pc in libvrtc-dev"
cat >"$dev/t.c" <<'C'
#include <stdio.h>
#include <vrtc.h>
int main(void)
{
	struct vrtc *v;
	int r = vrtc_open(NULL, &v);

	printf("%s %s\n", vrtc_status_name(VRTC_STATUS_SYNCHRONIZED),
	       r ? vrtc_strerror(r) : "open");
	if (!r)
		vrtc_close(v);
	return 0;
}
C
PKG_CONFIG_SYSROOT_DIR=$dev PKG_CONFIG_LIBDIR=$(dirname "$pc") \
	PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 \
	pkg-config --cflags --libs vrtc >"$dev/flags" ||
	e2e_die "package: pkg-config vrtc failed"
# shellcheck disable=SC2046
gcc -o "$dev/t" "$dev/t.c" $(cat "$dev/flags") ||
	e2e_die "package: a program against libvrtc-dev did not build ($(cat "$dev/flags"))"
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$dev/t" | grep -q '^synchronized ' ||
	e2e_die "package: a program against libvrtc-dev did not run"
e2e_safe_rm "$dev"
echo "package: a program built with vrtc.pc against libvrtc-dev runs"

root=$(mktemp -d /var/tmp/vrtc-root.XXXXXX)
cleanup() {
	e2e_safe_rm "$root"
}
trap cleanup EXIT
cp -a "$pristine/." "$root/"
names=()
for d in "${debs[@]}"; do
	cp "$d" "$root/tmp/"
	names+=("/tmp/$(basename "$d")")
done
cp "$here/in-root.sh" "$root/tmp/in-root.sh"
e2e_step "package: apt-get install ${names[*]} in a clean bookworm root" \
	"$LOGDIR/package-install.log" 1200 \
	e2e_in_chroot "$root" -- /bin/sh -c \
	"apt-get update -q && apt-get install -y -q ${names[*]}"
e2e_in_chroot "$root" -- /bin/sh /tmp/in-root.sh
echo "package test: installed, checked and purged in a clean bookworm root"
