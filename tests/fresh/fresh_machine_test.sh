#!/usr/bin/env bash
# The README's two commands on a fresh, minimal Debian 12, as a newcomer runs them: a
# bookworm root from `debootstrap --variant=minbase` with nothing but git, make, curl, sudo
# and ca-certificates, a user with sudo, the commit under test cloned into its home. In a
# systemd-nspawn container, as that user: `make test` (which must install everything it
# needs itself), then `make run` and the README's walk-through with curl against it.
#   fresh_machine_test.sh --can-run   exit 0 when this machine can run it (root, the tools)
#   fresh_machine_test.sh [REPO]      run it on REPO's HEAD (default: this checkout)
# FRESH_KEEP=1 keeps the root (under /var/tmp) for a look after a failure.
set -euo pipefail

can_run() {
    [ "$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null
}
if [ "${1:-}" = "--can-run" ]; then
    can_run
    exit
fi
can_run || { echo "fresh_machine_test: needs root, systemd-nspawn (systemd-container) and debootstrap" >&2; exit 1; }
repo=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] ||
    echo "fresh_machine_test: $repo has uncommitted changes; testing the commit $commit without them"

work=$(mktemp -d /var/tmp/ticketd-fresh-XXXXXX)
cleanup() {
    if [ "${FRESH_KEEP:-0}" = 1 ]; then echo "fresh_machine_test: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
root=$work/root
started=$SECONDS
step() { echo "fresh_machine_test: [$((SECONDS - started)) s] $*"; }
fail() {
    echo "FAIL: $1" >&2
    [ -n "${2:-}" ] && [ -f "$2" ] && tail -n "${3:-60}" "$2" >&2
    exit 1
}

step "debootstrap bookworm (minbase + git make curl sudo ca-certificates)"
debootstrap --variant=minbase --include=git,make,curl,sudo,ca-certificates \
    bookworm "$root" >"$work/debootstrap.log" 2>&1 || fail "debootstrap failed" "$work/debootstrap.log" 20
cp /etc/resolv.conf "$root/etc/resolv.conf"
# A newcomer's account: not root, allowed to sudo (the README's commands install with it).
chroot "$root" useradd --create-home --shell /bin/bash dev
echo 'dev ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/dev"
chmod 0440 "$root/etc/sudoers.d/dev"
git clone --quiet --no-hardlinks "$repo" "$root/home/dev/ticketd"
git -C "$root/home/dev/ticketd" checkout --quiet --detach "$commit"
chroot "$root" chown -R dev:dev /home/dev/ticketd

# --as-pid2: a stub init reaps what the tests leave behind. The first run shares the host's
# network (apt must reach Debian's mirrors); the second has only its own loopback, so its
# 127.0.0.1:8080 is the container's whatever the host runs.
in_container() {
    systemd-nspawn --quiet --register=no --keep-unit --as-pid2 --console=pipe --machine=ticketd-fresh -D "$root" --user=dev \
        --chdir=/home/dev/ticketd --setenv=HOME=/home/dev "$@"
}

step "make test (commit ${commit:0:12})"
in_container make test >"$work/make-test.log" 2>&1 || fail "make test failed on a fresh Debian 12" "$work/make-test.log" 80
grep -E "tests passed|tests failed" "$work/make-test.log" | tail -n 1

step "make run, then the README's walk-through with curl"
cat >"$root/home/dev/walk-through.sh" <<'WALK'
#!/bin/bash
# The README's curl walk-through against `make run`; each check names what failed.
set -u
B=http://127.0.0.1:8080
fail() { echo "walk-through FAILED: $*"; echo "--- make run's output"; tail -n 40 /home/dev/make-run.log; exit 1; }
setsid make run >/home/dev/make-run.log 2>&1 &   # its own process group, as in a terminal
run=$!
for _ in $(seq 600); do curl -sf $B/readyz >/dev/null && break; kill -0 $run 2>/dev/null || fail "make run exited"; sleep 0.5; done
curl -sf $B/readyz >/dev/null || fail "not ready after 300 s"
id_of() { sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p' | head -n 1; }
status_of() { sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | head -n 1; }

submit=$(curl -si -X POST $B/v1/jobs -H 'Content-Type: application/json' -H 'Idempotency-Key: "report-2026-11"' \
    -d '{"type": "hello", "input": {"name": "Ada", "delayMs": 500}}')
grep -q '^HTTP/1.1 202' <<<"$submit" || fail "submit: $submit"
JOB=$(sed -n 's/^Location: \(.*\)\r$/\1/p' <<<"$submit")
[ -n "$JOB" ] || fail "no Location in: $submit"
curl -si "$JOB" | grep -q '^HTTP/1.1 200' || fail "poll is not 200"
curl -si "$JOB?wait=30" | grep -q '^HTTP/1.1 303' || fail "long-poll did not end in 303"
curl -sL "$JOB" | grep -q '"greeting":"Hello, Ada!"' || fail "result: $(curl -sL "$JOB")"
[ "$(curl -sL -r 2-8 "$JOB")" = attempt ] || fail "a ranged result download: $(curl -sL -r 2-8 "$JOB")"
curl -si -X POST $B/v1/jobs -H 'Content-Type: application/json' -H 'Idempotency-Key: "report-2026-11"' \
    -d '{"type": "hello", "input": {"name": "Ada", "delayMs": 500}}' | grep -q '^Idempotent-Replayed: true' ||
    fail "the same key was not replayed"
long=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type": "hello", "input": {"delayMs": 60000}}' | id_of)
curl -si -X POST $B/v1/jobs/$long/cancel | grep -q '^HTTP/1.1 202' || fail "cancel is not 202"
[ "$(curl -s "$B/v1/jobs/$long?wait=30" | status_of)" = canceled ] || fail "the canceled job did not end canceled"
curl -si -X DELETE "$JOB" | grep -q '^HTTP/1.1 204' || fail "delete is not 204"
curl -si "$JOB" | grep -q '^HTTP/1.1 410' || fail "a deleted job is not 410"
curl -s "$B/v1/jobs?status=canceled&pageSize=10" | grep -q "\"$long\"" || fail "the list lacks the canceled job"
curl -s $B/v1/job-types | grep -q '"type":"transcode"' || fail "job-types lacks transcode"

# The bundled types, as the README shows them.
up=$(curl -s -X POST $B/v1/uploads -H 'Content-Type: text/csv' --data-binary @docs/examples/sales.csv | id_of)
[ -n "$up" ] || fail "the CSV upload"
imp=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type": "import",
    "input": {"table": "sales", "format": "csv", "onError": "skip",
              "types": {"day": "date", "units": "integer", "amount": "real"}},
    "files": {"source": "'"$up"'"}}' | id_of)
curl -sL "$B/v1/jobs/$imp?wait=60" | grep -q '"rowsImported":' || fail "import: $(curl -s "$B/v1/jobs/$imp")"
rep=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type": "report",
    "input": {"report": "sales-by-region", "parameters": {"from": "2026-11-01"}, "format": "html"}}' | id_of)
