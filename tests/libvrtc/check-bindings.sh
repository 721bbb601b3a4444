#!/usr/bin/env bash
# libvrtc's bindings against a live page from the daemon's encoder
# (make check-libvrtc): Python (ctypes), Rust (cargo --offline, no
# crates), Go (cgo), each its own tests, on the build tree's libvrtc.
# A binding whose toolchain is absent is skipped with a line saying so
# (contrib/install-deps.sh build installs them).
#   tests/libvrtc/check-bindings.sh BUILD_DIR
set -euo pipefail

b=$(realpath "$1")
top=$(realpath "$(dirname "$0")/../..")
bind=$top/src/libvrtc/bindings
tmp=$(mktemp -d)
pw=
cleanup() {
	[ -z "$pw" ] || kill "$pw" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

"$b/tests/libvrtc/vrtc-pagewriter" "$tmp/vmclock" 300 >"$tmp/pw.out" &
pw=$!
for _ in $(seq 100); do
	grep -q ready "$tmp/pw.out" 2>/dev/null && break
	sleep 0.05
done
export VRTC_TEST_PAGE=$tmp/vmclock
export LD_LIBRARY_PATH=$b${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# ASan's runtime must come first in a process that loads an ASan libvrtc
san=
if nm -D "$b/libvrtc.so.0" | grep -q __asan; then
	san=$(gcc -print-file-name=libasan.so)
fi
fail=0

export PYTHONDONTWRITEBYTECODE=1
echo "== python (ctypes)"
(cd "$bind/python" && VRTC_LIB=$b/libvrtc.so.0 LD_PRELOAD=$san \
	ASAN_OPTIONS=detect_leaks=0 python3 -m unittest -v test_vrtc 2>&1) || fail=1

echo "== rust (cargo --offline)"
if command -v cargo >/dev/null; then
	# the ASan runtime for the test programs only (rustc itself
	# crashes with it preloaded): cargo's runner for the host target
	host=$(rustc -vV | sed -n 's/^host: //p' | tr 'a-z-' 'A-Z_')
	runner=()
	[ -z "$san" ] ||
		runner=("CARGO_TARGET_${host}_RUNNER=env LD_PRELOAD=$san ASAN_OPTIONS=detect_leaks=0")
	(cd "$bind/rust" && env "${runner[@]}" VRTC_LIB_DIR="$b" MAKEFLAGS='' \
		CARGO_TARGET_DIR="$b/rust" cargo test --offline --quiet 2>&1) ||
		fail=1
else
	echo "rust: skipped (no cargo)"
fi

echo "== go (cgo)"
if command -v go >/dev/null; then
	(cd "$bind/go" && CGO_CFLAGS="-I$top/include" CGO_LDFLAGS="-L$b" \
		GOCACHE=$b/go-cache GOPATH=$b/go GOFLAGS=-mod=mod GOPROXY=off \
		GOTOOLCHAIN=local LD_PRELOAD=$san ASAN_OPTIONS=detect_leaks=0 \
		go test -count=1 . 2>&1) || fail=1
else
	echo "go: skipped (no go)"
fi
[ $fail -eq 0 ] && echo "check-bindings: python, rust and go passed on a live page"
exit $fail
