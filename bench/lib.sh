# Shared helpers of the benchmark scripts (sourced, not run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin=${TICKETD_BIN:-build/release/daemon/ticketd}  # TICKETD_BIN: another build to compare
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: build first (make build)" >&2; exit 1; }
bench_dir=$(mktemp -d)
bench_pids=()
trap 'for p in "${bench_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$bench_dir"' EXIT

# start_daemon NAME [extra top-level YAML] [extra lines under server:]: starts a daemon with
# the hello type on a free port; sets $url (https:// when the server lines set tls:).
start_daemon() {
    local dir="$bench_dir/$1"
    mkdir -p "$dir/jobs.d"
    printf 'server:\n  listen: 127.0.0.1:0\n  io_threads: 2\n%s\nstate_dir: state\nplugin_dir: %s\njobs_dir: jobs.d\n%s' \
        "${3:-}" "$PWD/build/release/plugins" "${2:-}" >"$dir/ticketd.yaml"
    # HELLO_YAML: more lines for the hello type (an A/B of its settings with one binary).
    printf 'type: hello\nplugin: hello.so\nworkers: 2\nqueue_capacity: 10000000\n%s' "${HELLO_YAML:-}" \
        >"$dir/jobs.d/hello.yaml"
    "$bin" --config "$dir/ticketd.yaml" --port-file "$dir/port" 2>"$dir/log" &
    bench_pids+=($!)
    for _ in $(seq 200); do [ -s "$dir/port" ] && break; sleep 0.05; done
    local scheme=http
    case "${3:-}" in *tls:*) scheme=https ;; esac
    url="$scheme://127.0.0.1:$(head -n 1 "$dir/port")"
}

# wrk_json URL SECONDS CONNECTIONS [POST body]: one JSON line (bench/report.lua).
wrk_json() {
    if [ -n "${4:-}" ]; then
        WRK_METHOD=POST WRK_BODY="$4" wrk -t2 -c"$3" -d"$2s" -s bench/report.lua "$1" | tail -n 1
    else
        wrk -t2 -c"$3" -d"$2s" -s bench/report.lua "$1" | tail -n 1
    fi
}
