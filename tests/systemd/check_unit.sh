#!/usr/bin/env bash
# systemd/ticketd.service, checked offline: `systemd-analyze verify` must print nothing
# (it exits 0 even for unknown keys) and the security exposure must stay <= 2.0.
#   check_unit.sh <source dir> <ticketd binary>
set -euo pipefail
src=$1 bin=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# verify checks that ExecStart's binary exists: point it at the one just built.
sed "s|^ExecStart=/usr/bin/ticketd |ExecStart=$bin |" "$src/systemd/ticketd.service" >"$work/ticketd.service"
out=$(systemd-analyze verify "$work/ticketd.service" 2>&1) || { echo "$out"; echo "0 passed, 1 failed"; exit 1; }
[ -z "$out" ] || { echo "systemd-analyze verify said:"; echo "$out"; echo "0 passed, 1 failed"; exit 1; }
echo "ok: systemd-analyze verify"
systemd-analyze security --offline=yes --threshold=20 "$work/ticketd.service" | tail -n 1 \
    || { echo "exposure above 2.0"; echo "1 passed, 1 failed"; exit 1; }
echo "ok: exposure <= 2.0"
echo "2 passed, 0 failed"
