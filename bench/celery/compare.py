#!/usr/bin/python3
"""ticketd against Celery + Redis, the stack users weigh it against, on the same machine.

  make bench-celery        # installs redis-server and python3-celery, builds Release, runs this
  bench/celery/compare.py [--seconds 10] [--jobs 20000] [--repeat 3]

Three systems, each on a fresh start, driven the same way (32 concurrent clients):
  celery-memory   Celery 5 (prefork, 2 worker processes: as many as cores) with Redis as
                  broker and result backend, Redis in memory (its usual setup: a task is
                  acknowledged once it is in Redis's memory)
  celery-durable  the same with Redis's `appendfsync always`: acknowledged once on disk,
                  as ticketd's 202 is
  ticketd         the bench daemon of bench/bench.py (noop plugin, 2 workers), over HTTP

Measurements:
  submit  noop jobs submitted for --seconds by 32 clients while the workers run them:
          acknowledgements/s, p50/p99, and how many jobs were still waiting at the end
  e2e     --jobs noop jobs, 32 clients, each submitting one and waiting for its result
          (Celery: AsyncResult.get; ticketd: bench/driver/e2e_driver, long-poll to 303 and
          fetch), every result checked: jobs/s

Celery's clients speak Redis's protocol directly, with no HTTP in between: the
comparison favours Celery. Its clients are Python (Celery has no other), so their CPU is
printed too; the numbers are Celery as its users run it. One JSON line per measurement,
then a table; medians of --repeat runs.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import bench  # noqa: E402  (bench/bench.py: the ticketd daemon, wrk and the e2e driver)

CLIENT_PROCESSES = 2   # the GIL: one process per core
CLIENT_THREADS = 16    # per process: 32 clients in all, as against ticketd


def tree_cpu(*pids):
    """CPU seconds used so far by these processes and all their descendants (threads included)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parent[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
            except OSError:
                pass
    wanted, total = set(pids), 0
    for pid, (ppid, ticks) in parent.items():
        p = pid
        while p > 1 and p not in wanted:
            p = parent.get(p, (0, 0))[0]
        if p in wanted:
            total += ticks
    return total / os.sysconf("SC_CLK_TCK")


def cpu_us_per_job(pids, cpu0, jobs):
    return round((tree_cpu(*pids) - cpu0) * 1e6 / jobs, 1)


def wait_drained(queued):
    """Until `queued()` is 0 (at most 10 min): the next run starts from an empty queue, and
    the CPU the backlog's jobs take counts for the run that left it."""
    deadline = time.time() + 600
    while queued() > 0 and time.time() < deadline:
        time.sleep(0.2)


class Redis:
    def __init__(self, work, durable):
        self.dir = tempfile.mkdtemp(dir=work, prefix="redis-")
        self.port = bench.free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if durable else ["--appendonly", "no"]
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.dir, "--save", "", *persistence, "--loglevel", "warning",
                                      "--logfile", f"{self.dir}/redis.log"])
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        sys.exit("compare: redis-server did not start")

    def queued(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"LLEN celery\r\n")
            return int(s.recv(64).decode().strip().lstrip(":"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


class CeleryWorker:
    def __init__(self, redis_url):
        env = dict(os.environ, BENCH_REDIS_URL=redis_url)
        self.proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "tasks", "worker", "--pool=prefork",
                                      "--concurrency=2", "--without-gossip", "--without-mingle",
                                      "--without-heartbeat", "--loglevel=WARNING"],
                                     cwd=HERE, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        # Ready once it has run a job.
        if client(redis_url, "e2e", 1, 1, 1)["ok"] != 1:
            self.stop()
            sys.exit("compare: the Celery worker did not run a job")

    def stop(self):
        # The whole group: the prefork pool's processes too.
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def client(redis_url, mode, processes, threads, amount):
    """Runs `processes` client processes (this script with --client) and sums their counts."""
    cpu0 = bench.children_cpu()
    env = dict(os.environ, BENCH_REDIS_URL=redis_url)
    share = [amount // processes + (1 if i < amount % processes else 0) for i in range(processes)]
    procs = [subprocess.Popen([sys.executable, __file__, "--client", mode, "--threads", str(threads),
                               "--amount", str(amount if mode == "submit" else share[i])],
                              cwd=HERE, env=env, stdout=subprocess.PIPE, text=True) for i in range(processes)]
    outs = [json.loads(p.communicate()[0]) for p in procs]
    latencies = sorted(x for o in outs for x in o["latencies_ms"])
    seconds = max(o["seconds"] for o in outs)
    total = sum(o["ok"] for o in outs)
    return {"ok": total, "bad": sum(o["bad"] for o in outs), "seconds": round(seconds, 3),
            "per_s": round(total / seconds, 1) if seconds else 0.0,
            "latency_ms": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99)},
            "client_cpu_percent": round(100 * (bench.children_cpu() - cpu0) / seconds, 1) if seconds else 0.0}


