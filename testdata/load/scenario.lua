-- wrk script for testdata/load/load.sh. SCENARIO picks the request mix:
-- list, get, create, toggle, or mixed (80% reads: list/get, 20% writes:
-- create/toggle). TOKENS_FILE holds "user token" lines from seed.
local scenario = os.getenv("SCENARIO") or "list"
local users, tokens = {}, {}
local counter = 0

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    local u, t = line:match("^(%S+) (%S+)$")
    users[#users + 1], tokens[#tokens + 1] = u, t
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
  counter = math.random(#users)
end

local body = '{"title":"load test task","description":"created by wrk"}'

function request()
  counter = counter + 1
  local i = counter % #users + 1
  local u = users[i]
  local hdr = { ["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json" }
  local s = scenario
  if s == "mixed" then
    local r = math.random(100)
    if r <= 40 then s = "list" elseif r <= 80 then s = "get" elseif r <= 90 then s = "create" else s = "toggle" end
  end
  if s == "list" then
    return wrk.format("GET", "/api/" .. u .. "/tasks", hdr)
  elseif s == "get" then
    return wrk.format("GET", "/api/" .. u .. "/tasks/" .. math.random(20), hdr)
  elseif s == "create" then
    return wrk.format("POST", "/api/" .. u .. "/tasks", hdr, body)
  else
    return wrk.format("PATCH", "/api/" .. u .. "/tasks/" .. math.random(20) .. "/complete", hdr)
  end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local other = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("%-7s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   requests %8d   non-2xx %d   socket errors %d\n",
    scenario, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, other))
end
