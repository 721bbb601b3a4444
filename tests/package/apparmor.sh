#!/usr/bin/env bash
# contrib/libvirt/apparmor-libvirt-qemu against what QEMU must reach:
# every socket the units, the config and `vm add` make and every status
# page they or the documented QEMU examples use must match a rule with
# the access QEMU needs (rw to connect, r to map a page), and the
# control sockets must match none. AppArmor globs: * (not /), ** (any),
# ? and {a,b}. With apparmor_parser installed the rules also compile in
# a profile (without loading it).
#   tests/package/apparmor.sh
set -euo pipefail

profile=contrib/libvirt/apparmor-libvirt-qemu
fail=0
bad() {
	echo "apparmor test: $*" >&2
	fail=1
}

# An AppArmor path glob as an anchored extended regex.
glob_re() {
	local g=$1 out="" c i=0 n=${#1} depth=0
	while [ $i -lt "$n" ]; do
		c=${g:i:1}
		case $c in
		'*')
			if [ "${g:i+1:1}" = '*' ]; then
				out+='.*'
				i=$((i + 1))
			else
				out+='[^/]*'
			fi
			;;
		'?') out+='[^/]' ;;
		'{')
			out+='('
			depth=$((depth + 1))
			;;
		'}')
			out+=')'
			depth=$((depth - 1))
			;;
		',') if [ $depth -gt 0 ]; then out+='|'; else out+=','; fi ;;
		'.' | '+' | '(' | ')' | '|' | '^' | '$' | '\' | '[' | ']') out+="\\$c" ;;
		*) out+=$c ;;
		esac
		i=$((i + 1))
	done
	printf '^%s$' "$out"
}

mapfile -t rules < <(sed -n 's/^[[:space:]]*\(\/[^[:space:]]*\)[[:space:]]\+\([a-z]\+\),[[:space:]]*$/\1 \2/p' "$profile")
[ ${#rules[@]} -gt 0 ] || bad "no rules found in $profile"

# The permissions the profile grants @1, concatenated ("" for none).
granted() {
	local r glob perms out=""
	for r in "${rules[@]}"; do
		glob=${r% *}
		perms=${r#* }
		if [[ $1 =~ $(glob_re "$glob") ]]; then
			out+=$perms
		fi
	done
	printf '%s' "$out"
}

# @1 must be granted every letter of @2; @3 says where the path is from.
need() {
	local have l
	have=$(granted "$1")
	for l in $(grep -o . <<<"$2"); do
		[[ $have == *"$l"* ]] || bad "$1 ($3) needs '$2', the profile gives '${have:-nothing}'"
	done
}

# The paths, from where they are defined. The units: each ExecStart's
# sockets, vm-socket-dir (a `vm add` name in it, with and without
# .sock: any plain name is taken) and status page, %i as vm1.
units=(conf/vhost-user-rtc.service.in conf/vhost-user-rtc@.service.in)
checked=0
for u in "${units[@]}"; do
	text=$(sed 's/%i/vm1/g' "$u")
	while read -r p; do
		need "$p" rw "$u socket"
		checked=$((checked + 1))
	done < <(grep -oE -- '--socket-path[ =]/run/vhost-user-rtc/[^ ]+' <<<"$text" | sed 's/^--socket-path[ =]//')
	while read -r d; do
		need "$d/vm3.sock" rw "$u vm add"
		need "$d/vm3" rw "$u vm add"
		checked=$((checked + 2))
	done < <(grep -oE -- '--vm-socket-dir[ =]/run/vhost-user-rtc/[^ ]+' <<<"$text" | sed 's/^--vm-socket-dir[ =]//' | sort -u)
	while read -r p; do
		need "$p" r "$u status page"
		checked=$((checked + 1))
	done < <(grep -oE -- '--vmclock-page[ =]/run/vhost-user-rtc/[^ ]+' <<<"$text" | sed 's/^--vmclock-page[ =]//' | sort -u)
done
# The config's documented defaults.
while IFS='=' read -r key val; do
	case $key in
	vm-socket-dir) need "$val/vm3.sock" rw "conf vm-socket-dir" ;;
	vmclock-page) need "$val" r "conf vmclock-page" ;;
	socket-path) for p in ${val//;/ }; do need "$p" rw "conf socket-path"; done ;;
	*) continue ;;
	esac
	checked=$((checked + 1))
done < <(grep -E '^#(vm-socket-dir|vmclock-page|socket-path)=/run/vhost-user-rtc/' conf/vhost-user-rtc.conf | sed 's/^#//')
# QEMU's side as documented: chardev sockets and ivshmem page files.
mapfile -t man_pages < <(git ls-files '*.[1358]')
while read -r p; do
	need "$p" rw "a documented chardev"
	checked=$((checked + 1))
done < <(grep -ohE ",path=/run/vhost-user-rtc/[^ ,'\"\\\\;\`]+" README.md contrib/libvirt/vm1.xml contrib/qemu-example.sh "${man_pages[@]}" |
	sed 's/^,path=//' | sort -u)
while read -r p; do
	need "$p" r "a documented ivshmem page"
	checked=$((checked + 1))
done < <(grep -ohE 'mem-path=/run/vhost-user-rtc/[^ ,]+' README.md contrib/libvirt/vm1.xml "${man_pages[@]}" |
	sed 's/^mem-path=//' | sort -u)

# Never the control sockets, nor anything beside.
for p in /run/vhost-user-rtc/control.ctl /run/vhost-user-rtc/vm1.ctl \
	/run/vhost-user-rtc/vms/sub/x.sock /run/vhost-user-rtc.sock \
	/run/other/vm1.sock /run/vhost-user-rtc/vm1.vmclock.tmp; do
	have=$(granted "$p")
	[ -z "$have" ] || bad "$p must not be reachable, the profile gives '$have'"
done

if command -v apparmor_parser >/dev/null; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	{
		echo 'abi <abi/3.0>,'
		echo 'profile vrtc-apparmor-test {'
		cat "$profile"
		echo '}'
	} >"$tmp/profile"
	out=$(apparmor_parser -Q -K --skip-read-cache "$tmp/profile" 2>&1 |
		grep -v '^Cache read/write disabled') || true
	apparmor_parser -Q -K --skip-read-cache "$tmp/profile" >/dev/null 2>&1 ||
		bad "apparmor_parser refuses the rules: $out"
	parsed="compiled by apparmor_parser"
else
	parsed="apparmor_parser not installed: not compiled"
fi

[ $checked -ge 8 ] || bad "only $checked paths found to check: did a unit or example change?"
[ $fail -eq 0 ] && echo "apparmor test: $checked paths covered by $profile, control sockets not; $parsed: passed"
exit $fail
