-- GET /v1/jobs/{id} over the ids in BENCH_IDS (one per line: queued, running and finished
-- jobs), round robin; 200 and 303 are expected.
package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua"
require("common")
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do table.insert(ids, line) end
local i = 0
local expected = {[200] = true, [303] = true}

function request()
  i = i % #ids + 1
  return wrk.format("GET", "/v1/jobs/" .. ids[i])
end

function response(status, headers, body)
  count_status(status, expected)
end
