#!/usr/bin/env python3
"""How long principal B's one job waits behind principal A's flood (fair queues).

A submits JOBS hello jobs of DELAY ms on a WORKERS-worker type, then B submits one; the
result is B's job's start delay (startedAt - createdAt, from its own document). Run it
with TICKETD_BIN=<an older build> for the same number without fair queues. One JSON line.

  bench/fairness.py [jobs] [delay_ms] [workers]
"""
import datetime
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("TICKETD_BIN", os.path.join(ROOT, "build/release/daemon/ticketd"))
PLUGINS = os.path.join(ROOT, "build/release/plugins")


def key(config, principal):
    out = subprocess.run([BIN, "keys", "create", "--config", config, "--principal", principal,
                          "--scope", "jobs:submit", "--scope", "jobs:read"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip()


def millis(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000


def main():
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    delay_ms = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "jobs.d"))
        config = os.path.join(d, "ticketd.yaml")
        with open(config, "w") as f:
            f.write(f"server:\n  listen: 127.0.0.1:0\nstate_dir: state\nplugin_dir: {PLUGINS}\njobs_dir: jobs.d\n"
                    "auth:\n  mode: api_keys\n  keys_file: keys.yaml\n")
        with open(os.path.join(d, "jobs.d", "hello.yaml"), "w") as f:
            f.write(f"type: hello\nplugin: hello.so\nworkers: {workers}\nqueue_capacity: {jobs + 100}\n")
        a, b = key(config, "flood"), key(config, "other")
        port_file = os.path.join(d, "port")
        daemon = subprocess.Popen([BIN, "--config", config, "--port-file", port_file], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (os.path.exists(port_file) and os.path.getsize(port_file) > 0):
                if time.monotonic() > deadline:
                    raise SystemExit("fairness: ticketd did not start")
                time.sleep(0.05)
            port = int(open(port_file).read().split()[0])
            conn = http.client.HTTPConnection("127.0.0.1", port)

            def call(method, path, token, body=None):
                headers = {"Authorization": "Bearer " + token}
                if body is not None:
                    headers["Content-Type"] = "application/json"
                conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
                response = conn.getresponse()
                return response.status, json.loads(response.read() or b"{}")

            job = {"type": "hello", "input": {"name": "flood", "delayMs": delay_ms}}
            started = time.monotonic()
            for _ in range(jobs):
                status, _ = call("POST", "/v1/jobs", a, job)
                assert status == 202, status
            flood_s = time.monotonic() - started
            status, mine = call("POST", "/v1/jobs", b, job)
            assert status == 202, status
            while True:
                status, doc = call("GET", "/v1/jobs/" + mine["id"] + "?redirect=false", b)
                if doc.get("startedAt"):
                    break
                time.sleep(0.005)
            _, queued = call("GET", "/v1/jobs?status=queued&limit=1", a)
            print(json.dumps({
                "benchmark": "B's start delay behind A's flood", "binary": BIN, "jobs": jobs,
                "job_ms": delay_ms, "workers": workers, "flood_submit_s": round(flood_s, 2),
                "b_start_delay_ms": round(millis(doc["startedAt"]) - millis(doc["createdAt"])),
                "a_still_queued_when_b_started": bool(queued.get("jobs")),
            }))
        finally:
            daemon.terminate()
            daemon.wait()


if __name__ == "__main__":
    main()
