#!/usr/bin/env bash
# Install the Debian packages a make target needs, only when missing.
#   contrib/install-deps.sh build   compiler, GLib, Criterion, tzdata,
#                                   promtool (make check-monitoring), Go
#                                   and Rust for libvrtc's bindings (make
#                                   check-libvrtc; cargo only if none is
#                                   on the PATH, e.g. from rustup)
#   contrib/install-deps.sh e2e     kernel build tools, debootstrap, busybox,
#                                   the arm64 cross compiler and libc
#   contrib/install-deps.sh package the Debian packaging tools (make deb,
#                                   make package-test), and apparmor_parser
#                                   for the libvirt AppArmor rules
set -euo pipefail

case "${1:-build}" in
build)
	pkgs=(gcc make pkg-config libglib2.0-dev libcriterion-dev tzdata
		clang libclang-rt-14-dev clang-format clang-tidy cppcheck shellcheck
		linuxptp iproute2 chrony libcairo2-dev
		libcap-dev libseccomp-dev systemd
		libgps-dev gpsd gpsd-clients python3-gps
		libjson-glib-dev libsystemd-dev
		groff-base man-db mandoc libvirt-clients
		prometheus python3 python3-yaml golang-go)
	command -v cargo >/dev/null || pkgs+=(cargo)
	;;
e2e)
	pkgs=(debootstrap flex bison bc libelf-dev libssl-dev busybox-static
		cpio xz-utils gcc make
		gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
	;;
package)
	pkgs=(dpkg-dev debhelper lintian debootstrap python3 apparmor)
	;;
*)
	echo "usage: $0 build|e2e|package" >&2
	exit 2
	;;
esac

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

# The leap-second table ships in tzdata; an old image carries an expired
# list. Upgrade it whenever the list on disk has expired.
leapfile=/usr/share/zoneinfo/leap-seconds.list
stale_tz=0
if [ -r "$leapfile" ]; then
	exp_ntp=$(awk '/^#@/ {print $2}' "$leapfile")
	now_ntp=$(($(date +%s) + 2208988800))
	if [ -n "$exp_ntp" ] && [ "$exp_ntp" -lt "$now_ntp" ]; then
		stale_tz=1
	fi
fi

if [ ${#missing[@]} -eq 0 ] && [ $stale_tz -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "missing packages: ${missing[*]} (run as root or install them)" >&2
		exit 1
	fi
fi

extra=""
[ $stale_tz -eq 1 ] && extra=" (and a current tzdata: the leap-second list expired)"
echo ">> installing: ${missing[*]}$extra"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
if [ ${#missing[@]} -gt 0 ]; then
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [ $stale_tz -eq 1 ]; then
	"${sudo[@]}" apt-get install -y -q --only-upgrade tzdata
fi
