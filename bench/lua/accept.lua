-- POST /v1/jobs with a unique Idempotency-Key per request; anything but 202 is counted.
-- Env: BENCH_TYPE (job type, default noop), BENCH_RUN (makes keys unique across runs),
-- BENCH_SEQUENTIAL_KEYS=1 (per-connection counters as keys instead of random UUIDs).
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua"
require("common")
local job_type = os.getenv("BENCH_TYPE") or "noop"
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local n = 0
local expected = {[202] = true}

-- Keys as clients make them (Stripe and the IETF draft suggest a random UUID): random
-- hex, so that they land anywhere in the store's key B-tree, not in a few growing runs.
-- Seeded per thread (`id`, set by setup()) and per run: no two threads or runs share keys.
local seeded = false
local function key()
  if os.getenv("BENCH_SEQUENTIAL_KEYS") then return run .. "-" .. id .. "-" .. n end
  if not seeded then
    local h = id * 7919
    for i = 1, #run do h = (h * 31 + string.byte(run, i)) % 2147483647 end
    math.randomseed(h)
    seeded = true
  end
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x", math.random(0, 0x7fffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), math.random(0x8000, 0xbfff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

function request()
  n = n + 1
  local body = '{"type":"' .. job_type .. '","input":{"n":' .. n .. '}}'
  return wrk.format("POST", "/v1/jobs", {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = '"' .. key() .. '"',
  }, body)
end

function response(status, headers, body)
  count_status(status, expected)
end
