#!/usr/bin/env bash
# HTTP benchmark of horaod against nginx serving the same JSON bytes.
#
#   bench/http_bench.sh [build-dir]        (default: build)
#
# Starts a horaod (in-memory unless REDIS_URL is set; PERSIST as given) and an
# nginx with one worker on free loopback ports, fills 1,000 servers, then runs
# wrk with the same settings against: GET of one resource, a listing of 100,
# PUT of a server record (unique ids), each with 1 and 32 connections, and
# nginx serving the GET's exact bytes as a static file. Prints a Markdown table
# with requests/s and latency percentiles, and the horaod/nginx ratio for the
# single-resource GET. Measures and prints only; asserts nothing.
#
# CASES="get nginx" runs only those cases (default: get list put nginx), for
# quick repeated comparisons on a loaded machine. ROUNDS=n repeats the cases
# n times (default 1) and prints the ratios of each round: horaod and nginx
# measured back to back see about the same load from other processes.
#
# The "cpu us/req" column is the server's own CPU time (user + system, from
# /proc) per request answered: unlike requests/s it hardly depends on what
# else the machine runs, so it compares horaod with nginx on a busy machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
horaod=$build/horaod
duration=${DURATION:-10s}
cases=${CASES:-get list put nginx}
rounds=${ROUNDS:-1}
work=$(mktemp -d)
cleanup() {
  [ -n "${daemon_pid:-}" ] && kill -TERM "$daemon_pid" 2>/dev/null || true
  [ -n "${nginx_pid:-}" ] && kill -TERM "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(free_port)
(cd "$work" && NODE_ID=bench LOG_LEVEL=warn PORT=$port exec "$horaod" >"$work/horaod.log" 2>&1) &
daemon_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 200); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.05; done

python3 - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def put(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="PUT",
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
put("/v1/datacenters/dc1", {"name": "bench", "number": 1})
put("/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1})
ops = []
for i in range(1000):
    ops.append({"op": "put", "key": f"server/s-{i:05d}", "body": {
        "cabinet": "cab1", "serial_number": f"SN{i:08d}", "model": "R7625", "status": "up",
        "cpus": [{"cores": 64, "model": "EPYC 9554", "clock_ghz": 3.1}] * 2,
        "ram": [{"size_gb": 64}] * 8, "accelerators": [{"model": "H100"}]}})
req = urllib.request.Request(base + "/v1/batch", data=json.dumps({"operations": ops}).encode(),
                             method="POST", headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY

curl -fsS "$base/v1/servers/s-00042" >"$work/resource.json"
mkdir -p "$work/www/v1/servers"
cp "$work/resource.json" "$work/www/v1/servers/s-00042"
nginx_port=$(free_port)
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
error_log $work/nginx-error.log warn;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$nginx_port; root $work/www; }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$nginx_port/v1/servers/s-00042" >/dev/null 2>&1 && break; sleep 0.05; done

cp "$here/put_server.lua" "$work/put.lua"
cat >"$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.requests))
end
LUA
# wrk takes one script: append the reporter to the PUT script.
cat "$work/report.lua" >>"$work/put.lua"

cpu_ticks() {  # pid: user + system clock ticks so far
  awk '{print $14 + $15}' "/proc/$1/stat"
}
ticks_per_s=$(getconf CLK_TCK)
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

run() {  # name connections url [script] -> rps p50 p99 p99.9 cpu-us-per-request
  local threads=1
  [ "$2" -gt 1 ] && threads=2
  local script=${4:-$work/report.lua}
  local server=$daemon_pid
  [ "$1" = nginx ] && server=$nginx_worker
  local before after result
  before=$(cpu_ticks "$server")
  result=$(wrk -t"$threads" -c"$2" -d"$duration" --latency -s "$script" "$3" 2>&1 | awk '/^RESULT/ {print $2, $3, $4, $5, $6}')
  after=$(cpu_ticks "$server")
  read -r r p50 p99 p999 n <<<"$result"
  echo "$r $p50 $p99 $p999 $(python3 -c "print(f'{($after - $before) / $ticks_per_s * 1e6 / max($n, 1):.1f}')")"
}

declare -A rps cpu
for round in $(seq 1 "$rounds"); do
  [ "$rounds" -gt 1 ] && echo && echo "round $round (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  echo "| case | connections | requests/s | p50 ms | p99 ms | p99.9 ms | cpu us/req |"
  echo "|---|---|---|---|---|---|---|"
  rps=()
  cpu=()
  for c in 1 32; do
    for case in $cases; do
      case $case in
        get)   out=$(run get $c "$base/v1/servers/s-00042") ;;
        list)  out=$(run list $c "$base/v1/servers?limit=100") ;;
        put)   out=$(run put $c "$base" "$work/put.lua") ;;
        nginx) out=$(run nginx $c "http://127.0.0.1:$nginx_port/v1/servers/s-00042") ;;
      esac
      read -r r p50 p99 p999 us <<<"$out"
      rps[$case.$c]=$r
      cpu[$case.$c]=$us
      echo "| $case | $c | $r | $p50 | $p99 | $p999 | $us |"
    done
  done
  for c in 1 32; do
    [ -n "${rps[get.$c]:-}" ] && [ -n "${rps[nginx.$c]:-}" ] || continue
    python3 -c "print(f'GET ratio horaod/nginx at $c connections: {${rps[get.$c]}/${rps[nginx.$c]}:.2f}' +
                      f' (CPU per request nginx/horaod: {${cpu[nginx.$c]}/max(${cpu[get.$c]}, 0.1):.2f})')"
  done
done
echo "resource bytes: $(wc -c <"$work/resource.json")"
