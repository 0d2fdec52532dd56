-- wrk script: POST bodies built from BODY (with {n} replaced by a counter), count statuses.
-- Set by the runner through environment variables: CG_TOKEN, CG_BODY, CG_START, CG_PATH.
local token = os.getenv("CG_TOKEN")
local body = os.getenv("CG_BODY")
local counter = tonumber(os.getenv("CG_START") or "0")
local path = os.getenv("CG_PATH") or "/v1/process"
local threads = {}
statuses = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local b = string.gsub(body, "{n}", tostring(counter))
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. token,
                                            ["Content-Type"] = "application/json"}, b)
end

function response(status, headers, resp_body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do counts[code] = (counts[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do table.insert(parts, string.format('"%d": %d', code, n)) end
  io.write(string.format('CGRESULT {"requests": %d, "seconds": %f, "errors": %d, ' ..
    '"p50": %f, "p95": %f, "p99": %f, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    table.concat(parts, ", ")))
end
