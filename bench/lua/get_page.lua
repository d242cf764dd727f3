-- GET a page of `limit` issues, the page drawn at random from 1 to `pages`.

local requests = {}

function init(args)
  read_options(args)
  local headers = request_headers()
  for page = 1, tonumber(opts.pages) do
    local path = opts.prefix .. "?page=" .. page .. "&limit=" .. opts.limit
    requests[#requests + 1] = wrk.format("GET", path, headers)
  end
end

function request()
  return requests[math.random(#requests)]
end
