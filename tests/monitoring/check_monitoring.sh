#!/usr/bin/env bash
# Checks monitoring/ against a real daemon: promtool check metrics on a real scrape,
# promtool check/test rules, the dashboard JSON is well formed, and every metric the
# dashboard and the rules use exists in the scrape.
#   check_monitoring.sh <ticketd binary> <plugin dir> <source dir>
set -euo pipefail
bin=$1 plugins=$2 src=$3
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
passed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$work/jobs.d"
printf 'server:\n  listen: 127.0.0.1:0\nstate_dir: state\njobs_dir: jobs.d\nplugin_dir: %s\n' "$plugins" >"$work/ticketd.yaml"
printf 'type: hello\nplugin: hello.so\n' >"$work/jobs.d/hello.yaml"
"$bin" --config "$work/ticketd.yaml" --port-file "$work/port" 2>"$work/log" &
pid=$!
for _ in $(seq 1200); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "daemon did not start: $(cat "$work/log")"
url="http://127.0.0.1:$(cat "$work/port")"
curl -s -o /dev/null -X POST "$url/v1/jobs" -H 'Content-Type: application/json' -H 'Prefer: wait=5' -d '{"type":"hello"}'
curl -s -o /dev/null -X POST "$url/v1/jobs" -H 'Content-Type: application/json' -d '{"type":"hello","input":{"x":1}}'
curl -s "$url/metrics" >"$work/scrape.txt"

promtool check metrics <"$work/scrape.txt" || fail "promtool check metrics"
ok "promtool check metrics on a real scrape"
promtool check rules "$src/monitoring/prometheus/ticketd-rules.yml" >/dev/null || fail "promtool check rules"
ok "promtool check rules"
(cd "$src/monitoring/prometheus" && promtool test rules ticketd-rules.test.yml >/dev/null) || fail "promtool test rules"
ok "promtool test rules"

python3 - "$work/scrape.txt" "$src" <<'PY' || fail "dashboard or rules reference metrics the daemon does not export"
import json, pathlib, re, sys
scrape, src = pathlib.Path(sys.argv[1]).read_text(), pathlib.Path(sys.argv[2])
exported = set(re.findall(r"^# TYPE (\S+) (\S+)", scrape, re.M))
names = {n for n, _ in exported}
histograms = {n for n, t in exported if t == "histogram"}
def known(m):
    if m in names: return True
    for suffix in ("_bucket", "_sum", "_count"):
        if m.endswith(suffix) and m[: -len(suffix)] in histograms: return True
    return False
dashboard = json.loads((src / "monitoring/grafana/ticketd-dashboard.json").read_text())
assert "__inputs" not in dashboard, "a provisioned dashboard must not use __inputs"
assert any(v["type"] == "datasource" for v in dashboard["templating"]["list"]), "no datasource variable"
exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
rules = (src / "monitoring/prometheus/ticketd-rules.yml").read_text()
exprs.append(rules)
used = set()
for e in exprs:
    used |= set(re.findall(r"\b((?:ticketd|process)_[a-z0-9_]+)\b", e))
missing = sorted(m for m in used if not known(m))
print(f"{len(used)} metric names used by the dashboard and rules, all exported" if not missing else f"missing: {missing}")
sys.exit(1 if missing else 0)
PY
ok "dashboard JSON well formed, every metric it and the rules use is exported"
echo "$passed passed, 0 failed"
