#!/usr/bin/env python3
"""An independent TLS client for tls_test.cpp: Python's ssl and http.client, not curl.

  tls_client.py get PORT PATH --ca CA [--cert PEM --key PEM] [--max 1.2] [--alpn P ...]
      One request; prints a JSON line: status, tls version, ALPN, principal (from a job
      list), or the error that ended it.
  tls_client.py readall PORT --ca CA
      GET /healthz with Connection: close, read to the end of the connection; prints
      whether it ended cleanly (the server's close_notify) and the status line.
  tls_client.py keepalive PORT --ca CA --go FILE
      GET /healthz on one connection, note the server certificate's fingerprint, wait for FILE
      to exist (30 s at most), GET again on the same connection, then once on a new one;
      prints a JSON line with the fingerprints and whether the first connection stayed open.
"""
import argparse
import hashlib
import http.client
import json
import os
import ssl
import sys
import time


def context(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    if args.cert:
        ctx.load_cert_chain(args.cert, args.key)
    if getattr(args, "max", None) == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if getattr(args, "alpn", None):
        ctx.set_alpn_protocols(args.alpn)
    return ctx


def fingerprint(conn):
    """SHA-256 of the certificate the server presented on this connection."""
    return hashlib.sha256(conn.sock.getpeercert(binary_form=True)).hexdigest()


def get(args):
    conn = http.client.HTTPSConnection("127.0.0.1", args.port, context=context(args), timeout=10)
    try:
        conn.request("GET", args.path)
        response = conn.getresponse()
        body = response.read()
        out = {"status": response.status, "version": conn.sock.version(),
               "alpn": conn.sock.selected_alpn_protocol()}
        if response.status == 200 and body.startswith(b"{"):
            jobs = json.loads(body).get("jobs")
            if jobs is not None:
                out["principals"] = sorted({j["principal"] for j in jobs})
        else:
            out["body"] = body.decode("utf-8", "replace")
    except (ssl.SSLError, OSError, http.client.HTTPException) as e:
        out = {"error": type(e).__name__ + ": " + str(e)}
    print(json.dumps(out))


def readall(args):
    import socket
    ctx = context(args)
    # Debian's Python ignores a missing close_notify by default: this client must not.
    ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    with socket.create_connection(("127.0.0.1", args.port), timeout=10) as raw:
        # suppress_ragged_eofs=False: an end without close_notify is an error, not b"".
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False) as tls:
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data, clean, error = b"", False, ""
            try:
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        clean = True
                        break
                    data += chunk
            except ssl.SSLError as e:
                error = type(e).__name__ + ": " + str(e)
    print(json.dumps({"clean": clean, "error": error, "status_line": data.split(b"\r\n", 1)[0].decode()}))


def keepalive(args):
    conn = http.client.HTTPSConnection("127.0.0.1", args.port, context=context(args), timeout=10)
    conn.request("GET", "/healthz")
    first = conn.getresponse()
    first.read()
    sock, before = conn.sock, fingerprint(conn)
    print(json.dumps({"ready": True, "status": first.status}), flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(args.go):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "no go file"}))
            return
        time.sleep(0.01)
    conn.request("GET", "/healthz")
    again = conn.getresponse()
    again.read()
    same_connection = conn.sock is sock
    fresh = http.client.HTTPSConnection("127.0.0.1", args.port, context=context(args), timeout=10)
    fresh.request("GET", "/healthz")
    fresh.getresponse().read()
    print(json.dumps({"status": again.status, "same_connection": same_connection,
                      "before": before, "kept": fingerprint(conn), "new": fingerprint(fresh)}))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("get")
    g.add_argument("port", type=int)
    g.add_argument("path")
    g.add_argument("--max")
    g.add_argument("--alpn", nargs="+")
    k = sub.add_parser("keepalive")
    k.add_argument("port", type=int)
    k.add_argument("--go", required=True)
    r = sub.add_parser("readall")
    r.add_argument("port", type=int)
    for p in (g, k, r):
        p.add_argument("--ca", required=True)
        p.add_argument("--cert")
        p.add_argument("--key")
    args = parser.parse_args()
    {"get": get, "keepalive": keepalive, "readall": readall}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
