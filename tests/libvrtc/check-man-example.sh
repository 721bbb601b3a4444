#!/usr/bin/env bash
# libvrtc(3)'s example program, compiled from the page by make
# (man_example in the build directory), run on a live page from the daemon's
# encoder: it must stamp, commit-wait and exit 0.
#   tests/libvrtc/check-man-example.sh BUILD_DIR
set -euo pipefail

b=$1
tmp=$(mktemp -d)
pw=
cleanup() {
	[ -z "$pw" ] || kill "$pw" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$b/tests/libvrtc/vrtc-pagewriter" "$tmp/vmclock" 30 >"$tmp/pw.out" &
pw=$!
for _ in $(seq 100); do
	grep -q ready "$tmp/pw.out" 2>/dev/null && break
	sleep 0.05
done
VRTC_PAGE=$tmp/vmclock "$b/tests/libvrtc/man_example"
echo "check-man-example: libvrtc(3)'s example ran"
