#!/usr/bin/env bash
# HTTPS against plain HTTP, one binary, interleaved pairs: keep-alive durable accepts,
# keep-alive /healthz, and new connections per second (Connection: close on /healthz:
# one TCP connection, and over TLS one full handshake, per request). The certificate is
# an ECDSA P-256 one made here with openssl. Prints one JSON object.
#   bench/tls.sh [seconds] [connections] [pairs]
source "$(dirname "$0")/lib.sh"
seconds=${1:-10}
connections=${2:-64}
pairs=${3:-3}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$bench_dir/key.pem" \
    -out "$bench_dir/cert.pem" -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
start_daemon plain
plain=$url
start_daemon tls "" "$(printf '  tls:\n    certificate: %s\n    private_key: %s\n' "$bench_dir/cert.pem" "$bench_dir/key.pem")"
tls=$url
body='{"type":"hello","input":{"name":"bench","delayMs":3600000}}'
runs=()
for _ in $(seq "$pairs"); do
    for side in plain tls; do
        base=${!side}
        runs+=("$side accepts $(wrk_json "$base/v1/jobs" "$seconds" "$connections" "$body")")
        runs+=("$side healthz $(wrk_json "$base/healthz" "$seconds" "$connections")")
        runs+=("$side new_connections $(WRK_CONNECTION_CLOSE=1 wrk_json "$base/healthz" "$seconds" 16)")
    done
done
printf '%s\n' "${runs[@]}" | python3 -c '
import json, math, sys
runs = {}
for line in sys.stdin:
    side, what, report = line.split(" ", 2)
    runs.setdefault(what, {}).setdefault(side, []).append(json.loads(report))
def rate(reports): return [round(r["requests_per_s"]) for r in reports]
out = {"benchmark": "https vs http (keep-alive accepts and /healthz; new connections per second)",
       "seconds": int(sys.argv[1]), "connections": int(sys.argv[2]), "pairs": int(sys.argv[3])}
for what, sides in runs.items():
    p, t = rate(sides["plain"]), rate(sides["tls"])
    ratios = [b / a for a, b in zip(p, t)]
    out[what] = {"plain_per_s": p, "tls_per_s": t,
                 "tls_to_plain_geomean": round(math.exp(sum(map(math.log, ratios)) / len(ratios)), 3),
                 "tls_p99_ms": [r["latency_ms"]["p99"] for r in sides["tls"]],
                 "errors": sum(r["errors"] for s in sides.values() for r in s)}
print(json.dumps(out, indent=2))
' "$seconds" "$connections" "$pairs"
