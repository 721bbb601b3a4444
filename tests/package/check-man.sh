#!/usr/bin/env bash
# The man pages: lint-clean under groff, man and mandoc, and complete.
# Complete means every long option of the built programs' --help is in
# their page, and every key of conf/vhost-user-rtc.conf in
# vhost-user-rtc.conf(5), so a new option or key without its man entry
# fails `make lint`.
#   tests/package/check-man.sh BUILD_DIR
set -euo pipefail

b=$1
man_dir=docs/man
fail=0

bad() {
	echo "check-man: $*" >&2
	fail=1
}

for page in "$man_dir"/*.[158]; do
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

check_opts() {
	local page=$1 o
	shift
	for o in $(long_opts "$@"); do
		page_has "$page" "--$o" || bad "$page lacks --$o (from $*)"
	done
}

check_opts "$man_dir/vhost-user-rtc.8" "$b/vhost-user-rtc" --help
check_opts "$man_dir/vhost-user-rtc-ctl.1" "$b/vhost-user-rtc-ctl" --help
check_opts "$man_dir/vrtc-now.1" "$b/vrtc-now" --help
for c in check eval bench; do
	page_has "$man_dir/vhost-user-rtc-probe.1" "$c" ||
		bad "vhost-user-rtc-probe.1 lacks the command $c"
	check_opts "$man_dir/vhost-user-rtc-probe.1" \
		"$b/vhost-user-rtc-probe" "$c" --help
done

# Every key of the example config, with its default where it has one.
while IFS='=' read -r key _; do
	page_has "$man_dir/vhost-user-rtc.conf.5" "$key=" ||
		bad "vhost-user-rtc.conf.5 lacks the key $key"
done < <(grep -E '^#[a-z][a-z0-9-]*=' conf/vhost-user-rtc.conf | sed 's/^#//')

[ $fail -eq 0 ] && echo "check-man: $(ls "$man_dir"/*.[158] | wc -l) pages lint-clean and complete"
exit $fail
