#!/bin/sh
# Run inside a clean Debian root where the packages were just installed
# (tests/package/root.sh copies them in): the files and which package
# holds each, the user, the units and the enabled one, the packaged
# daemon serving, then removal (every instance stopped) and a purge.
set -eu

# bad: a failed check; ok: a passed step, reported only when no check
# failed since the last ok.
fail=0
step_fail=0
bad() {
	echo "in-root: FAILED: $*" >&2
	fail=1
	step_fail=1
}
ok() {
	[ $step_fail -ne 0 ] || echo "in-root: ok: $*"
	step_fail=0
}

# The layout: the daemon's package, the probe in its own (only it needs
# cairo and fontconfig), libvrtc in libvrtc0 and libvrtc-dev, and the
# guest's tools in vrtc-tools.
ma=$(ls -d /usr/lib/*-linux-gnu* 2>/dev/null | head -n 1)
ma=${ma#/usr/lib/}
# owned FILE PACKAGE: FILE exists and PACKAGE holds it
owned() {
	[ -f "$1" ] || [ -L "$1" ] || bad "$1 missing"
	[ "$(dpkg -S "$1" 2>/dev/null | cut -d: -f1)" = "$2" ] ||
		bad "$1 is not $2's (dpkg -S: $(dpkg -S "$1" 2>&1))"
}
for f in /usr/bin/vhost-user-rtc /usr/bin/vhost-user-rtc-ctl \
	/lib/systemd/system/vhost-user-rtc.service \
	/lib/systemd/system/vhost-user-rtc@.service \
	/usr/lib/sysusers.d/vhost-user-rtc.conf \
	/usr/share/qemu/vhost-user/50-vhost-user-rtc.json \
	/usr/share/vhost-user-rtc/vhost-user-rtc.rules.yml \
	/usr/share/vhost-user-rtc/vhost-user-rtc.json \
	/usr/share/man/man8/vhost-user-rtc.8.gz \
	/usr/share/man/man5/vhost-user-rtc.conf.5.gz \
	/usr/share/man/man1/vhost-user-rtc-ctl.1.gz \
	/usr/share/doc/vhost-user-rtc/copyright \
	/etc/vhost-user-rtc/vhost-user-rtc.conf; do
	owned "$f" vhost-user-rtc
done
for f in /usr/bin/vhost-user-rtc-probe \
	/usr/share/man/man1/vhost-user-rtc-probe.1.gz \
	/usr/share/doc/vhost-user-rtc-probe/copyright; do
	owned "$f" vhost-user-rtc-probe
done
for f in /usr/bin/vrtc-now /usr/bin/vrtc-agent \
	/usr/share/man/man1/vrtc-now.1.gz /usr/share/man/man8/vrtc-agent.8.gz \
	/lib/systemd/system/vrtc-agent.service \
	/lib/udev/rules.d/99-virtio-ptp.rules \
	/usr/share/vrtc-agent/chrony-guest.conf \
	/usr/share/doc/vrtc-tools/copyright; do
	owned "$f" vrtc-tools
done
owned "/usr/lib/$ma/libvrtc.so.0" libvrtc0
owned /usr/share/doc/libvrtc0/copyright libvrtc0
for f in /usr/include/vrtc.h "/usr/lib/$ma/libvrtc.a" \
	"/usr/lib/$ma/libvrtc.so" "/usr/lib/$ma/pkgconfig/vrtc.pc"; do
	owned "$f" libvrtc-dev
done
[ "$(readlink "/usr/lib/$ma/libvrtc.so")" = libvrtc.so.0 ] ||
	bad "libvrtc.so does not point to libvrtc.so.0"
grep -qx "libdir=/usr/lib/$ma" "/usr/lib/$ma/pkgconfig/vrtc.pc" ||
	bad "vrtc.pc: libdir is not /usr/lib/$ma: $(cat "/usr/lib/$ma/pkgconfig/vrtc.pc")"
dpkg-query --control-show libvrtc0 symbols 2>/dev/null | grep -q 'vrtc_now@VRTC_0' ||
	bad "libvrtc0 has no symbols file naming vrtc_now@VRTC_0"
dpkg-query --control-show libvrtc0 shlibs 2>/dev/null | grep -q '^libvrtc 0 libvrtc0' ||
	bad "libvrtc0 has no shlibs entry"
deps=$(dpkg-query -W -f='${Depends}' vhost-user-rtc)
case $deps in
*cairo* | *fontconfig*) bad "vhost-user-rtc depends on cairo or fontconfig: $deps" ;;
esac
case $(dpkg-query -W -f='${Depends}' vhost-user-rtc-probe) in
*libcairo2*) ;;
*) bad "vhost-user-rtc-probe does not depend on libcairo2" ;;
esac
# a guest needs neither the daemon nor its libraries
case $(dpkg-query -W -f='${Depends}' vrtc-tools) in
*vhost-user-rtc* | *libglib* | *libgps* | *libcap* | *libseccomp*)
	bad "vrtc-tools depends on the host's: $(dpkg-query -W -f='${Depends}' vrtc-tools)" ;;
esac
case $(dpkg-query -W -f='${Depends}' libvrtc-dev) in
*"libvrtc0 (= "*) ;;
*) bad "libvrtc-dev does not depend on libvrtc0 (= version)" ;;
esac
dpkg-query -W -f='${Description}' vrtc-tools | grep -q vrtc-now ||
	bad "vrtc-tools' description does not mention vrtc-now"
vrtc-now --version >/dev/null || bad "vrtc-now --version failed"
vrtc-agent --version >/dev/null || bad "vrtc-agent --version failed"
# no PHC here: the agent says what it could not open, exit 1
rc=0
vrtc-agent --count 1 >/tmp/agent.log 2>&1 || rc=$?
[ $rc -eq 1 ] || bad "vrtc-agent without a PHC exited $rc: $(cat /tmp/agent.log)"
out=$(systemd-analyze verify --man=no /lib/systemd/system/vrtc-agent.service 2>&1) ||
	bad "verify vrtc-agent.service: $out"
[ -z "$out" ] || bad "verify vrtc-agent.service: $out"
[ -L /etc/systemd/system/multi-user.target.wants/vrtc-agent.service ] ||
	bad "vrtc-agent.service not enabled by the postinst"
ok "files in place"
dpkg-query -W -f='${Conffiles}\n' vhost-user-rtc |
	grep -q ' /etc/vhost-user-rtc/vhost-user-rtc.conf ' ||
	bad "the config is not a conffile"

getent passwd vhost-user-rtc >/dev/null ||
	bad "no user vhost-user-rtc (the postinst runs systemd-sysusers)"
ok "user: $(getent passwd vhost-user-rtc || true)"

vhost-user-rtc --help >/dev/null || bad "vhost-user-rtc --help failed"
vhost-user-rtc-ctl --help >/dev/null || bad "vhost-user-rtc-ctl --help failed"
vhost-user-rtc --print-capabilities | grep -q '"type": "rtc"' ||
	bad "--print-capabilities"
ok "$(vhost-user-rtc --version) runs"

# Both units as the package installed them, the template as an instance.
cp /lib/systemd/system/vhost-user-rtc@.service /tmp/vhost-user-rtc@vm1.service
for u in /lib/systemd/system/vhost-user-rtc.service /tmp/vhost-user-rtc@vm1.service; do
	out=$(systemd-analyze verify --man=no "$u" 2>&1) || bad "verify $u: $out"
	[ -z "$out" ] || bad "verify $u: $out"
done
ok "systemd-analyze verify: both units clean"
wants=/etc/systemd/system/multi-user.target.wants
[ -L $wants/vhost-user-rtc.service ] ||
	bad "vhost-user-rtc.service not enabled by the postinst"
# The per-VM model is one command away, and upgrades keep it so.
systemctl disable vhost-user-rtc.service >/dev/null 2>&1 ||
	bad "systemctl disable vhost-user-rtc.service failed"
apt-get install -y -q --reinstall /tmp/vhost-user-rtc_*.deb >/tmp/reinstall.log 2>&1 ||
	{ cat /tmp/reinstall.log >&2; bad "reinstall failed"; }
[ ! -L $wants/vhost-user-rtc.service ] ||
	bad "a reinstall enabled vhost-user-rtc.service again after systemctl disable"
ok "enabled at install; disabled by the administrator, it stays so on upgrade"

# The daemon as the unit runs it, from the package's config.
mkdir -p /run/vhost-user-rtc
sock=/run/vhost-user-rtc/vhost-user-rtc.sock
ctl=/run/vhost-user-rtc/control.ctl
vhost-user-rtc --config /etc/vhost-user-rtc/vhost-user-rtc.conf \
	--socket-path "$sock" --control-socket "$ctl" --check-config ||
	bad "--check-config of the packaged config"
vhost-user-rtc --config /etc/vhost-user-rtc/vhost-user-rtc.conf \
	--socket-path "$sock" --control-socket "$ctl" 2>/tmp/daemon.log &
pid=$!
i=0
while [ ! -S "$sock" ] || [ ! -S "$ctl" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
		cat /tmp/daemon.log >&2
		bad "the daemon did not start"
		exit 1
	fi
	sleep 0.1
done
sleep 0.5
uid=$(awk '/^Uid:/ { print $3 }' "/proc/$pid/status")
[ "$uid" = "$(id -u vhost-user-rtc 2>/dev/null)" ] ||
	bad "the daemon runs as uid $uid, not vhost-user-rtc"
vhost-user-rtc-probe check --socket "$sock" >/tmp/check.log 2>&1 ||
	{ cat /tmp/check.log >&2; bad "vhost-user-rtc-probe check failed"; }
# ctl exits like a monitoring plugin: 0-2 say how good the model is (an
# unsynchronised host clock here makes it 2), 3 that it could not ask.
rc=0
vhost-user-rtc-ctl --socket "$ctl" status >/tmp/status.log 2>&1 || rc=$?
if [ $rc -gt 2 ] || ! grep -q '^model ' /tmp/status.log; then
	cat /tmp/status.log >&2
	bad "vhost-user-rtc-ctl status failed (exit $rc)"
fi
kill -TERM $pid
rc=0
wait $pid || rc=$?
[ $rc -eq 0 ] || { cat /tmp/daemon.log >&2; bad "the daemon exited $rc on SIGTERM"; }
ok "daemon served as vhost-user-rtc (uid $uid) and passed vhost-user-rtc-probe check"

# Removal under systemd (a stand-in systemctl that records its calls):
# the shared unit and every per-VM instance are stopped, and purging
# drops the instances the administrator enabled.
mkdir -p /run/systemd/system /usr/local/sbin
cat >/usr/local/sbin/systemctl <<'SH'
#!/bin/sh
echo "$*" >>/tmp/systemctl.log
exit 0
SH
chmod 0755 /usr/local/sbin/systemctl
ln -s /lib/systemd/system/vhost-user-rtc@.service $wants/vhost-user-rtc@vm1.service
# dpkg itself: apt would run it with its own PATH (DPkg::Path)
PATH=/usr/local/sbin:$PATH dpkg --remove vhost-user-rtc >/tmp/remove.log 2>&1 ||
	{ cat /tmp/remove.log >&2; bad "remove failed"; }
touch /tmp/systemctl.log
grep -q 'stop vhost-user-rtc\.service' /tmp/systemctl.log ||
	bad "remove did not stop vhost-user-rtc.service: $(cat /tmp/systemctl.log)"
grep -q 'stop vhost-user-rtc@\*\.service' /tmp/systemctl.log ||
	bad "remove did not stop the vhost-user-rtc@ instances: $(cat /tmp/systemctl.log)"
ok "remove stops the shared daemon and the per-VM instances"
PATH=/usr/local/sbin:$PATH dpkg --purge vhost-user-rtc vhost-user-rtc-probe \
	vrtc-tools libvrtc-dev libvrtc0 \
	>/tmp/purge.log 2>&1 ||
	{ cat /tmp/purge.log >&2; bad "purge failed"; }
rm -rf /usr/local/sbin/systemctl /run/systemd/system
for f in /usr/bin/vhost-user-rtc /usr/bin/vhost-user-rtc-probe \
	/usr/bin/vrtc-agent /lib/systemd/system/vrtc-agent.service \
	/etc/systemd/system/multi-user.target.wants/vrtc-agent.service \
	"/usr/lib/$ma/libvrtc.so.0" /usr/include/vrtc.h \
	/etc/vhost-user-rtc /lib/systemd/system/vhost-user-rtc.service \
	$wants/vhost-user-rtc.service $wants/vhost-user-rtc@vm1.service; do
	[ ! -e "$f" ] && [ ! -L "$f" ] || bad "$f left after purge"
done
ok "purged"
exit $fail
