#!/usr/bin/env bash
# Durable accepts per second (POST /v1/jobs -> 202, each committed to SQLite before the
# answer) against a baseline of the same server answering GET /healthz, in one session.
# Prints one JSON object. Needs wrk (apt-get install wrk) and a Release build.
#   bench/accepts.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
bin=build/release/daemon/ticketd
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: build first (make build)" >&2; exit 1; }

dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/jobs.d"
cat > "$dir/ticketd.yaml" <<YAML
server:
  listen: 127.0.0.1:0
  io_threads: 2
state_dir: state
plugin_dir: $PWD/build/release/plugins
jobs_dir: jobs.d
YAML
printf 'type: hello\nplugin: hello.so\nworkers: 2\nqueue_capacity: 10000000\n' > "$dir/jobs.d/hello.yaml"
"$bin" --config "$dir/ticketd.yaml" --port-file "$dir/port" 2> "$dir/log" &
pid=$!
for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$dir/port")"

run() { wrk -t2 -c"$connections" -d"${seconds}s" -s bench/report.lua "$1" | tail -n 1; }
baseline=$(run "$url/healthz")
accepts=$(WRK_METHOD=POST WRK_BODY='{"type":"hello","input":{"name":"bench"}}' run "$url/v1/jobs")
python3 - "$baseline" "$accepts" "$seconds" "$connections" <<'PY'
import json, sys
base, acc = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "benchmark": "durable accepts vs /healthz",
    "seconds": int(sys.argv[3]), "connections": int(sys.argv[4]),
    "healthz": base, "accepts": acc,
    "accepts_to_healthz_ratio": round(acc["requests_per_s"] / base["requests_per_s"], 3),
}, indent=2))
PY
