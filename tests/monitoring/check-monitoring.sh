#!/usr/bin/env bash
# The Prometheus rules and the Grafana dashboard in contrib/, checked with
# Prometheus's own tools and against a live daemon:
#   - promtool check rules, and promtool test rules (every alert fires on
#     its series and stays quiet on the near misses);
#   - every alert has summary, description, severity and both test cases;
#   - the daemon, started as the integration tests start it, with a VM
#     connected (the probe): promtool check metrics on its live /metrics
#     reports nothing, and the per-VM series were in that scrape;
#   - the dashboard's JSON model (schema, variables, panels) and each of
#     its queries parsed by promtool (as recording rules);
#   - every metric the rules and the dashboard name is in that scrape
#     (up and ALERTS are Prometheus's own).
# Ends with "monitoring: N passed, M failed"; exits 1 if M > 0.
#   tests/monitoring/check-monitoring.sh BUILD_DIR
set -uo pipefail

b=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
cd "$(dirname "$0")/../.." || exit 1
rules=contrib/prometheus/vhost-user-rtc.rules.yml
rules_test=contrib/prometheus/vhost-user-rtc.rules.test.yml
dash=contrib/grafana/vhost-user-rtc.json
py=tests/monitoring/check_monitoring.py

tmp=$(mktemp -d)
daemon_pid=
probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
# check NAME COMMAND...: passes when COMMAND exits 0.
check() {
	local name=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name"
		sed 's/^/     /' "$tmp/out"
	fi
}

# promtool check metrics prints its findings and may still exit 0.
silent_check_metrics() {
	local out
	out=$(promtool check metrics <"$1" 2>&1) || {
		echo "$out"
		return 1
	}
	[ -z "$out" ] || {
		echo "$out"
		return 1
	}
}

# The daemon, as the integration tests and the bench start it, on a free
# loopback port, and a VM (the probe's eval) reading from it meanwhile.
start_daemon() {
	local user=() port
	if [ "$(id -u)" = 0 ] && ! getent passwd vhost-user-rtc >/dev/null; then
		user=(--user root) # it refuses to stay root unless asked
	fi
	for _ in 1 2 3; do
		port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		"$b/vhost-user-rtc" --socket-path "$tmp/x.sock" "${user[@]}" \
			--metrics-address "127.0.0.1:$port" >"$tmp/daemon.log" 2>&1 &
		daemon_pid=$!
		for _ in $(seq 1 50); do
			[ -S "$tmp/x.sock" ] && break
			kill -0 "$daemon_pid" 2>/dev/null || break
			sleep 0.1
		done
		if [ -S "$tmp/x.sock" ] && kill -0 "$daemon_pid" 2>/dev/null; then
			echo "127.0.0.1:$port" >"$tmp/address"
			return 0
		fi
		wait "$daemon_pid" 2>/dev/null # the port was taken meanwhile?
		daemon_pid=
	done
	cat "$tmp/daemon.log"
	return 1
}

scrape_with_a_vm() {
	"$b/vhost-user-rtc-probe" eval --socket "$tmp/x.sock" --duration 6 \
		>"$tmp/probe.log" 2>&1 &
	probe_pid=$!
	for _ in $(seq 1 50); do
		grep -q '^vhost_user_rtc_vms_connected [1-9]' "$tmp/metrics" 2>/dev/null &&
			return 0
		"$python" "$py" scrape "http://$(cat "$tmp/address")/metrics" \
			"$tmp/metrics" || return 1
		sleep 0.1
	done
	echo "no VM connected within 5 s; the probe said:"
	cat "$tmp/probe.log"
	return 1
}

# Debian's python3 has python3-yaml; a python3 of its own earlier in PATH
# may not.
python=python3
python3 -c 'import yaml' 2>/dev/null || python=/usr/bin/python3
for tool in promtool "$python"; do
	command -v "$tool" >/dev/null && "$python" -c 'import yaml' 2>/dev/null || {
		echo "check-monitoring: $tool or python3-yaml missing" \
			"(contrib/install-deps.sh build)" >&2
		echo "monitoring: 0 passed, 1 failed"
		exit 1
	}
done

check "promtool check rules $rules" promtool check rules "$rules"
check "promtool test rules $rules_test" promtool test rules "$rules_test"
check "every alert documented and tested firing and quiet" \
	"$python" "$py" coverage "$rules" "$rules_test"
check "dashboard JSON model $dash" "$python" "$py" dashboard "$dash"
check "dashboard queries parse (promtool)" \
	bash -c "'$python' '$py' promql '$dash' '$tmp/dash.rules.json' &&
		promtool check rules '$tmp/dash.rules.json'"
check "daemon started with --metrics-address" start_daemon
check "live /metrics scraped with a VM connected" scrape_with_a_vm
check "promtool check metrics on the live /metrics: nothing to report" \
	silent_check_metrics "$tmp/metrics"
check "the live scrape has the per-VM and new series" \
	"$python" "$py" live "$tmp/metrics"
check "rules and dashboard name only metrics the daemon exports" \
	"$python" "$py" names "$tmp/metrics" "$rules" "$dash"

echo "monitoring: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
