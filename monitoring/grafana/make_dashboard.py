#!/usr/bin/env python3
"""Generates ticketd-dashboard.json (Grafana, file provisioning: the datasource is a
template variable, no __inputs). Edit this file, run it, commit both.

    python3 monitoring/grafana/make_dashboard.py
"""
import json
import pathlib

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
SELT = 'instance=~"$instance", type=~"$type"'

panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
    y += 1


def panel(kind, title, targets, w, h=8, unit=None, x=None, description="", **extra):
    global y
    if x is None:
        x = sum(p["gridPos"]["w"] for p in panels if p["gridPos"]["y"] == y and p["type"] != "row")
        if x + w > 24:
            y += h
            x = 0
    p = {
        "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "targets": [{"datasource": DS, "expr": e, "legendFormat": l, "refId": chr(65 + i),
                     **({"format": "heatmap"} if kind == "heatmap" else {})}
                    for i, (e, l) in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit or "short"}, "overrides": []},
        "options": {},
    }
    p.update(extra)
    panels.append(p)
    if x + w >= 24:
        y += h


row("Overview")
panel("stat", "Backlog (queued jobs)", [(f"sum(ticketd_queue_length{{{SELT}}})", "")], 6, 4)
panel("stat", "Throughput (jobs/s finished)", [(f"sum(rate(ticketd_jobs_completed_total{{{SELT}}}[5m]))", "")], 6, 4, "ops")
panel("stat", "Failure ratio (5m)", [(
    f'sum(rate(ticketd_jobs_completed_total{{{SELT}, outcome=~"failed|timeout|interrupted"}}[5m])) / '
    f"sum(rate(ticketd_jobs_completed_total{{{SELT}}}[5m]))", "")], 6, 4, "percentunit")
panel("stat", "Oldest queued job", [(f"max(ticketd_queue_oldest_job_age_seconds{{{SELT}}})", "")], 6, 4, "s")

row("Queues")
panel("timeseries", "Queue length", [(f"ticketd_queue_length{{{SELT}}}", "{{instance}} {{type}}")], 12)
panel("table", "Paused job types", [(f"ticketd_job_type_paused{{{SELT}}} == 1", "")], 12,
      description="Job types an operator paused (POST /v1/job-types/{type}/pause): their queued jobs wait "
                  "until they are resumed. Empty when none is paused.",
      transformations=[{"id": "labelsToFields", "options": {}}])
panel("timeseries", "Queue fill ratio", [(f"ticketd_queue_length{{{SELT}}} / ticketd_queue_capacity{{{SELT}}}",
                                          "{{instance}} {{type}}")], 12, unit="percentunit")
panel("timeseries", "Submitted vs started (jobs/s)", [
    (f"sum by (type) (rate(ticketd_jobs_submitted_total{{{SELT}}}[5m]))", "submitted {{type}}"),
    (f"sum by (type) (rate(ticketd_jobs_started_total{{{SELT}}}[5m]))", "started {{type}}")], 12, unit="ops")
panel("timeseries", "Rejected submissions by reason (/s)", [
    (f"sum by (type, reason) (rate(ticketd_jobs_rejected_total{{{SELT}}}[5m]))", "{{type}} {{reason}}")], 12, unit="ops")
panel("timeseries", "Completions by outcome (/s)", [
    (f"sum by (type, outcome) (rate(ticketd_jobs_completed_total{{{SELT}}}[5m]))", "{{type}} {{outcome}}")], 12, unit="ops")
panel("timeseries", "Retried attempts by reason (/s)", [
    (f"sum by (type, reason) (rate(ticketd_jobs_retried_total{{{SELT}}}[5m]))", "{{type}} {{reason}}")], 12, unit="ops",
    description="Failed attempts queued to run again: retryable (the plugin asked), failure_code, timeout and "
                "interrupted (listed in the type's retry.on). A climb means what the jobs depend on is failing.")
panel("timeseries", "Jobs waiting for a retry", [
    (f"ticketd_queue_retry_waiting{{{SELT}}}", "{{instance}} {{type}}")], 12,
    description="Queued jobs waiting out their retry backoff (part of the queue length).")

row("Latency")
panel("heatmap", "Queue wait", [(f"sum by (le) (rate(ticketd_job_queue_wait_seconds_bucket{{{SELT}}}[$__rate_interval]))",
                                 "{{le}}")], 12, unit="s", options={"calculate": False, "yAxis": {"unit": "s"}})
panel("timeseries", "Queue wait quantiles", [
    (f"histogram_quantile({q}, sum by (type, le) (rate(ticketd_job_queue_wait_seconds_bucket{{{SELT}}}[5m])))",
     f"p{int(q * 100)} {{{{type}}}}") for q in (0.5, 0.95, 0.99)], 12, unit="s")
panel("heatmap", "Run time", [(f"sum by (le) (rate(ticketd_job_duration_seconds_bucket{{{SELT}}}[$__rate_interval]))",
                               "{{le}}")], 12, unit="s", options={"calculate": False, "yAxis": {"unit": "s"}})
