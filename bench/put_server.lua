-- wrk request generator shared by bench/http_bench.sh and bench/persist_bench.py:
-- PUT of one server record under a new id each time. Each caller appends its own
-- `done` reporter (wrk takes one script).
local counter = 0
local body = '{"cabinet":"cab1","serial_number":"SN1","model":"R7625","status":"up",' ..
  '"cpus":[{"cores":64,"model":"EPYC 9554","clock_ghz":3.1}],"ram":[{"size_gb":512}]}'
request = function()
  counter = counter + 1
  return wrk.format("PUT", "/v1/servers/w-" .. tostring(math.random(1, 1000000000)) .. "-" .. counter,
                    {["Content-Type"] = "application/json"}, body)
end
