#!/usr/bin/env bash
# The man pages: lint-clean under groff, man and mandoc, and agreeing
# with the code both ways, so that neither can drift (`make lint`):
# - every long option of a built program's --help is in its page, and
#   every option its page documents (the tag line of each .TP entry) is
#   in that --help;
# - the daemon's config keys are its options less those vhost-user-rtc(8)
#   lists as having no key; each is documented in vhost-user-rtc.conf(5)
#   and listed in conf/vhost-user-rtc.conf, and each key those two name
#   is one (test_config checks conf/vhost-user-rtc.conf against the key
#   table itself, config_keys()).
#   tests/package/check-man.sh BUILD_DIR
set -euo pipefail

b=$1
# The pages, each beside what it documents (the Makefile installs them).
pages=$(git ls-files '*.[1358]')
# The path of page @1 (vhost-user-rtc.8).
man_of() {
	grep -m1 "/$1\$" <<<"$pages"
}
fail=0

bad() {
	echo "check-man: $*" >&2
	fail=1
}

for page in $pages; do
	out=$(groff -man -ww -z "$page" 2>&1) || true
	[ -z "$out" ] || bad "groff -ww $page: $out"
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null) || true
	[ -z "$out" ] || bad "man --warnings $page: $out"
	if command -v mandoc >/dev/null; then
		out=$(mandoc -Tlint -W warning "$page" 2>&1) || true
		[ -z "$out" ] || bad "mandoc -Tlint $page: $out"
	fi
done

# The long options a program's help lists, one a line, without "--".
long_opts() {
	"$@" 2>&1 | grep -oE '(^|[ ,\[|])--[a-z][a-z0-9-]*' |
		sed 's/^[ ,\[|]*--//' | sort -u
}

# In a page, options and keys are written with \- for every hyphen; the
# word must end there (--ref is not --ref-clock).
page_has() {
	local page=$1 word=$2
	grep -qE -- "${word//-/\\\\-}([^a-z0-9\\]|\\[^-]|\$)" "$page"
}

# The options a page documents: those on the tag lines of its .TP
# entries (written \-\-name), one a line, without "--".
page_opts() {
	awk 'prev == ".TP" { print } { prev = $0 }' "$1" |
		grep -oE '\\-\\-[a-z]([a-z0-9]|\\-)*' | sed 's/\\-/-/g; s/^--//' |
		sort -u
}

