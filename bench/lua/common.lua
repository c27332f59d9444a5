-- Shared by the wrk scripts: per-thread counters of unexpected statuses, and one JSON
-- line at the end with throughput and latency percentiles (p50/p99/p99.9).
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

unexpected = 0
function count_status(status, expected)
  if not expected[status] then unexpected = unexpected + 1 end
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + (t:get("unexpected") or 0) end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "socket_errors": %d, "unexpected_status": %d, ' ..
    '"latency_ms": {"p50": %.3f, "p99": %.3f, "p999": %.3f, "max": %.3f}}\n',
    summary.requests, seconds, summary.requests / seconds, errors, bad,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000))
end
