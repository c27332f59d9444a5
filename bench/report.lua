-- wrk reporter: one JSON line with throughput and latency percentiles.
-- Usage: wrk -s report.lua (optionally with BODY/METHOD set by a wrapper script).
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
wrk.method = method
if body then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if os.getenv("WRK_CONNECTION_CLOSE") then
  wrk.headers["Connection"] = "close"  -- a new connection (and TLS handshake) per request
end
local authorization = os.getenv("WRK_AUTHORIZATION")
if authorization then
  wrk.headers["Authorization"] = authorization
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "errors": %d, ' ..
    '"latency_ms": {"p50": %.3f, "p90": %.3f, "p99": %.3f, "p99.9": %.3f, "max": %.3f}}\n',
    summary.requests, seconds, summary.requests / seconds, errors,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000))
end
