#!/usr/bin/env python3
"""Benchmarks of the bundled job types through a real Release daemon.

  bench/bundled_types.py [--rows N] [--large-bytes B] [--skip-large]

1. import: N rows (default 1M) of generated CSV -> SQLite, rows/s, against a baseline in
   the same session: the sqlite3 shell's `.import` of the same file into the same schema
   (no staging, no type checks, no exactly-once ledger).
2. large inputs (default 1 GiB each): a streamed upload, an import of a CSV that size, a
   CSV report of all those rows, its download, and a WAV of that size transcoded to MP3;
   the daemon's peak RSS (VmHWM) after each, to show memory stays flat.

Prints one JSON object per measurement, then a short table. Needs a Release build
(make build), curl, sqlite3 and ffmpeg (scripts/install-deps.sh installs them).
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build/release/daemon/ticketd")
PLUGINS = os.path.join(ROOT, "build/release/plugins")
results = []


def emit(**m):
    results.append(m)
    print(json.dumps(m), flush=True)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MiB
    return -1


class Daemon:
    def __init__(self, work):
        os.makedirs(f"{work}/jobs.d")
        with open(f"{work}/ticketd.yaml", "w") as f:
            f.write(f"server:\n  listen: 127.0.0.1:0\n  request_timeout: 120s\nstate_dir: state\n"
                    f"plugin_dir: {PLUGINS}\njobs_dir: jobs.d\nuploads:\n  max_bytes: 4GiB\n")
        db = "database: \"${state_dir}/warehouse.db\""
        types = {
            "import": f"type: import\nplugin: import.so\nworkers: 1\ntimeout: 2h\nsettings:\n  {db}\n",
            "report": f"type: report\nplugin: report.so\ntimeout: 2h\nsettings:\n  {db}\n  maxRows: 100000000\n"
                      "  reports:\n    all:\n      title: Everything\n      sql: SELECT * FROM big\n",
            "transcode": "type: transcode\nplugin: transcode.so\ntimeout: 2h\n",
        }
        for name, text in types.items():
            with open(f"{work}/jobs.d/{name}.yaml", "w") as f:
                f.write(text)
        self.log = open(f"{work}/daemon.log", "w")
        self.proc = subprocess.Popen([BIN, "--config", f"{work}/ticketd.yaml", "--port-file", f"{work}/port"],
                                     stderr=self.log)
        for _ in range(400):
            if os.path.exists(f"{work}/port") and os.path.getsize(f"{work}/port") > 0:
                break
            time.sleep(0.05)
        with open(f"{work}/port") as f:
            self.url = f"http://127.0.0.1:{f.readline().strip()}"
        self.state = f"{work}/state"

    def rss(self):
        return proc_status(self.proc.pid, "VmRSS"), proc_status(self.proc.pid, "VmHWM")

    def upload(self, path, ctype):
        # curl -T streams the file (--data-binary @file would read it into memory first).
        out = subprocess.run(["curl", "-sS", "-X", "POST", "-T", path, "-H", f"Content-Type: {ctype}",
                              f"{self.url}/v1/uploads"], capture_output=True, check=True, text=True).stdout
        return json.loads(out)

    def run_job(self, body):
        req = urllib.request.Request(f"{self.url}/v1/jobs", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        job = json.load(urllib.request.urlopen(req))
        while job["status"] not in ("succeeded", "failed", "canceled"):
            req = urllib.request.Request(f"{self.url}/v1/jobs/{job['id']}?redirect=false", headers={"Prefer": "wait=30"})
            job = json.load(urllib.request.urlopen(req))
        if job["status"] != "succeeded":
            sys.exit(f"bench: job failed: {json.dumps(job)}")
        return job

    def result(self, job_id):
        return urllib.request.urlopen(f"{self.url}/v1/jobs/{job_id}/result").read()

    def result_size(self, job_id):
        req = urllib.request.Request(f"{self.url}/v1/jobs/{job_id}/result", method="HEAD")
        return int(urllib.request.urlopen(req).headers["Content-Length"])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def write_csv(path, rows):
    with open(path, "w", buffering=1 << 20) as f:
        f.write("id,region,product,units,amount,day\n")
        regions = ["north", "south", "east", "west", "\"centre, old town\""]
        for i in range(rows):
            f.write(f"{i},{regions[i % 5]},product-{i % 1000},{i % 17},{(i % 10007) / 100:.2f},2026-{1 + i % 12:02d}-{1 + i % 28:02d}\n")


COLUMNS = {"id": "integer", "units": "integer", "amount": "real", "day": "date"}
SCHEMA = "CREATE TABLE big (id INTEGER, region TEXT, product TEXT, units INTEGER, amount REAL, day TEXT)"


def bench_import(d, work, rows):
    csv = f"{work}/rows.csv"
    write_csv(csv, rows)
    size = os.path.getsize(csv)
    up = d.upload(csv, "text/csv")
    t0 = time.monotonic()
    job = d.run_job({"type": "import", "input": {"table": "big", "format": "csv", "types": COLUMNS},
                     "files": {"source": up["id"]}})
    wall = time.monotonic() - t0
    res = json.loads(d.result(job["id"]))
    assert res["rowsImported"] == rows, res
    # Baseline: the sqlite3 shell loading the same file into the same schema.
    base_db = f"{work}/baseline.db"
    t0 = time.monotonic()
    subprocess.run(["sqlite3", base_db, SCHEMA, ".mode csv", f".import --skip 1 {csv} big"], check=True)
    base = time.monotonic() - t0
    emit(bench="import", rows=rows, file_mb=round(size / 2**20, 1), plugin_ms=res["durationMs"],
         job_wall_s=round(wall, 2), rows_per_s=round(rows / (res["durationMs"] / 1000)),
         baseline_sqlite3_import_s=round(base, 2), baseline_rows_per_s=round(rows / base),
         ratio_to_baseline=round((rows / (res["durationMs"] / 1000)) / (rows / base), 2))
    os.remove(csv)
    os.remove(base_db)


def bench_large(d, work, target_bytes):
    idle_rss, _ = d.rss()
    emit(bench="rss_idle", rss_mb=idle_rss)
    # 1. A raw upload of that size, streamed to disk.
    blob = f"{work}/blob.bin"
    with open(blob, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(target_bytes >> 20):
            f.write(chunk)
    t0 = time.monotonic()
    up = d.upload(blob, "application/octet-stream")
    secs = time.monotonic() - t0
    assert up["size"] == os.path.getsize(blob)
    emit(bench="upload", mb=round(up["size"] / 2**20), seconds=round(secs, 2),
         mb_per_s=round(up["size"] / 2**20 / secs), peak_rss_mb=d.rss()[1])
    os.remove(blob)
    # 2. Import a CSV of that size.
    csv = f"{work}/big.csv"
    rows = target_bytes // 52
    write_csv(csv, rows)
    size = os.path.getsize(csv)
    up = d.upload(csv, "text/csv")
    os.remove(csv)
    job = d.run_job({"type": "import", "input": {"table": "big", "format": "csv", "mode": "replace", "types": COLUMNS},
                     "files": {"source": up["id"]}})
    res = json.loads(d.result(job["id"]))
    emit(bench="import_large", mb=round(size / 2**20), rows=res["rowsImported"], seconds=round(res["durationMs"] / 1000, 1),
         rows_per_s=round(res["rowsImported"] / (res["durationMs"] / 1000)), peak_rss_mb=d.rss()[1])
    # 3. A CSV report of every row, then its download.
    t0 = time.monotonic()
    job = d.run_job({"type": "report", "input": {"report": "all", "format": "csv"}})
    secs = time.monotonic() - t0
    t0 = time.monotonic()
    got = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", f"{d.url}/v1/jobs/{job['id']}/result"],
                         capture_output=True, check=True, text=True).stdout
    emit(bench="report_large", rows=res["rowsImported"], output_mb=round(int(got) / 2**20), report_s=round(secs, 1),
         download_s=round(time.monotonic() - t0, 1), peak_rss_mb=d.rss()[1])
    # 4. Transcode a WAV of that size (44.1 kHz stereo 16-bit: 176,400 bytes per second).
    wav = f"{work}/long.wav"
    seconds = target_bytes // 176400
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}:sample_rate=44100", "-ac", "2", "-c:a", "pcm_s16le", wav],
                   check=True)
    size = os.path.getsize(wav)
    up = d.upload(wav, "audio/wav")
    os.remove(wav)
    t0 = time.monotonic()
    job = d.run_job({"type": "transcode", "input": {"target": "mp3"}, "files": {"source": up["id"]}})
    emit(bench="transcode_large", input_mb=round(size / 2**20), audio_minutes=round(seconds / 60),
         seconds=round(time.monotonic() - t0, 1), result_mb=round(d.result_size(job["id"]) / 2**20, 1),
         peak_rss_mb=d.rss()[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--large-bytes", type=int, default=1 << 30)
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    for tool in ("curl", "sqlite3", "ffmpeg"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing (scripts/install-deps.sh)")
    if not os.access(BIN, os.X_OK):
        sys.exit("bench: build first (make build)")
    work = tempfile.mkdtemp(prefix="ticketd-bench-")
    d = Daemon(work)
    try:
        bench_import(d, work, args.rows)
        if not args.skip_large:
            bench_large(d, work, args.large_bytes)
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n%-16s %s" % ("measurement", "result"))
    for m in results:
        print("%-16s %s" % (m["bench"], ", ".join(f"{k}={v}" for k, v in m.items() if k != "bench")))


if __name__ == "__main__":
    main()
