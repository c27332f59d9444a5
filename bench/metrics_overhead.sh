#!/usr/bin/env bash
# What instrumentation costs: durable accepts/s of a daemon with metrics on against one
# with metrics.enabled: false, in alternating rounds of the same session (the machine's
# noise hits both alike). Prints one JSON object.
#   bench/metrics_overhead.sh [seconds per round] [rounds] [connections]
source "$(dirname "$0")/lib.sh"
seconds=${1:-5}
rounds=${2:-3}
connections=${3:-64}
# Jobs that sleep for an hour: accepted jobs cost no CPU afterwards, so one daemon's
# backlog never slows the other's round.
body='{"type":"hello","input":{"name":"bench","delayMs":3600000}}'
start_daemon on
on_url=$url
start_daemon off $'metrics:\n  enabled: false\n'
off_url=$url
results=()
for _ in $(seq "$rounds"); do
    results+=("on $(wrk_json "$on_url/v1/jobs" "$seconds" "$connections" "$body")")
    results+=("off $(wrk_json "$off_url/v1/jobs" "$seconds" "$connections" "$body")")
    results+=("on_healthz $(wrk_json "$on_url/healthz" "$seconds" "$connections")")
    results+=("off_healthz $(wrk_json "$off_url/healthz" "$seconds" "$connections")")
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
runs = {"on": [], "off": [], "on_healthz": [], "off_healthz": []}
for line in sys.stdin:
    which, data = line.split(" ", 1)
    runs[which].append(json.loads(data)["requests_per_s"])
med = {k: statistics.median(v) for k, v in runs.items()}
print(json.dumps({"benchmark": "metrics overhead (instrumentation on vs metrics.enabled: false)",
                  "rounds": runs, "medians": med,
                  "accepts_overhead_percent": round(100 * (med["off"] - med["on"]) / med["off"], 2),
                  "healthz_overhead_percent": round(100 * (med["off_healthz"] - med["on_healthz"]) / med["off_healthz"], 2)},
                 indent=2))'
