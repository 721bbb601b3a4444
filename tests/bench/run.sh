#!/usr/bin/env bash
# Run the benchmark against the daemon in a build directory:
#   tests/bench/run.sh <build dir> [probe bench options...]
# The probe's bench starts (and stops) the daemon itself for each part, so it
# can switch polling modes and read the daemon's /proc entries. Results:
# table on stdout, copy in <build dir>/bench-results.txt.
set -euo pipefail

b=${1:?usage: $0 <build dir> [probe bench options]}
shift
b=$(cd "$b" && pwd)

for f in "$b/vhost-user-rtc" "$b/vhost-user-rtc-probe"; do
	if [ ! -x "$f" ]; then
		echo "$0: $f missing; run make first" >&2
		exit 1
	fi
done

# 256 VMs need well over 1024 fds, in the daemon and in the bench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

exec "$b/vhost-user-rtc-probe" bench --daemon "$b/vhost-user-rtc" \
	--out "$b/bench-results.txt" "$@"
