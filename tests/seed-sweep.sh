#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run every randomized unit suite (those that take their seed from
# tests/unit/test_seed.h) once for each seed FIRST..FIRST+COUNT-1, two at
# a time, and name the seeds that fail. The seeds are fixed, so a sweep
# is reproducible: a failure here is repeated by
#   VRTC_TEST_SEED=N build/tests/unit/test_X
#
# usage: tests/seed-sweep.sh BUILD_DIR [COUNT [FIRST]]
set -euo pipefail

b=${1:?usage: $0 BUILD_DIR [COUNT [FIRST]]}
count=${2:-100}
first=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp -d)
: >"$log/failures"
trap 'rm -rf "$log"' EXIT

suites=()
while read -r src; do
	suites+=("$b/tests/unit/$(basename "$src" .c)")
done < <(grep -l '"test_seed.h"' "$here"/unit/test_*.c)
for s in "${suites[@]}"; do
	[[ -x $s ]] || { echo "seed-sweep: $s is not built" >&2; exit 2; }
done

# one suite under one seed; prints nothing unless it fails
run_one() { # seed suite
	local out
	out="$log/$1.$(basename "$2")"
	if ! VRTC_TEST_SEED=$1 "$2" --jobs 1 --short-filename >"$out" 2>&1; then
		echo "FAIL: VRTC_TEST_SEED=$1 $2"
		grep -E 'Assertion|FAIL|CRASH' "$out" | head -5
	fi
	rm -f "$out"
}
export -f run_one
export log

last=$((first + count - 1))
echo "seed-sweep: ${#suites[@]} suites x $count seeds ($first..$last)"
for ((seed = first; seed <= last; seed++)); do
	# shellcheck disable=SC2016 # $0 and $1 are the inner bash's
	printf '%s\n' "${suites[@]}" |
		xargs -P 2 -I{} bash -c 'run_one "$0" "$1"' "$seed" {} |
		tee -a "$log/failures"
	if (((seed - first + 1) % 10 == 0 || seed == last)); then
		echo "seed-sweep: $((seed - first + 1))/$count seeds," \
			"$(grep -c '^FAIL' "$log/failures" || true) failures"
	fi
done
! grep -q '^FAIL' "$log/failures"