# Both ways between @1 (a page) and the options in @2 (a file, one a
# line); @3 names the program.
check_both() {
	local page=$1 opts=$2 prog=$3 o
	for o in $(cat "$opts"); do
		page_has "$page" "--$o" || bad "$page lacks --$o (in $prog --help)"
	done
	for o in $(page_opts "$page"); do
		grep -qx -- "$o" "$opts" ||
			bad "$page documents --$o, which $prog --help does not have"
	done
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

long_opts "$b/vhost-user-rtc" --help >"$tmp/daemon"
# the ctl's migrate command has its own options
{
	long_opts "$b/vhost-user-rtc-ctl" --help
	long_opts "$b/vhost-user-rtc-ctl" migrate --help
} | sort -u >"$tmp/ctl"
long_opts "$b/vrtc-now" --help >"$tmp/now"
check_both "$(man_of vhost-user-rtc.8)" "$tmp/daemon" vhost-user-rtc
check_both "$(man_of vhost-user-rtc-ctl.1)" "$tmp/ctl" vhost-user-rtc-ctl
check_both "$(man_of vrtc-now.1)" "$tmp/now" vrtc-now
long_opts "$b/vrtc-agent" --help >"$tmp/agent"
check_both "$(man_of vrtc-agent.8)" "$tmp/agent" vrtc-agent
: >"$tmp/probe"
for c in check eval bench; do
	page_has "$(man_of vhost-user-rtc-probe.1)" "$c" ||
		bad "vhost-user-rtc-probe.1 lacks the command $c"
	long_opts "$b/vhost-user-rtc-probe" "$c" --help >>"$tmp/probe"
done
sort -u -o "$tmp/probe" "$tmp/probe"
check_both "$(man_of vhost-user-rtc-probe.1)" "$tmp/probe" \
	"vhost-user-rtc-probe check/eval/bench"

# The config keys, three ways. The daemon's options without a key, as
# vhost-user-rtc(8) lists them ("Every long option except ... has a
# key"); the other options are the keys.
sed -n '/^Every long option except/,/has a key/p' "$(man_of vhost-user-rtc.8)" |
	grep -oE '\\-\\-[a-z]([a-z0-9]|\\-)*' | sed 's/\\-/-/g; s/^--//' |
	sort -u >"$tmp/nokey"
[ -s "$tmp/nokey" ] ||
	bad "vhost-user-rtc.8: no \"Every long option except ... has a key\" list"
for o in $(cat "$tmp/nokey"); do
	grep -qx -- "$o" "$tmp/daemon" ||
		bad "vhost-user-rtc.8 lists --$o as an option without a key, but the daemon has no --$o"
done
comm -23 "$tmp/daemon" "$tmp/nokey" >"$tmp/keys"
awk 'prev == ".TP" { print } { prev = $0 }' "$(man_of vhost-user-rtc.conf.5)" |
	sed -n 's/^\.B[IR]* \([a-z][a-z0-9\\-]*\)=.*/\1/p' | sed 's/\\-/-/g' |
	sort -u >"$tmp/conf5"
grep -E '^#[a-z][a-z0-9-]*=' conf/vhost-user-rtc.conf | sed 's/^#//; s/=.*//' |
	sort -u >"$tmp/conffile"
for k in $(cat "$tmp/keys"); do
	grep -qx -- "$k" "$tmp/conf5" ||
		bad "vhost-user-rtc.conf.5 lacks the key $k (--$k has a key, or belongs in vhost-user-rtc.8's list of options without one)"
	grep -qx -- "$k" "$tmp/conffile" ||
		bad "conf/vhost-user-rtc.conf lacks the key $k"
done
for k in $(cat "$tmp/conf5"); do
	grep -qx -- "$k" "$tmp/keys" ||
		bad "vhost-user-rtc.conf.5 documents the key $k, which is no option of the daemon's (or is listed in vhost-user-rtc.8 as without a key)"
done
for k in $(cat "$tmp/conffile"); do
	grep -qx -- "$k" "$tmp/keys" ||
		bad "conf/vhost-user-rtc.conf lists the key $k, which is no option of the daemon's"
	page_has "$(man_of vhost-user-rtc.conf.5)" "$k=" ||
		bad "vhost-user-rtc.conf.5 lacks the key $k"
done

# The defaults --help states (from the key table, or written in a key's
# help text or the description) are the ones conf/vhost-user-rtc.conf
# gives: its "#key=VALUE" line, or for a key with no value by default
# ("off", "any"), the words its comment says instead ("Default: ...",
# "No default: ..."). A default written by hand that is no longer true
# (the user the daemon runs as, say) fails here.
ndef=0
while IFS=$'\t' read -r k v; do
	[[ -n $k && -n $v ]] || continue
	ndef=$((ndef + 1))
	c=$(grep -m1 -E "^#?$k=" conf/vhost-user-rtc.conf | sed -E "s/^#?$k=//") ||
		true
	[[ $c == "$v" ]] && continue
	# the comment block above the key's line
	block=$(awk -v k="$k" '/^#/ { b = b $0 " " } /^$/ { b = "" }
		$0 ~ "^#?" k "=" { print b; exit }' conf/vhost-user-rtc.conf)
	case $v in
	off | any) [[ -n $c && $(grep -cE "^$k=" conf/vhost-user-rtc.conf) -eq 0 ]] && continue ;;
	*) [[ ${block//# /} == *"efault: ${v}"* ]] && continue ;;
	esac
	bad "vhost-user-rtc --help says --$k defaults to \"$v\"; conf/vhost-user-rtc.conf says ${c:-nothing}"
done < <("$b/vhost-user-rtc" --help | awk '
	/^  --[a-z]/ { k = $1; sub(/^--/, "", k); sub(/=.*/, "", k) }
	/^$/ { k = "" }
	/default --[a-z-]+ [^ )]+/ { match($0, /default --[a-z-]+ [^ )]+/)
		split(substr($0, RSTART, RLENGTH), w, " ")
		sub(/^--/, "", w[2]); print w[2] "\t" w[3] }
	k && /default[^:]*: / { match($0, /default[^:]*: [^;)]*/)
		v = substr($0, RSTART, RLENGTH); sub(/^default[^:]*: /, "", v)
		sub(/, which must exist$/, "", v); print k "\t" v }')

[ $fail -eq 0 ] && echo "check-man: $ndef defaults in --help as conf/vhost-user-rtc.conf gives them"
[ $fail -eq 0 ] && echo "check-man: $(wc -w <<<"$pages") pages lint-clean and agreeing with the programs; $(wc -l <"$tmp/keys") config keys in vhost-user-rtc.conf(5) and the config file"
exit $fail
