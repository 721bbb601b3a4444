#!/usr/bin/env bash
# libvrtc's ABI (make check-libvrtc):
# - libvrtc.so exports exactly tests/libvrtc/abi.txt (name@version), so
#   that a symbol cannot appear, vanish or change version unnoticed;
# - libvrtc.a defines no global symbol but those names (its internals
#   are local), and a program linked with it statically runs;
# - vrtc.h compiles as C99 -pedantic and as C++17;
# - a 0.1 caller (VRTC_0) and a 0.2 one are both served
#   (tests/libvrtc/abi_compat.c, on a live page from the daemon's
#   encoder).
#   tests/libvrtc/check-abi.sh BUILD_DIR
set -euo pipefail

b=$1
here=$(dirname "$0")
fail=0
tmp=$(mktemp -d)
pw=
cleanup() {
	[ -z "$pw" ] || kill "$pw" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

nm -D --defined-only "$b/libvrtc.so.0" | awk '$2 == "T" { print $3 }' |
	sort >"$tmp/so"
if ! diff -u "$here/abi.txt" "$tmp/so"; then
	echo "check-abi: libvrtc.so.0 exports differ from $here/abi.txt" >&2
	fail=1
fi
sed 's/@.*//' "$here/abi.txt" | sort -u >"$tmp/names"
nm -g --defined-only "$b/libvrtc.a" | awk 'NF == 3 { print $3 }' |
	sed 's/@.*//' | sort -u >"$tmp/a"
if ! diff -u "$tmp/names" "$tmp/a"; then
	echo "check-abi: libvrtc.a defines other global symbols than the API" >&2
	fail=1
fi

# the header alone, as strict C and as C++ would include it
printf '#include <vrtc.h>\nint main(void) { return vrtc_version() == 0; }\n' \
	>"$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cc"
gcc -std=c99 -pedantic -Wall -Wextra -Werror -I"$here/../../include" \
	-c "$tmp/h.c" -o "$tmp/h.o" || fail=1
g++ -std=c++17 -Wall -Wextra -Werror -I"$here/../../include" \
	-c "$tmp/h.cc" -o "$tmp/hxx.o" || fail=1

"$b/tests/libvrtc/vrtc-pagewriter" "$tmp/vmclock" 30 >"$tmp/pw.out" &
pw=$!
for _ in $(seq 100); do
	grep -q ready "$tmp/pw.out" 2>/dev/null && break
	sleep 0.05
done
"$b/tests/libvrtc/abi_compat" "$(realpath "$b/libvrtc.so.0")" "$tmp/vmclock" ||
	fail=1
"$b/tests/libvrtc/static_now" "$tmp/vmclock" || fail=1

[ $fail -eq 0 ] && echo "check-abi: $(wc -l <"$tmp/so") symbols as listed, libvrtc.a's internals local"
exit $fail
