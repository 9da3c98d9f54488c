-- wrk script for testdata/load/pocketbase.sh: SCENARIO healthz, list1 (one user's
-- page of 20, newest first) or create1 (that user creates), as scenario.lua.
local s = os.getenv("SCENARIO")
local tok, uid = os.getenv("PB_TOKEN"), os.getenv("PB_USER")
local body = '{"title":"load test task","description":"created by wrk","user":"' .. uid .. '"}'
function request()
  local h = { ["Authorization"] = tok, ["Content-Type"] = "application/json" }
  if s == "healthz" then return wrk.format("GET", "/api/health") end
  if s == "create1" then return wrk.format("POST", "/api/collections/tasks/records", h, body) end
  return wrk.format("GET", "/api/collections/tasks/records?perPage=20&sort=-created", h)
end
function done(summary, latency, requests)
  io.write(string.format("%-7s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   requests %8d   non-2xx %d\n",
    s, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
