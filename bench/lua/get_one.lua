-- GET one issue, its id drawn at random from the file `ids` (one id a line).

local requests = {}

function init(args)
  read_options(args)
  local headers = request_headers()
  for _, id in ipairs(read_lines(opts.ids)) do
    requests[#requests + 1] = wrk.format("GET", opts.prefix .. "/" .. id, headers)
  end
end

function request()
  return requests[math.random(#requests)]
end