panel("timeseries", "Run time quantiles", [
    (f"histogram_quantile({q}, sum by (type, le) (rate(ticketd_job_duration_seconds_bucket{{{SELT}}}[5m])))",
     f"p{int(q * 100)} {{{{type}}}}") for q in (0.5, 0.95, 0.99)], 12, unit="s")

row("Workers")
panel("timeseries", "Worker utilisation", [
    (f"rate(ticketd_worker_busy_seconds_total{{{SELT}}}[5m]) / ticketd_workers{{{SELT}}}", "{{instance}} {{type}}")],
    12, unit="percentunit")
panel("timeseries", "Busy workers / workers", [
    (f"ticketd_workers_busy{{{SELT}}}", "busy {{type}}"), (f"ticketd_workers{{{SELT}}}", "workers {{type}}")], 12)
panel("timeseries", "Workers abandoned in a plugin (replaced)", [
    (f"ticketd_workers_abandoned{{{SELT}}}", "{{instance}} {{type}}")], 12)

row("HTTP")
panel("timeseries", "Requests by code (/s)", [
    (f"sum by (code) (rate(ticketd_http_requests_total{{{SEL}}}[5m]))", "{{code}}")], 12, unit="reqps")
panel("timeseries", "Request latency by route (p99)", [
    (f"histogram_quantile(0.99, sum by (handler, le) (rate(ticketd_http_request_duration_seconds_bucket{{{SEL}}}[5m])))",
     "{{handler}}")], 12, unit="s")

row("Process")
panel("timeseries", "CPU", [(f"rate(process_cpu_seconds_total{{{SEL}}}[5m])", "{{instance}}")], 6, unit="percentunit")
panel("timeseries", "Resident memory", [(f"process_resident_memory_bytes{{{SEL}}}", "{{instance}}")], 6, unit="bytes")
panel("timeseries", "Open file descriptors", [
    (f"process_open_fds{{{SEL}}}", "open {{instance}}"), (f"process_max_fds{{{SEL}}}", "max {{instance}}")], 6)
panel("timeseries", "Restarts (1h)", [(f"changes(process_start_time_seconds{{{SEL}}}[1h])", "{{instance}}")], 6)

row("Store")
panel("timeseries", "Journal sync (write + fdatasync) quantiles", [
    (f"histogram_quantile({q}, sum by (instance, le) (rate(ticketd_store_journal_sync_duration_seconds_bucket{{{SEL}}}[5m])))",
     f"p{int(q * 100)} {{{{instance}}}}") for q in (0.5, 0.99)], 6, unit="s",
    description="Every accept and every state change waits for one; a healthy SSD takes well under 5 ms. "
                "Slower means the disk under the state directory is slow or overloaded.")
panel("timeseries", "Job writes per journal sync", [
    (f"rate(ticketd_store_journal_writes_total{{{SEL}}}[5m]) / rate(ticketd_store_journal_sync_duration_seconds_count{{{SEL}}}[5m])",
     "{{instance}}")], 6,
    description="Group commit at work: under load, many writes share one fdatasync.")
panel("timeseries", "Applier transaction p99", [
    (f"histogram_quantile(0.99, sum by (instance, le) (rate(ticketd_store_apply_duration_seconds_bucket{{{SEL}}}[5m])))",
     "{{instance}}")], 6, unit="s",
    description="Journaled writes put into SQLite, off the latency path (gathered for up to 50 ms).")
panel("timeseries", "Writes not yet applied to SQLite", [
    (f"ticketd_store_unapplied_writes{{{SEL}}}", "{{instance}}")], 6,
    description="Durable in the journal, waiting for the applier; normally below a few thousand. "
                "A steady climb means the database is failing or too slow (see the log); "
                "past 100,000, new writes wait for it.")

row("Build and plugins")
panel("table", "Build", [(f"ticketd_build_info{{{SEL}}}", "")], 8, 6,
      targets_format="table", transformations=[{"id": "labelsToFields", "options": {}}])
panel("table", "Job types and plugins", [(f"ticketd_plugin_info{{{SEL}}}", "")], 16, 6,
      transformations=[{"id": "labelsToFields", "options": {}}])
for p in panels:
    p.pop("targets_format", None)
    if p["type"] == "table":
        for t in p["targets"]:
            t.update({"format": "table", "instant": True})

dashboard = {
    "uid": "ticketd-overview",
    "title": "ticketd",
    "description": "ticketd job runner: is work flowing, how late is it, what is failing.",
    "tags": ["ticketd"],
    "timezone": "browser",
    "schemaVersion": 38,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {}},
        {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
         "query": {"query": "label_values(ticketd_build_info, instance)", "refId": "instance"},
         "definition": "label_values(ticketd_build_info, instance)",
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "current": {}},
        {"name": "type", "label": "Job type", "type": "query", "datasource": DS,
         "query": {"query": 'label_values(ticketd_queue_length{instance=~"$instance"}, type)', "refId": "type"},
         "definition": 'label_values(ticketd_queue_length{instance=~"$instance"}, type)',
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "current": {}},
    ]},
    "annotations": {"list": []},
    "panels": panels,
}
out = pathlib.Path(__file__).with_name("ticketd-dashboard.json")
out.write_text(json.dumps(dashboard, indent=2) + "\n")
print(f"wrote {out} ({len(panels)} panels)")
