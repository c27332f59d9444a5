#!/usr/bin/env bash
# Boots the Debian package's unit under a real systemd in a container: a Debian 12 root
# from debootstrap, the .deb installed with apt (which enables the unit), then
# systemd-nspawn --boot. A check unit inside waits for ticketd to be active, runs jobs of
# the bundled types through HTTP (ffmpeg included, so the hardening is exercised), reloads,
# stops it, and writes what it saw to a bind-mounted directory before powering off.
#   nspawn_test.sh --can-run      exit 0 when this machine can run it (root, the tools)
#   nspawn_test.sh <build dir>    run it (make systemd-test builds the package first)
set -euo pipefail

can_run() {
    [ "$(id -u)" = 0 ] && command -v systemd-nspawn >/dev/null && command -v debootstrap >/dev/null
}
if [ "${1:-}" = "--can-run" ]; then
    can_run
    exit
fi
can_run || { echo "nspawn_test: needs root, systemd-nspawn (systemd-container) and debootstrap" >&2; exit 1; }
build=$(cd "$1" && pwd)
deb=$(ls "$build"/package/ticketd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "nspawn_test: no package in $build/package (make package)" >&2; exit 1; }

work=$(mktemp -d /var/tmp/ticketd-nspawn-XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
results=$work/results
mkdir -p "$results"
nspawn() { systemd-nspawn --quiet --register=no --keep-unit -D "$root" "$@"; }

echo "nspawn_test: debootstrap bookworm (minbase)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,ca-certificates \
    bookworm "$root" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/opt/"  # not /tmp: nspawn mounts a fresh one
echo "nspawn_test: apt install $(basename "$deb") (with its Recommends: ffmpeg)"
nspawn /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq /opt/$(basename "$deb")" \
    >"$work/apt.log" 2>&1 || { tail -30 "$work/apt.log"; exit 1; }

# A job type whose fixture plugin crashes the daemon on every attempt of a job that asks
# it to ("crashWith"), beside the bundled ones.
cp "$build/tests/fixture-plugins/sleep.so" "$root/usr/lib/ticketd/plugins/fixture-sleep.so"
printf 'type: poison\nplugin: fixture-sleep.so\nworkers: 2\nmax_attempts: 2\nretry_backoff: 0s\n' \
    >"$root/etc/ticketd/jobs.d/poison.yaml"

cat >"$root/usr/local/bin/check-ticketd" <<'CHECK'
#!/bin/sh
# Runs inside the container after boot; every line it writes is checked by the host.
out=/results/outcome
note() { echo "$*" >>"$out"; }
B=http://127.0.0.1:8080
id_of() { sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p'; }
# A wait is capped at max_wait (30 s): ask again until the job has ended.
status_of() {
    for _ in $(seq 10); do
        s=$(curl -s "$B/v1/jobs/$1?wait=30&redirect=false" | sed -n 's/.*"status":"\([a-z]*\)".*/\1/p')
        case "$s" in succeeded|failed|canceled) break ;; esac
    done
    echo "$s"
}
note "enabled=$(systemctl is-enabled ticketd)"
for _ in $(seq 300); do systemctl is-active -q ticketd && curl -sf $B/readyz >/dev/null && break; sleep 0.1; done
note "active=$(systemctl is-active ticketd)"
note "types=$(curl -s $B/v1/job-types | grep -o '"type":"\(hello\|import\|report\|transcode\)"' | sed 's/"type"://; s/"//g' | sort -u | tr '\n' ' ')"
id=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type":"hello","input":{"name":"nspawn"}}' | id_of)
note "hello=$(status_of "$id")"
printf 'region,amount\nnorth,1.5\nsouth,2\n' >/tmp/sales.csv
up=$(curl -s -X POST -T /tmp/sales.csv -H 'Content-Type: text/csv' $B/v1/uploads | id_of)
id=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' \
    -d '{"type":"import","input":{"table":"sales","format":"csv","types":{"amount":"real"}},"files":{"source":"'"$up"'"}}' | id_of)
note "import=$(status_of "$id")"
ffmpeg -nostdin -loglevel error -f lavfi -i sine=duration=2 /tmp/tone.wav
up=$(curl -s -X POST -T /tmp/tone.wav -H 'Content-Type: audio/wav' $B/v1/uploads | id_of)
id=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' \
    -d '{"type":"transcode","input":{"target":"opus"},"files":{"source":"'"$up"'"}}' | id_of)
note "transcode=$(status_of "$id")"
note "transcode_type=$(curl -s -o /dev/null -w '%{content_type}' $B/v1/jobs/$id/result)"
# The poison job crashes the daemon at each of its 2 attempts; systemd brings it back each
# time; a job running beside it is requeued without using an attempt and succeeds.
doc_of() { curl -s "$B/v1/jobs/$1?redirect=false"; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([a-z0-9-]*\).*/\1/p"; }
by=$(curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -d '{"type":"poison","input":{"delayMs":8000}}' | id_of)
for _ in $(seq 100); do doc_of "$by" | grep -q '"progress"' && break; sleep 0.1; done
poison_request() {
    curl -s -X POST $B/v1/jobs -H 'Content-Type: application/json' -H 'Idempotency-Key: "poison-1"' \
        -d '{"type":"poison","input":{"crashWith":"segv"}}'
}
poison_request >/dev/null  # its 202 may be lost in the crash: the key finds the job again
for _ in $(seq 600); do
    poison=$(poison_request | id_of)
    [ -n "$poison" ] && [ "$(doc_of "$poison" | field status)" = failed ] && break
    sleep 0.2
done
for _ in $(seq 600); do [ "$(doc_of "$by" | field status)" = succeeded ] && break; sleep 0.2; done
note "poison=$(doc_of "$poison" | field status) code=$(doc_of "$poison" | sed -n 's/.*"error":{"code":"\([a-z-]*\)".*/\1/p') attempt=$(doc_of "$poison" | field attempt)"
note "bystander=$(doc_of "$by" | field status) attempt=$(doc_of "$by" | field attempt)"
note "after_crashes=$(systemctl is-active ticketd) restarts=$(systemctl show -p NRestarts --value ticketd)"
pid=$(systemctl show -p MainPID --value ticketd)
systemctl reload ticketd
for _ in $(seq 600); do journalctl -u ticketd -q | grep -q "reload: applied" && break; sleep 0.1; done
note "reloaded=$(journalctl -u ticketd -q | grep -c 'reload: applied') active=$(systemctl is-active ticketd) same_pid=$([ "$pid" = "$(systemctl show -p MainPID --value ticketd)" ] && echo yes || echo no)"
note "exposure=$(systemd-analyze security ticketd 2>/dev/null | sed -n 's/.*Overall exposure level for ticketd.service: \([0-9.]*\).*/\1/p')"
systemctl stop ticketd
note "stopped=$(systemctl is-active ticketd) result=$(systemctl show -p Result --value ticketd) status=$(systemctl show -p ExecMainStatus --value ticketd)"
journalctl -u ticketd --no-pager >/results/journal 2>&1
note done
systemctl poweroff
CHECK
chmod +x "$root/usr/local/bin/check-ticketd"
cat >"$root/etc/systemd/system/check-ticketd.service" <<'UNIT'
[Unit]
Description=Checks ticketd after boot (nspawn_test.sh)
After=ticketd.service network.target
[Service]
Type=oneshot
ExecStart=/usr/local/bin/check-ticketd
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/check-ticketd.service "$root/etc/systemd/system/multi-user.target.wants/"

echo "nspawn_test: booting"
timeout 300 systemd-nspawn --quiet --register=no --keep-unit --boot -D "$root" --bind="$results:/results" \
    --console=pipe >"$work/boot.log" 2>&1 || true

expect() {
    grep -qx -- "$1" "$results/outcome" 2>/dev/null && return
    echo "FAIL: expected '$1'" >&2
    echo "--- outcome" >&2; cat "$results/outcome" >&2 2>/dev/null || true
    echo "--- journal" >&2; tail -40 "$results/journal" >&2 2>/dev/null || true
    echo "--- boot" >&2; tail -20 "$work/boot.log" >&2
    exit 1
}
expect "enabled=enabled"
expect "active=active"
expect "types=hello import report transcode "
expect "hello=succeeded"
expect "import=succeeded"
expect "transcode=succeeded"
expect "transcode_type=audio/ogg; codecs=opus"
expect "poison=failed code=job-interrupted attempt=2"
expect "bystander=succeeded attempt=1"
expect "after_crashes=active restarts=2"
expect "reloaded=1 active=active same_pid=yes"
expect "stopped=inactive result=success status=0"
expect "done"
exposure=$(sed -n 's/^exposure=//p' "$results/outcome")
echo "nspawn_test: OK (the unit booted, ran import/transcode/hello, came back from a plugin crashing it twice, reloaded, stopped cleanly; live exposure ${exposure:-?})"