def percentile(sorted_values, p):
    if not sorted_values:
        return None
    return round(sorted_values[min(len(sorted_values) - 1, len(sorted_values) * p // 100)], 3)


def client_main(mode, threads, amount):
    """One client process: `threads` threads submitting (for `amount` seconds) or running
    whole jobs (`amount` of them, shared)."""
    sys.path.insert(0, HERE)
    from tasks import app, noop
    app.conf.broker_pool_limit = threads
    lock = threading.Lock()
    next_job = [0]
    results = {"ok": 0, "bad": 0, "latencies_ms": []}
    started = time.perf_counter()
    deadline = started + amount

    def take():
        with lock:
            if next_job[0] >= amount:
                return None
            next_job[0] += 1
            return next_job[0]

    def run():
        ok = bad = 0
        lat = []
        i = 0
        while True:
            if mode == "submit":
                if time.perf_counter() >= deadline:
                    break
                i += 1
                t = time.perf_counter()
                noop.delay(i)
                lat.append((time.perf_counter() - t) * 1000)
                ok += 1
            else:
                job = take()
                if job is None:
                    break
                t = time.perf_counter()
                try:
                    value = noop.delay(job).get(timeout=60)
                except Exception as e:  # counted as a bad result, said once per client
                    if bad == 0:
                        print(f"compare: a job failed: {e!r}", file=sys.stderr)
                    value = None
                lat.append((time.perf_counter() - t) * 1000)
                if value == job:
                    ok += 1
                else:
                    bad += 1
        with lock:
            results["ok"] += ok
            results["bad"] += bad
            results["latencies_ms"].extend(lat)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results["seconds"] = time.perf_counter() - started
    print(json.dumps(results))


def celery_runs(work, durable, args):
    redis = Redis(work, durable)
    try:
        worker = CeleryWorker(redis.url)
    except BaseException:
        redis.stop()
        raise
    try:
        submits, e2es = [], []
        servers = (redis.proc.pid, worker.proc.pid)
        for _ in range(args.repeat):
            cpu0 = tree_cpu(*servers)
            r = client(redis.url, "submit", CLIENT_PROCESSES, CLIENT_THREADS, args.seconds)
            r["queued_after"] = redis.queued()
            wait_drained(redis.queued)
            r["server_cpu_us_per_job"] = cpu_us_per_job(servers, cpu0, r["ok"])
            submits.append(r)
        for _ in range(args.repeat):
            cpu0 = tree_cpu(*servers)
            r = client(redis.url, "e2e", CLIENT_PROCESSES, CLIENT_THREADS, args.jobs)
            r["server_cpu_us_per_job"] = cpu_us_per_job(servers, cpu0, args.jobs)
            e2es.append(r)
        return submits, e2es
    finally:
        worker.stop()
        redis.stop()


def ticketd_runs(work, args):
    t = bench.Ticketd(work, "compare")
    t.start()
    servers = (t.proc.pid,)

    def queued():
        return t.metric("ticketd_queue_length", '{type="noop"}')

    try:
        submits, e2es = [], []
        for i in range(args.repeat):
            env = {"BENCH_RUN": f"compare-{i}-{time.time()}"}
            cpu0 = tree_cpu(*servers)
            r = bench.wrk(f"{t.url}/v1/jobs", "accept.lua", args.seconds, 32, env)
            submits.append({"ok": r["requests"], "per_s": r["requests_per_s"], "latency_ms": r["latency_ms"],
                            "client_cpu_percent": r["generator_cpu_percent"],
                            "non_202": r["unexpected_status"] + r["socket_errors"],
                            "queued_after": int(queued())})
            wait_drained(queued)
            submits[-1]["server_cpu_us_per_job"] = cpu_us_per_job(servers, cpu0, r["requests"])
        for i in range(args.repeat):
            cpu0 = tree_cpu(*servers)
            r = bench.driver(t.port, args.jobs, 32, run=f"compare-{i}")
            e2es.append({"ok": r["completed"] - r["bad_results"], "bad": r["bad_results"] + r["errors"],
                         "per_s": r["jobs_per_s"], "latency_ms": r["latency_ms"],
                         "client_cpu_percent": r["generator_cpu_percent"],
                         "server_cpu_us_per_job": cpu_us_per_job(servers, cpu0, args.jobs)})
        return submits, e2es
    finally:
        t.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--client", choices=["submit", "e2e"], help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--amount", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        return client_main(args.client, args.threads, args.amount)
    try:
        from celery import Celery  # noqa: F401  (not just bench/celery/, a namespace package)
    except ImportError:
        sys.exit("compare: Celery is missing: scripts/install-deps.sh --with-celery, then run this with "
                 "/usr/bin/python3 (Debian's python3-celery is for that interpreter)")
    for tool in ("redis-server", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"compare: {tool} is missing (scripts/install-deps.sh --with-bench --with-celery)")
    for f in (bench.BIN, bench.DRIVER, f"{bench.PLUGINS}/noop.so"):
        if not os.path.exists(f):
            sys.exit(f"compare: {f} is missing (make build)")
    work = tempfile.mkdtemp(prefix="ticketd-compare-")
    results = {}
    try:
        results["celery-memory"] = celery_runs(work, False, args)
        results["celery-durable"] = celery_runs(work, True, args)
        results["ticketd"] = ticketd_runs(work, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = []
    for system, (submits, e2es) in results.items():
        s, e = bench.summarize(submits, "per_s"), bench.summarize(e2es, "per_s")
        print(json.dumps({"bench": "compare", "system": system, "submit": s, "e2e": e,
                          "e2e_bad_results": sum(r.get("bad", 0) for r in e2es)}))
        table.append((system, s, e))
    base = dict((name, (s, e)) for name, s, e in table)["ticketd"]
    print("\n%-15s %-40s %-40s" % ("system", "submit: acks/s, p99 ms, server CPU/job",
                                     "e2e: jobs/s, p99 ms, server CPU/job"))
    for name, s, e in table:
        def cell(m):
            run = m["median_run"]
            return f"{m['median']:.0f}/s  p99 {run['latency_ms']['p99']:.1f}  {run['server_cpu_us_per_job']:.0f} us"
        print("%-15s %-40s %-40s" % (name, cell(s), cell(e)))
    for name, s, e in table:
        if name != "ticketd":
            print(f"ticketd / {name}: submit {base[0]['median'] / s['median']:.1f}x, "
                  f"e2e {base[1]['median'] / e['median']:.1f}x")


if __name__ == "__main__":
    main()
