-- POST /v1/jobs with a unique Idempotency-Key per request; anything but 202 is counted.
-- Env: BENCH_TYPE (job type, default noop), BENCH_RUN (makes keys unique across runs).
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua"
require("common")
local job_type = os.getenv("BENCH_TYPE") or "noop"
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local n = 0
local expected = {[202] = true}

function request()
  n = n + 1
  local body = '{"type":"' .. job_type .. '","input":{"n":' .. n .. '}}'
  return wrk.format("POST", "/v1/jobs", {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = '"' .. run .. "-" .. id .. "-" .. n .. '"',
  }, body)
end

function response(status, headers, body)
  count_status(status, expected)
end
