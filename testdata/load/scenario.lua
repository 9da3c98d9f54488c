-- wrk script for testdata/load/load.sh. SCENARIO picks the request mix:
-- list, get, create, toggle, or mixed (80% reads: list/get, 20% writes:
-- create/toggle); for the user of 100,000 tasks: biglist (the default list),
-- bigfilter (status=pending&sort=title&limit=20), bigmix (every sort key
-- alone and with each single filter, in turn), bigq (a search) and
-- bigcreate (creates that write every index entry).
-- list1 and list304: one user's list, plain and with If-None-Match (304);
-- healthz: the health check, the server's own ceiling; create1: one user's
-- creates; overdue and duebefore: the due-date filters (a page of 20), for
-- any user.
-- TOKENS_FILE holds "user token" lines from seed.
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

local body = '{"title":"load test task","description":"created by wrk","tags":["load"],"priority":"medium","due_date":"2030-01-01"}'

-- bigmix's queries: every sort key, alone and with each single filter.
local day = 86400
local mix = {}
local filters = { "", "&status=pending", "&priority=high", "&tag=home",
  "&due_before=" .. os.date("!%Y-%m-%d", os.time() + 30 * day),
  "&due_after=" .. os.date("!%Y-%m-%d", os.time() - 30 * day), "&overdue=true" }
for _, sort in ipairs({ "created", "updated", "title", "id", "due_date", "priority" }) do
  for _, f in ipairs(filters) do mix[#mix + 1] = "?sort=" .. sort .. f end
end

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
  if s == "healthz" then return wrk.format("GET", "/healthz") end
  if s == "create1" then
    -- one user creates: past IndexAfter tasks, every create writes its index entries
    local h = { ["Authorization"] = "Bearer " .. tokens[1], ["Content-Type"] = "application/json" }
    return wrk.format("POST", "/api/" .. users[1] .. "/tasks", h, body)
  end
  if s == "list1" or s == "list304" then
    -- one user's list, plain or conditional (If-None-Match with its ETag: 304)
    local h = { ["Authorization"] = "Bearer " .. tokens[1] }
    if s == "list304" and etag then h["If-None-Match"] = etag end
    return wrk.format("GET", "/api/" .. users[1] .. "/tasks", h)
  end
  if s == "list" or s == "biglist" then
    return wrk.format("GET", "/api/" .. u .. "/tasks", hdr)
  elseif s == "bigfilter" then
    return wrk.format("GET", "/api/" .. u .. "/tasks?status=pending&sort=title&limit=20", hdr)
  elseif s == "bigmix" then
    return wrk.format("GET", "/api/" .. u .. "/tasks" .. mix[counter % #mix + 1], hdr)
  elseif s == "overdue" then
    return wrk.format("GET", "/api/" .. u .. "/tasks?overdue=true", hdr)
  elseif s == "duebefore" then
    return wrk.format("GET", "/api/" .. u .. "/tasks?due_before=" .. os.date("!%Y-%m-%d", os.time() + 30 * day), hdr)
  elseif s == "bigq" then
    return wrk.format("GET", "/api/" .. u .. "/tasks?q=milk", hdr)
  elseif s == "bigcreate" then
    return wrk.format("POST", "/api/" .. u .. "/tasks", hdr, body)
  elseif s == "get" then
    return wrk.format("GET", "/api/" .. u .. "/tasks/" .. math.random(20), hdr)
  elseif s == "create" then
    return wrk.format("POST", "/api/" .. u .. "/tasks", hdr, body)
  else
    return wrk.format("PATCH", "/api/" .. u .. "/tasks/" .. math.random(20) .. "/complete", hdr)
  end
end

-- COUNT=1 (the soak): count acknowledged creates and 5xx answers in every
-- thread, for load.sh to check that no acknowledged write is lost.
threads = {}
function setup(thread) table.insert(threads, thread) end
created, fivexx = 0, 0
if scenario == "list304" then
  function response(status, headers, body)
    if headers["ETag"] then etag = headers["ETag"] end
  end
end
if os.getenv("COUNT") then
  function response(status, headers, body)
    if status == 201 then created = created + 1 end
    if status >= 500 then fivexx = fivexx + 1 end
  end
end

function done(summary, latency, requests)
  if os.getenv("COUNT") then
    local c, f = 0, 0
    for _, t in ipairs(threads) do c = c + t:get("created"); f = f + t:get("fivexx") end
    io.write(string.format("COUNTS created=%d fivexx=%d\n", c, f))
  end
  local secs = summary.duration / 1e6
  local other = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("%-7s %9.0f req/s   p50 %7.2f ms   p99 %7.2f ms   requests %8d   non-2xx %d   socket errors %d\n",
    scenario, summary.requests / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status, other))
end
