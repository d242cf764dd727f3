-- Put in front of every case's script by bench/load.py.
-- Options come after `--` on wrk's command line as key=value; the result is one JSON line.

opts = {}

function read_options(args)
  for _, arg in ipairs(args) do
    local key, value = arg:match("^([%w_]+)=(.*)$")
    if key then
      opts[key] = value
    end
  end
  -- Each thread draws its own sequence.
  math.randomseed(os.time() * 1000 + (thread_number or 0))
end

function request_headers(extra)
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  if opts.token and opts.token ~= "" then
    headers["Authorization"] = "Bearer " .. opts.token
  end
  for name, value in pairs(extra or {}) do
    headers[name] = value
  end
  return headers
end

function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  return lines
end

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %.0f, "p90": %.0f, "p99": %.0f, "max": %.0f, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
