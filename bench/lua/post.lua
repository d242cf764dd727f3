-- POST new issues. With `ids_out`, the id of every issue acknowledged with 201 is written
-- to `<ids_out>.<thread>`, so the run can check afterwards that each of them is stored.

local out

function init(args)
  read_options(args)
  wrk.method = "POST"
  wrk.path = opts.prefix
  wrk.headers = request_headers({["Content-Type"] = "application/json"})
  wrk.body = '{"title": "Benchmark issue", "description": "Created by the load generator.", '
    .. '"priority": "high"}'
  if opts.ids_out then
    out = io.open(opts.ids_out .. "." .. thread_number, "w")
    out:setvbuf("no")
  end
end

function response(status, headers, body)
  if status == 201 and out then
    local id = body:match('"id"%s*:%s*"([^"]+)"')
    if id then
      out:write(id .. "\n")
    end
  end
end
