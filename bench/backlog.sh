#!/usr/bin/env bash
# Accept latency while a backlog grows: one daemon whose jobs sleep an hour (2 workers),
# ROUNDS back-to-back accept runs of SECONDS each, so that the unfinished jobs the engine
# keeps in memory pass 2M (at ~40k accepts/s). One JSON line per run: the backlog at its
# end, rate, p50/p99/p99.9/max. A stall that happens once (a table moving its entries)
# shows in p99.9 and max.
# Needs wrk (apt-get install wrk) and a Release build.
#   bench/backlog.sh [rounds] [seconds] [connections]
source "$(dirname "$0")/lib.sh"
rounds=${1:-6}
seconds=${2:-10}
connections=${3:-32}
start_daemon backlog
for round in $(seq "$rounds"); do
    run=$(wrk_json "$url/v1/jobs" "$seconds" "$connections" '{"type":"hello","input":{"name":"bench","delayMs":3600000}}')
    backlog=$(curl -fsS "$url/metrics" | awk '/^ticketd_queue_length\{.*type="hello"/ {print $2}')
    printf '{"benchmark": "accept while a backlog grows", "round": %d, "backlog_after": %s, "run": %s}\n' \
        "$round" "${backlog:-null}" "$run"
done
