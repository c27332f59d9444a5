#!/usr/bin/env bash
# Durable accepts per second (POST /v1/jobs -> 202, each committed to SQLite before the
# answer) against a baseline of the same server answering GET /healthz, in one session.
# Prints one JSON object. Needs wrk (apt-get install wrk) and a Release build.
# BENCH_AUTH=api_keys: the daemon requires keys, and every submit carries a bearer token.
#   bench/accepts.sh [seconds] [connections]
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
connections=${2:-64}
auth=${BENCH_AUTH:-none}
if [ "$auth" = api_keys ]; then
    mkdir -p "$bench_dir/main"
    token=$("$bin" keys create --keys-file "$bench_dir/main/keys.yaml" --principal bench --scope jobs:submit 2>/dev/null)
    export WRK_AUTHORIZATION="Bearer $token"
    start_daemon main "$(printf 'auth:\n  mode: api_keys\n  keys_file: keys.yaml\n')"
else
    start_daemon main
fi
baseline=$(wrk_json "$url/healthz" "$seconds" "$connections")
# The jobs sleep an hour: this measures the accept path (validate, commit, answer), not
# the workers running jobs beside it.
accepts=$(wrk_json "$url/v1/jobs" "$seconds" "$connections" '{"type":"hello","input":{"name":"bench","delayMs":3600000}}')
python3 - "$baseline" "$accepts" "$seconds" "$connections" "$auth" <<'PY'
import json, sys
base, acc = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "benchmark": "durable accepts vs /healthz",
    "seconds": int(sys.argv[3]), "connections": int(sys.argv[4]), "auth": sys.argv[5],
    "healthz": base, "accepts": acc,
    "accepts_to_healthz_ratio": round(acc["requests_per_s"] / base["requests_per_s"], 3),
}, indent=2))
PY
