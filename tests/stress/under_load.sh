#!/usr/bin/env bash
# The whole suite, RUNS times in a row, while stress-ng keeps every core busy: a test that
# waits on time with too short a deadline, or races the daemon, fails here first. Prints
# one JSON line per run and a summary; exits 1 if any run failed.
#   under_load.sh <build dir> [RUNS]     (make test-loaded RUNS=10)
set -euo pipefail
build=$(cd "$1" && pwd)
runs=${2:-10}
command -v stress-ng >/dev/null || { echo "under_load: stress-ng is missing (scripts/install-deps.sh --with-stress)" >&2; exit 1; }
preset=$(basename "$build")
cd "$(dirname "$0")/../.."
logs=$(mktemp -d /tmp/ticketd-under-load-XXXXXX)
stress-ng --cpu "$(nproc)" --timeout 0 --quiet &
stress=$!
trap 'kill $stress 2>/dev/null; wait $stress 2>/dev/null || true' EXIT
failed_runs=0
for run in $(seq "$runs"); do
    start=$SECONDS
    if ctest --preset "$preset" >"$logs/run-$run.log" 2>&1; then ok=true; else ok=false; failed_runs=$((failed_runs + 1)); fi
    took=$((SECONDS - start))
    summary=$(grep -E "tests passed" "$logs/run-$run.log" | tail -n 1)
    failures=$(sed -n 's/^[[:space:]]*[0-9]* - \([^ ]*\) .*(Failed.*/\1/p' "$logs/run-$run.log" | paste -sd, -)
    echo "{\"run\": $run, \"ok\": $ok, \"seconds\": $took, \"summary\": \"$summary\", \"failed\": \"$failures\"}"
done
echo "under_load: $((runs - failed_runs)) of $runs runs passed with $(nproc) cores kept busy by stress-ng; logs in $logs"
[ "$failed_runs" = 0 ]
