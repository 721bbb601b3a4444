#!/usr/bin/env bash
# contrib/libvirt: the domain XML validates against libvirt's schema
# (virt-xml-validate, libvirt-clients), and the QEMU hook starts the VM's
# instance and waits for its socket on "prepare begin", stops it on
# "release end", and leaves domains without its socket alone; on "migrate
# begin" it starts the instance and prints the XML without the device
# (the destination QEMU starts without it). systemctl
# is a stand-in here that records its calls and, on start, makes the
# socket as the daemon would.
#   tests/package/libvirt.sh
set -euo pipefail

dir=contrib/libvirt
fail=0
bad() {
	echo "libvirt test: $*" >&2
	fail=1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
virt-xml-validate "$dir/vm1.xml" domain >"$tmp/validate.log" 2>&1 ||
	bad "$dir/vm1.xml does not validate: $(cat "$tmp/validate.log")"

mkdir "$tmp/bin" "$tmp/run"
cat >"$tmp/bin/systemctl" <<'SH'
#!/bin/sh
echo "$*" >>"$VRTC_TEST_LOG"
if [ "$1" = start ]; then
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$VRTC_RUNDIR/vm1.sock"
fi
SH
chmod +x "$tmp/bin/systemctl"
export VRTC_RUNDIR=$tmp/run VRTC_TEST_LOG=$tmp/calls
xml=$(sed "s|/run/vhost-user-rtc/|$tmp/run/|" "$dir/vm1.xml")
hook() {
	PATH=$tmp/bin:$PATH "$dir/qemu-hook.sh" "$@"
}

hook vm1 prepare begin - <<<"$xml" || bad "prepare begin failed"
[ -S "$tmp/run/vm1.sock" ] || bad "no socket after prepare begin"
hook vm1 start begin - <<<"$xml" || bad "start begin failed"
hook vm1 release end - <<<"$xml" || bad "release end failed"
hook other prepare begin - <<<"<domain/>" || bad "an unrelated domain failed"
expected="start vhost-user-rtc@vm1.service
stop --no-block vhost-user-rtc@vm1.service"
[ "$(cat "$tmp/calls")" = "$expected" ] ||
	bad "systemctl calls: $(tr '\n' ';' <"$tmp/calls"), expected $(tr '\n' ';' <<<"$expected")"

# "migrate begin" (the destination, before its QEMU): the instance is
# started, and the XML printed back without the device's arguments (the
# source unplugged it), still a valid domain.
: >"$tmp/calls"
rm -f "$tmp/run/vm1.sock"
hook vm1 migrate begin - <<<"$xml" >"$tmp/migrate.xml" || bad "migrate begin failed"
[ "$(cat "$tmp/calls")" = "start vhost-user-rtc@vm1.service" ] ||
	bad "migrate begin: systemctl calls: $(tr '\n' ';' <"$tmp/calls")"
grep -qE "qemu:arg.*(vhost-user-rtc|id=vrtc)" "$tmp/migrate.xml" &&
	bad "migrate begin left the device in the XML: $(grep -E "qemu:arg.*(vhost-user-rtc|id=vrtc)" "$tmp/migrate.xml")"
grep -q '<memoryBacking>' "$tmp/migrate.xml" ||
	bad "migrate begin lost the rest of the XML"
virt-xml-validate "$tmp/migrate.xml" domain >"$tmp/validate.log" 2>&1 ||
	bad "the XML of migrate begin does not validate: $(cat "$tmp/validate.log")"

# A daemon that never makes its socket fails the VM's start (quickly here).
rm -f "$tmp/run/vm1.sock"
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/systemctl"
if VRTC_SOCKET_WAIT_S=1 PATH="$tmp/bin:$PATH" "$dir/qemu-hook.sh" vm1 prepare begin - \
	<<<"$xml" 2>/dev/null; then
	bad "prepare begin succeeded without a socket"
fi

[ $fail -eq 0 ] && echo "libvirt test: domain XML valid, QEMU hook starts and stops the instance, strips the device for a migration: passed"
exit $fail
