#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/<harness>/).

Hand-written seeds for the text formats; real job ids and a real journal segment from a
ticketd run (release build) killed with SIGKILL mid-way, so the journal seeds hold the
records recovery actually reads. Seeds named regression-* are crashes found by fuzzing
and are never rewritten.
    usage: make_seeds.py <build dir with daemon/ticketd and plugins/>
"""
import json, os, pathlib, signal, socket, struct, subprocess, sys, tempfile, time, urllib.request, zlib

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
SOURCE = HERE.parent.parent


def write(harness, name, data):
    d = CORPUS / harness
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def run_daemon(build):
    """Starts ticketd, submits jobs, kills it: returns (job ids, upload id, journal bytes)."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="ticketd-seeds-"))
    (tmp / "jobs.d").mkdir()
    (tmp / "ticketd.yaml").write_text(
        f"server:\n  listen: 127.0.0.1:0\nstate_dir: state\njobs_dir: jobs.d\nplugin_dir: {build}/plugins\n")
    (tmp / "jobs.d/hello.yaml").write_text("type: hello\nplugin: hello.so\nworkers: 1\nsettings:\n  greeting: Hi\n")
    proc = subprocess.Popen([f"{build}/daemon/ticketd", "--config", str(tmp / "ticketd.yaml"),
                             "--port-file", str(tmp / "port")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while not (tmp / "port").exists():
        if time.time() > deadline:
            sys.exit("make_seeds: ticketd did not start")
        time.sleep(0.05)
    base = f"http://127.0.0.1:{(tmp / 'port').read_text().split()[0]}"

    def call(method, path, body=None, headers=None):
        req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")

    ids = []
    for i in range(4):
        doc = call("POST", "/v1/jobs", json.dumps({"type": "hello", "input": {"name": f"n{i}", "delayMs": 60000}}).encode(),
                   {"Content-Type": "application/json", "Idempotency-Key": f"seed-{i}"})
        ids.append(doc["id"])
    upload = call("POST", "/v1/uploads", b"a,b\n1,2\n", {"Content-Type": "text/csv"})["id"]
    call("POST", f"/v1/jobs/{ids[1]}/cancel")
    call("DELETE", f"/v1/jobs/{ids[2]}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    segments = sorted((tmp / "state/journal").glob("*.journal"))
    journal = b"".join(s.read_bytes() for s in segments)
    return ids, upload, journal.rstrip(b"\0")


def journal_records(segment):
    out, at = [], 0
    while at + 16 <= len(segment):
        length, _, _ = struct.unpack_from("<IIQ", segment, at)
        if length == 0:
            break
        out.append(segment[at + 16:at + 16 + length])
        at += 16 + length
    return out


def main():
    build = pathlib.Path(sys.argv[1]).resolve()
    ids, upload, journal = run_daemon(build)
    job = ids[0]

    body = json.dumps({"type": "hello", "input": {"name": "fuzz", "delayMs": 0}})
    http = {
        "healthz": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "submit": f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Idempotency-Key: \"k-1\"\r\nContent-Length: {len(body)}\r\n\r\n{body}",
        "submit-chunked": f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          f"Transfer-Encoding: chunked\r\n\r\n{len(body):x};ext=1\r\n{body}\r\n0\r\nTrailer: x\r\n\r\n",
        "status-wait": f"GET /v1/jobs/{job}?wait=1 HTTP/1.1\r\nHost: x\r\nPrefer: wait=1\r\n"
                       f"If-None-Match: W/\"1\", \"2\"\r\n\r\n",
        "result-range": f"GET /v1/jobs/{job}/result HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n"
                        f"If-Range: \"abc\"\r\n\r\n",
        "list": "GET /v1/jobs?status=queued,failed&type=hello&pageSize=2&pageToken=5.0123456789abcdef"
                "&createdAfter=2026-01-01T00:00:00Z HTTP/1.1\r\nHost: x\r\n\r\n",
        "cancel-delete": f"POST /v1/jobs/{job}/cancel HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
                         f"DELETE /v1/jobs/{job} HTTP/1.1\r\nHost: x\r\n\r\nHEAD /v1/jobs/{job} HTTP/1.1\r\n\r\n",
        "upload": "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 8\r\n\r\na,b\n1,2\n"
                  f"GET /v1/uploads/{upload} HTTP/1.1\r\n\r\n",
        "upload-expect": "POST /v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                         "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
        "submit-files": "POST /v1/jobs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: "
                        + str(len(json.dumps({"type": "hello", "input": {}, "files": {"source": upload}})))
                        + "\r\n\r\n" + json.dumps({"type": "hello", "input": {}, "files": {"source": upload}}),
        "job-types-metrics": "GET /v1/job-types HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\nGET /readyz HTTP/1.0\r\n\r\n",
        "percent": "GET /v1/jobs/%6a%FF%00?x=%2&y=a+b HTTP/1.1\r\n\r\n",
    }
    for name, text in http.items():
        write("http_request", name, text)

    headers = {
        "basic": "/v1/jobs/a%20b?x=1+2\nidempotency-key: \"abc\"\nprefer: wait=5, respond-async\n"
                 "if-none-match: W/\"0123456789abcdef\", \"x\"\nrange: bytes=0-99\nif-range: \"0123456789abcdef\"\n"
                 "content-type: application/json; charset=utf-8\n",
        "suffix-range": "/\nrange: bytes=-5\ncontent-type: application/problem+json\n",
        "open-range": "/\nrange: bytes=10-\nidempotency-key: bare-token\ncontent-type: text/csv; header=present\n",
        "star": "/%zz\nif-none-match: *\nprefer: wait=99999999999999999999\n",
    }
    for name, text in headers.items():
        write("request_headers", name, text)

    submits = {
        "hello": {"type": "hello", "input": {"name": "x", "delayMs": 10}},
        "scheduled-run-at": {"type": "hello", "input": {"name": "a"}, "runAt": "2026-12-24T06:00:00.250Z"},
        "scheduled-delay": {"type": "hello", "delaySeconds": 3600, "priority": 5, "labels": {"a": "b"}},
        "import": {"type": "import", "input": {"format": "csv", "table": "t", "mode": "append",
                                               "columns": [{"name": "a", "type": "integer"}]}},
        "report": {"type": "report", "input": {"report": "sales-by-region", "params": {"from": "2026-01-01"}}},
        "transcode": {"type": "transcode", "input": {"preset": "audio-opus", "outputName": "out"}},
        "labels": {"type": "hello", "input": {}, "labels": {"team": "a"}, "priority": 5, "timeout": "5s"},
    }
    for name, doc in submits.items():
        write("submit_body", name, json.dumps(doc))
    write("submit_body", "deep", "[" * 70 + "]" * 70)

    for name, doc in {
        "empty": {},
        "full": {"status": ["failed", "canceled"], "type": "report", "code": "report/db-down",
                 "createdAfter": "2026-01-01T00:00:00Z", "createdBefore": "2026-12-31T23:59:59.999Z",
                 "principal": "team-a", "limit": 1000},
        "one-status": {"status": "canceled", "limit": 1},
        "bad": {"status": ["succeeded"], "limit": 0, "colour": "red", "principal": ""},
    }.items():
        write("retry_filter", name, json.dumps(doc))
    write("state_files", "paused", b"\0report\nimport\n")
    write("state_files", "schedules",
          b"\1" + json.dumps({"hello/nightly": {"lastFire": 1796000000000, "lastJob": "0" * 32}}).encode())

    for name, doc in {
        "import": {"source": {"required": True, "description": "rows", "mediaTypes": ["text/*", "application/csv"]}},
        "two": {"video": {"required": True, "mediaTypes": ["video/*", "*/*"], "maxBytes": 1 << 40}, "subtitles": {}},
        "bad": {"a b": {"required": "yes", "mediaTypes": [], "maxBytes": -1, "size": 3}},
    }.items():
        write("file_declarations", name, json.dumps(doc))

    schemas = {
        "object": ({"type": "object", "required": ["a"], "properties": {"a": {"type": "string", "pattern": "^[a-z]+$",
                    "maxLength": 5}}, "additionalProperties": False}, {"a": "abc"}),
        "combinators": ({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "array", "items": {"const": 1},
                        "uniqueItems": True}], "not": {"enum": [3]}}, [1, 1]),
        "refs": ({"definitions": {"n": {"type": "number", "multipleOf": 0.5}}, "type": "object",
                  "additionalProperties": {"$ref": "#/definitions/n"}, "propertyNames": {"maxLength": 3},
                  "if": {"required": ["x"]}, "then": {"minProperties": 2}}, {"x": 1.5}),
    }
    for name, (schema, instance) in schemas.items():
        write("json_schema", name, json.dumps(schema) + "\0" + json.dumps(instance))

    main_yaml = (SOURCE / "config/ticketd.yaml").read_text()
    for f in sorted((SOURCE / "config/jobs.d").glob("*.yaml")):
        write("config", f.stem, main_yaml + "\n---8<---\n" + f.read_text())
    write("config", "minimal", "state_dir: s\nserver:\n  listen: '[::1]:0'\n  max_body_bytes: 2MiB\n"
                              "  idle_timeout: 250ms\n---8<---\ntype: t\nplugin: t.so\nsettings: {a: [1, {b: c}]}\n")

    write("journal", "segment", b"\0" + journal)
    write("journal", "records", b"\1" + b"JREC".join(journal_records(journal)))
    write("journal", "torn", b"\0" + journal[: len(journal) * 2 // 3])

    imports = {
        "csv": b",id,name,amount\n1,alice,3.5\n2,\"bob, jr\",\"4\"\"2\"\r\n\n",
        "bom-semicolon": b"\1\xef\xbb\xbfa;b\n\"x\ny\";2\n",
        "ndjson": b"\0{\"id\": 1, \"name\": \"a\"}\n\n{\"id\": 2}\r\n[1,2]\n",
        "unterminated": b"\2\"a\tb\n",
    }
    for name, data in imports.items():
        write("import_reader", name, data)

    elf = subprocess.run(["bash", "-c", "d=$(mktemp -d) && printf 'int ticketd_plugin_v1;\\n' > $d/p.c && "
                          "gcc -shared -nostdlib -Wl,-z,noexecstack -o $d/p.so $d/p.c && strip $d/p.so && cat $d/p.so"],
                         check=True, capture_output=True).stdout
    write("plugin_file", "tiny-plugin.so", elf)


if __name__ == "__main__":
    main()
