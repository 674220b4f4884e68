-- wrk request generator shared by bench/http_bench.sh and bench/persist_bench.py:
-- PUT of one server record under a new id each time. Each caller appends its own
-- `done` reporter (wrk takes one script).
--
-- The request text is formatted once per thread and only the id changes, so
-- that the load generator spends as little CPU per request as redis-benchmark
-- does: on a 2-core machine every microsecond wrk spends is taken from the
-- daemon under test. Ids are "w-<run>-<thread>-<n>": distinct across threads,
-- and across runs when each run passes its own tag (`wrk ... -- TAG`; the
-- default is the start time in seconds).
local body = '{"cabinet":"cab1","serial_number":"SN1","model":"R7625","status":"up",' ..
  '"cpus":[{"cores":64,"model":"EPYC 9554","clock_ghz":3.1}],"ram":[{"size_gb":512}]}'

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local head, tail, prefix
local counter = 0
function init(args)
  local run = args[1] or tostring(os.time())
  local text = wrk.format("PUT", "/v1/servers/@ID@", {["Content-Type"] = "application/json"}, body)
  head, tail = text:match("^(.-)@ID@(.*)$")
  prefix = "w-" .. run .. "-" .. tostring(thread_number or 0) .. "-"
end

request = function()
  counter = counter + 1
  return head .. prefix .. counter .. tail
end
