-- PATCH the title of an issue drawn at random from `ids`; every title is new, so every
-- request really changes the issue.

local paths = {}
local headers
local sent = 0

function init(args)
  read_options(args)
  headers = request_headers({["Content-Type"] = "application/json"})
  for _, id in ipairs(read_lines(opts.ids)) do
    paths[#paths + 1] = opts.prefix .. "/" .. id
  end
end

function request()
  sent = sent + 1
  local body = '{"title": "Edited ' .. thread_number .. "-" .. sent .. '"}'
  return wrk.format("PATCH", paths[math.random(#paths)], headers, body)
end
