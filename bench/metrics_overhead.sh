#!/usr/bin/env bash
# What instrumentation costs: durable accepts/s of a daemon with metrics on against one
# with metrics.enabled: false, in alternating rounds of the same session (the machine's
# noise hits both alike). Prints one JSON object.
#   bench/metrics_overhead.sh [seconds per round] [rounds] [connections]
source "$(dirname "$0")/lib.sh"
seconds=${1:-5}
rounds=${2:-3}
connections=${3:-64}
body='{"type":"hello","input":{"name":"bench"}}'
start_daemon on
on_url=$url
start_daemon off $'metrics:\n  enabled: false\n'
off_url=$url
results=()
for _ in $(seq "$rounds"); do
    results+=("on $(wrk_json "$on_url/v1/jobs" "$seconds" "$connections" "$body")")
    results+=("off $(wrk_json "$off_url/v1/jobs" "$seconds" "$connections" "$body")")
done
printf '%s\n' "${results[@]}" | python3 -c '
import json, statistics, sys
runs = {"on": [], "off": []}
for line in sys.stdin:
    which, data = line.split(" ", 1)
    runs[which].append(json.loads(data)["requests_per_s"])
on, off = statistics.median(runs["on"]), statistics.median(runs["off"])
print(json.dumps({"benchmark": "metrics overhead on durable accepts",
                  "accepts_per_s_metrics_on": runs["on"], "accepts_per_s_metrics_off": runs["off"],
                  "median_on": on, "median_off": off,
                  "overhead_percent": round(100 * (off - on) / off, 2)}, indent=2))'
