-- One fixed GET of the URL wrk was given (the baseline, /health).

function init(args)
  read_options(args)
  wrk.headers = request_headers()
end
