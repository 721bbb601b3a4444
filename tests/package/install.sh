#!/usr/bin/env bash
# make install and make uninstall, into a DESTDIR:
#   - every file lands where it should, the units and QEMU's back-end
#     description name the PREFIX's bindir (no @PLACEHOLDER@ left);
#   - the QEMU description is valid JSON, names the installed binary, and
#     its type is what the daemon's --print-capabilities says;
#   - the sysusers file creates the user the daemon drops to;
#   - a second install keeps an edited config (the shipped one beside it
#     as .conf.new) and uninstall keeps it too;
#   - uninstall of an unedited install leaves no file behind.
#   tests/package/install.sh
set -euo pipefail

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "install test: $*" >&2
	fail=1
}

files_in() {
	(cd "$1" && find . ! -type d | sort)
}

# make install/uninstall into DESTDIR $1 with PREFIX $2 (quietly).
mk() {
	local target=$1 dest=$2 prefix=$3
	make -s "$target" DESTDIR="$dest" PREFIX="$prefix" >"$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log" >&2; exit 1; }
}

for prefix in /usr /usr/local; do
	d=$tmp/root${prefix//\//_}
	mk install "$d" "$prefix"
	# As the Makefile finds it.
	unitdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null ||
		echo /lib/systemd/system)
	udevdir=$(pkg-config --variable=udevdir udev 2>/dev/null || echo /lib/udev)
	for f in "$prefix/bin/vhost-user-rtc" "$prefix/bin/vhost-user-rtc-ctl" \
		"$prefix/bin/vhost-user-rtc-probe" "$prefix/bin/vrtc-now" \
		"$prefix/bin/vrtc-agent" "$unitdir/vrtc-agent.service" \
		"$udevdir/rules.d/99-virtio-ptp.rules" \
		"$prefix/share/vrtc-agent/chrony-guest.conf" \
		"$prefix/share/man/man8/vrtc-agent.8" \
		"$prefix/include/vrtc.h" "$prefix/lib/libvrtc.a" \
		"$prefix/lib/libvrtc.so.0" "$prefix/lib/pkgconfig/vrtc.pc" \
		"$prefix/share/man/man1/vrtc-now.1" \
		"$prefix/share/man/man3/libvrtc.3" \
		"$unitdir/vhost-user-rtc.service" "$unitdir/vhost-user-rtc@.service" \
		/usr/lib/sysusers.d/vhost-user-rtc.conf \
		/etc/vhost-user-rtc/vhost-user-rtc.conf \
		"$prefix/share/qemu/vhost-user/50-vhost-user-rtc.json" \
		"$prefix/share/man/man8/vhost-user-rtc.8" \
		"$prefix/share/man/man5/vhost-user-rtc.conf.5" \
		"$prefix/share/man/man1/vhost-user-rtc-ctl.1" \
		"$prefix/share/man/man1/vhost-user-rtc-probe.1" \
		"$prefix/share/man/man3/libvrtc.3" \
		"$prefix/share/vhost-user-rtc/vhost-user-rtc.rules.yml" \
		"$prefix/share/vhost-user-rtc/vhost-user-rtc.json"; do
		[ -f "$d$f" ] || bad "PREFIX=$prefix: $f not installed"
	done
	[ -x "$d$prefix/bin/vhost-user-rtc-probe" ] ||
		bad "PREFIX=$prefix: the probe is not executable"
	for u in vhost-user-rtc.service vhost-user-rtc@.service; do
		f=$d$unitdir/$u
		[ -f "$f" ] || continue
		! grep -n '@[A-Z]*@' "$f" || bad "$u: placeholder left"
		grep -q "^ExecStart=$prefix/bin/vhost-user-rtc " "$f" ||
			bad "$u: ExecStart is not $prefix/bin/vhost-user-rtc"
	done
	f=$d$unitdir/vrtc-agent.service
	grep -q "^ExecStart=$prefix/bin/vrtc-agent\$" "$f" ||
		bad "vrtc-agent.service: ExecStart is not $prefix/bin/vrtc-agent"
	grep -q "^libdir=$prefix/lib\$" "$d$prefix/lib/pkgconfig/vrtc.pc" ||
		bad "vrtc.pc: libdir is not $prefix/lib"

	json=$d$prefix/share/qemu/vhost-user/50-vhost-user-rtc.json
	caps_type=$(build/vhost-user-rtc --print-capabilities |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["type"])')
	python3 - "$json" "$prefix/bin/vhost-user-rtc" "$caps_type" <<'PY' ||
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) <= {"description", "type", "binary", "tags"}, d
assert isinstance(d["description"], str) and d["description"], d
assert d["binary"] == sys.argv[2], (d["binary"], sys.argv[2])
assert d["type"] == sys.argv[3], (d["type"], sys.argv[3])
PY
		bad "PREFIX=$prefix: $json does not describe the installed daemon"
done

# The user, from the installed sysusers file, in a root of its own.
u=$tmp/users
mkdir -p "$u/etc"
systemd-sysusers --root="$u" \
	"$tmp/root_usr/usr/lib/sysusers.d/vhost-user-rtc.conf" >/dev/null 2>&1
grep -q '^vhost-user-rtc:x:[0-9]*:[0-9]*:' "$u/etc/passwd" ||
	bad "sysusers did not create the user vhost-user-rtc"
user=$(sed -n 's/^#define PRIVDROP_DEFAULT_USER "\(.*\)"$/\1/p' src/privdrop.h)
[ "$user" = vhost-user-rtc ] ||
	bad "src/privdrop.h drops to \"$user\", the sysusers file makes vhost-user-rtc"

# The config survives a reinstall and an uninstall once edited.
d=$tmp/root_usr
conf=$d/etc/vhost-user-rtc/vhost-user-rtc.conf
echo 'poll-ns=0' >>"$conf"
edited=$(sha256sum <"$conf")
mk install "$d" /usr
[ "$(sha256sum <"$conf")" = "$edited" ] || bad "install overwrote an edited config"
cmp -s conf/vhost-user-rtc.conf "$conf.new" ||
	bad "install did not put the shipped config beside the edited one"
mk uninstall "$d" /usr
[ "$(files_in "$d")" = "./etc/vhost-user-rtc/vhost-user-rtc.conf" ] ||
	bad "uninstall with an edited config left: $(files_in "$d" | tr '\n' ' ')"

# An unedited install goes away whole, with both prefixes.
rm -f "$conf"
mk install "$d" /usr
mk uninstall "$d" /usr
[ -z "$(files_in "$d")" ] || bad "uninstall left: $(files_in "$d" | tr '\n' ' ')"
[ ! -e "$d/etc/vhost-user-rtc" ] || bad "uninstall left /etc/vhost-user-rtc"
d=$tmp/root_usr_local
mk uninstall "$d" /usr/local
[ -z "$(files_in "$d")" ] || bad "PREFIX=/usr/local: uninstall left: $(files_in "$d" | tr '\n' ' ')"

[ $fail -eq 0 ] && echo "install test: install, reinstall over an edited config, uninstall: passed"
exit $fail
