#!/usr/bin/env bash
# Runs the libFuzzer harnesses built in <build dir> (the fuzz preset), each for <seconds>,
# on its committed seeds (tests/fuzz/corpus/<name>, regressions included) and a working
# corpus under <build dir>/fuzz-corpus/<name> that keeps what it finds between runs.
# FUZZ_JOBS harnesses run at once (default 1). Prints one JSON line per harness
# (CPU seconds, executions, coverage, corpus size, crashes) and fails if any harness found a crash;
# the crashing input is in <build dir>/fuzz-artifacts/<name>/.
#   usage: run.sh <build dir> <seconds> [harness ...]
set -euo pipefail
build=$(realpath "$1")
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for f in "$here"/*_fuzzer.cpp; do harnesses+=("$(basename "$f" _fuzzer.cpp)"); done
fi

run_one() {
    local name=$1 build=$2 seconds=$3 here=$4
    local bin="$build/tests/fuzz/fuzz_$name" corpus="$build/fuzz-corpus/$name"
    local artifacts="$build/fuzz-artifacts/$name/" log="$build/fuzz-logs/$name.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    local args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=25 -rss_limit_mb=4096
                -artifact_prefix="$artifacts" -max_len=65536)
    [ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
    local status=0
    # The plugin file harness also starts from the plugins this build made.
    if [ "$name" = plugin_file ]; then cp -n "$build"/plugins/*.so "$corpus"/ 2>/dev/null || true; fi
    ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" "${args[@]}" "$corpus" "$here/corpus/$name" > "$log" 2>&1 || status=$?
    # CPU time the harness used (user + system, from bash's `times`): under load it is
    # less than the wall-clock seconds given, and it is what a fuzzing record counts.
    local cpu
    times > "$log.times"   # not in $(...): a subshell's `times` counts only its own children
    cpu=$(tail -1 "$log.times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/);
                                   printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
    local execs cov ft
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -aoE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
    printf '{"harness":"%s","seconds":%s,"cpu_seconds":%s,"executions":%s,"edges":%s,"features":%s,"corpus":%s,"crashes":%s,"exit":%s}\n' \
        "$name" "$seconds" "$cpu" "${execs:-0}" "${cov:-0}" "${ft:-0}" "$(ls "$corpus" | wc -l)" \
        "$(ls "$artifacts" | wc -l)" "$status"
    if [ "$status" -ne 0 ]; then
        echo "fuzz: $name failed (exit $status); its log: $log" >&2
        grep -E "^==[0-9]+==ERROR|^SUMMARY|invariant violated|runtime error|Test unit written" "$log" | head -5 >&2
        return 1
    fi
}
export -f run_one
printf '%s\n' "${harnesses[@]}" |
    xargs -P "${FUZZ_JOBS:-1}" -I{} bash -c 'run_one "$@"' _ {} "$build" "$seconds" "$here"
