-- wrk script for bench/load.py: replays the requests listed in a file, one per line,
--   METHOD <tab> PATH <tab> BEARER TOKEN <tab> BODY (JSON, may be empty)
-- each wrk thread starting at its own offset, and prints a JSON summary when done.
-- Usage: wrk -s bench/replay.lua URL -- requests.tsv

local requests = {}
local position = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    local method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t?(.*)$")
    local headers = { ["Authorization"] = "Bearer " .. token }
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    if token == "" then
      headers["Authorization"] = nil
    end
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  position = (thread_index or 0) * 7919 % #requests
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
