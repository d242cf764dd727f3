-- POST /token with the demo user's form login.

function init(args)
  read_options(args)
  wrk.method = "POST"
  wrk.path = opts.path
  wrk.headers = request_headers({["Content-Type"] = "application/x-www-form-urlencoded"})
  wrk.body = "username=" .. opts.username .. "&password=" .. opts.password
end