curl -sL "$B/v1/jobs/$rep?wait=60" | grep -qi '<html' || fail "report: $(curl -s "$B/v1/jobs/$rep")"
ffmpeg -nostdin -loglevel error -f lavfi -i sine=frequency=440:duration=2 /tmp/tone.wav || fail "ffmpeg is missing"
up=$(curl -s -X POST $B/v1/uploads -H 'Content-Type: audio/wav' -T /tmp/tone.wav | id_of)
tc=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type": "transcode",
    "input": {"target": "opus", "audioBitrateKbps": 64, "outputName": "tone"}, "files": {"source": "'"$up"'"}}' | id_of)
[ "$(curl -s "$B/v1/jobs/$tc?wait=60&redirect=false" | status_of)" = succeeded ] || fail "transcode: $(curl -s "$B/v1/jobs/$tc")"
curl -s -o /dev/null -w '%{content_type}' "$B/v1/jobs/$tc/result" | grep -q '^audio/ogg' || fail "the transcode result type"
curl -si -X DELETE $B/v1/uploads/$up | grep -q '^HTTP/1.1 204' || fail "upload delete is not 204"
curl -s $B/metrics | grep -q '^ticketd_jobs_submitted_total' || fail "/metrics"

kill -INT -- -$run   # Ctrl-C: make and ticketd both get SIGINT; ticketd drains and stops
wait $run
for _ in $(seq 600); do grep -q ' info stopped$' /home/dev/make-run.log && break; sleep 0.1; done
grep -q 'received SIGINT: draining' /home/dev/make-run.log && grep -q ' info stopped$' /home/dev/make-run.log ||
    fail "ticketd did not stop cleanly on Ctrl-C"
[ -f var/ticketd.db ] || fail "no state under ./var"
echo "walk-through OK"
WALK
chmod +x "$root/home/dev/walk-through.sh"
in_container --private-network /home/dev/walk-through.sh >"$work/walk-through.log" 2>&1 ||
    fail "the walk-through failed" "$work/walk-through.log"
tail -n 1 "$work/walk-through.log"
step "OK: make test passed and make run served the walk-through on a fresh Debian 12"
