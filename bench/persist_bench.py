#!/usr/bin/env python3
"""Persistence benchmark of horaod with a real Redis (issue 4). Measures and
prints; asserts nothing. Results and commands go to docs/benchmarks.md.

    bench/persist_bench.py [--build DIR] [--duration 10s] [--rounds 1] [--records 1000000]
                           [--sections put,load]

Redis runs as scripts/run-local.sh configures it: a unix socket, AOF on
(`appendonly yes`, `appendfsync everysec`), no RDB snapshots, in a temporary
directory. horaod runs with PERSIST=sync against it.

put   PUT of a server record with distinct ids (wrk, bench/put_server.lua as in
      bench/http_bench.sh) at 1 and 32 connections, next to
      `redis-benchmark -t set` at 1 and 32 connections with -d equal to the
      stored size of one such record, in the same run, against a fresh Redis of
      the same configuration each time (SET's keys must not pile up in the
      daemon's Redis, whose AOF rewrites would then run during the PUTs),
      over TCP on loopback (redis-benchmark's default transport and wrk's: the
      issue's goal, PUT >= 0.5 x SET at 32 connections, is read against this
      one) and over the unix socket the daemon uses (a stricter figure).
load  fills Redis with --records server records through POST /v1/batch (the
      daemon's own format), stops the daemon, then starts a new one and
      measures process start -> /readyz 200; then the daemon's VmRSS next to
      Redis's used_memory (INFO memory) for the same records. Two restarts.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# The request generator of bench/put_server.lua (shared with http_bench.sh) and this reporter.
PUT_LUA = open(os.path.join(ROOT, "bench", "put_server.lua")).read() + r"""
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.3f %.3f %.3f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.errors.status, summary.errors.timeout))
end
"""
# The record bench/put_server.lua writes, for its stored size.
PUT_BODY = {"cabinet": "cab1", "serial_number": "SN1", "model": "R7625", "status": "up",
            "cpus": [{"cores": 64, "model": "EPYC 9554", "clock_ghz": 3.1}], "ram": [{"size_gb": 512}]}


def server_body(i, distinct=False):
    """The server records of the load section (as bench/http_bench.sh fills them). With `distinct`,
    every long field value (cpus, ram, accelerators) is a text no other record has: the worst case
    for the daemon's interning of long values (crdt/json_text.hpp)."""
    cpu_model = f"EPYC 9554 s{i}" if distinct else "EPYC 9554"
    last_dimm = 64 + i if distinct else 64
    gpu = f"H100 s{i}" if distinct else "H100"
    return {"cabinet": f"cab{i % 1000}", "serial_number": f"SN{i:08d}", "model": "R7625", "status": "up",
            "cpus": [{"cores": 64, "model": cpu_model, "clock_ghz": 3.1}] * 2,
            "ram": [{"size_gb": 64}] * 7 + [{"size_gb": last_dimm}],
            "accelerators": [{"model": gpu}] if i % 4 == 0 else []}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, what, interval=0.01):
    deadline = time.monotonic() + timeout
    while True:
        r = predicate()
        if r:
            return r
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(interval)


class Redis:
    def __init__(self, workdir, tcp_port=0, name="redis"):
        # One directory per section: a section never loads another's AOF.
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.tcp_port = tcp_port  # 0: unix socket only
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(tcp_port), "--bind", "127.0.0.1", "--unixsocket", self.sock, "--unixsocketperm", "700", "--dir", self.dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no"],
            stdout=open(os.path.join(self.dir, "redis.log"), "wb"), stderr=subprocess.STDOUT)
        wait_until(lambda: self.cli("PING") == "PONG", 30, "redis PING")

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-s", self.sock, *args], capture_output=True, text=True)
        return r.stdout.strip()

    def info(self, section):
        out = {}
        for line in self.cli("INFO", section).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out

    def stop(self):
        self.cli("SHUTDOWN", "NOSAVE")
        self.proc.wait(30)


class Daemon:
    def __init__(self, build, workdir, redis, name="bench", extra=None, executable="horaod"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, f"horaod-{self.port}.log")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_ID": name, "LISTEN": "127.0.0.1",
               "PORT": str(self.port), "LOG_LEVEL": "info", "REDIS_URL": f"unix://{redis.sock}",
               "PERSIST": "sync", "MAX_BODY_BYTES": str(64 << 20), "REDIS_TIMEOUT_MS": "30000"}
        env.update(extra or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen([os.path.join(build, executable)], cwd=workdir, env=env,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)

    def status(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def wait_ready(self, timeout=600):
        """Seconds from process start to the first /readyz 200."""
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"horaod exited: {open(self.log_path).read()[-2000:]}")
            return self.status("/readyz") == 200
        wait_until(ready, timeout, "/readyz 200", interval=0.005)
        return time.monotonic() - self.started

    def request(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def metric(self, name):
        _, text = self.request("GET", "/metrics")
        for line in text.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(120)

    def log(self):
        return open(self.log_path).read()


def wrk_put(base, connections, duration, workdir):
    script = os.path.join(workdir, "put.lua")
    with open(script, "w") as f:
        f.write(PUT_LUA)
    threads = 1 if connections == 1 else 2
    run_tag = f"{os.getpid()}x{time.monotonic_ns()}"  # ids never repeat across runs
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", "-s", script,
                          base, "--", run_tag], capture_output=True, text=True).stdout
    m = re.search(r"^RESULT (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)", out, re.M)
    if not m:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    rps, p50, p99, p999, bad_status, timeouts = m.groups()
    return {"rps": float(rps), "p50": float(p50), "p99": float(p99), "p999": float(p999),
            "errors": int(bad_status) + int(timeouts)}


def redis_benchmark_set(endpoint, connections, size, requests):
    """`endpoint`: ["-s", SOCKET] or ["-h", "127.0.0.1", "-p", PORT]."""
    out = subprocess.run(["redis-benchmark", *endpoint, "-t", "set", "-c", str(connections), "-d", str(size),
                          "-n", str(requests), "-r", "100000000", "-q"], capture_output=True, text=True).stdout
    m = re.search(r"SET: ([\d.]+) requests per second(?:, p50=([\d.]+) msec)?", out.replace("\r", "\n"))
    if not m:
        raise RuntimeError(f"redis-benchmark printed no result:\n{out}")
    return {"rps": float(m.group(1)), "p50": float(m.group(2)) if m.group(2) else None}


def describe(ratios):
    """One round: its ratio; several: the median and the range."""
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}"
    return f"median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def section_put(args, workdir):
    redis = Redis(workdir, name="redis-put")  # the daemon reaches it over its unix socket
    daemon = Daemon(args.build, workdir, redis, extra={"LOG_LEVEL": "warn"})
    try:
        daemon.wait_ready()
        daemon.request("PUT", "/v1/datacenters/dc1", {"name": "bench", "number": 1})
        daemon.request("PUT", "/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1})
        daemon.request("PUT", "/v1/servers/probe", PUT_BODY)
        size = int(redis.cli("STRLEN", "horao:r:server/probe"))
        print(f"stored value of one record (CBOR entry, horao:r:server/probe): {size} bytes")
        print(f"wrk {args.duration} per case; redis-benchmark -n {args.set_requests} per case, over the "
              f"unix socket the daemon uses and over TCP on loopback (the transport wrk and horaod use)")
        print()
        print("| case | connections | requests/s | p50 ms | p99 ms | p99.9 ms | errors | horaod CPU per PUT |")
        print("|---|---|---|---|---|---|---|---|")
        # Each round measures PUT then SET (socket, TCP) back to back, so that
        # the machine's drift between rounds falls on both sides of a ratio.
        ratios = {}  # connections -> {transport: [PUT/SET of each round]}
        batch_sizes = {}
        for c in (1, 32):
            ratios[c] = {}
            for round_number in range(1, args.rounds + 1):
                suffix = f", round {round_number}" if args.rounds > 1 else ""
                batches0 = daemon.metric("horao_redis_batch_size_count") or 0
                keys0 = daemon.metric("horao_redis_batch_size_sum") or 0
                cpu0 = cpu_seconds(daemon.proc.pid)
                w = wrk_put(daemon.base, c, args.duration, workdir)
                cpu = cpu_seconds(daemon.proc.pid) - cpu0
                batches = (daemon.metric("horao_redis_batch_size_count") or 0) - batches0
                keys = (daemon.metric("horao_redis_batch_size_sum") or 0) - keys0
                batch_sizes.setdefault(c, []).append(keys / batches if batches else 0)
                seconds = float(args.duration.rstrip("s"))
                per_put = cpu / (w["rps"] * seconds) * 1e6 if w["rps"] else 0
                print(f"| horaod PUT (PERSIST=sync){suffix} | {c} | {w['rps']:.0f} | {w['p50']:.3f} | "
                      f"{w['p99']:.3f} | {w['p999']:.3f} | {w['errors']} | {per_put:.1f} us |", flush=True)
                n = args.set_requests if c > 1 else args.set_requests // 4
                # SET gets a fresh Redis of the same configuration each round:
                # its keys must not pile up in the daemon's Redis, where the
                # AOF rewrites they trigger would run during the next PUTs.
                set_redis = Redis(workdir, tcp_port=free_port(), name=f"redis-set-{c}-{round_number}")
                try:
                    for transport, endpoint in (("unix socket", ["-s", set_redis.sock]),
                                                ("TCP", ["-h", "127.0.0.1", "-p", str(set_redis.tcp_port)])):
                        r = redis_benchmark_set(endpoint, c, size, n)
                        p50 = f"{r['p50']:.3f}" if r["p50"] is not None else ""
                        print(f"| redis-benchmark SET -d {size}, {transport}{suffix} | {c} | {r['rps']:.0f} | "
                              f"{p50} | | | | |", flush=True)
                        ratios[c].setdefault(transport, []).append(w["rps"] / r["rps"] if r["rps"] else 0)
                finally:
                    set_redis.stop()
                    shutil.rmtree(set_redis.dir, ignore_errors=True)
        print()
        for c, by_transport in ratios.items():
            shown = "; ".join(f"{describe(values)} of SET over {t}" for t, values in by_transport.items())
            per_batch = statistics.mean(batch_sizes[c])
            print(f"{c} connections: horaod PUT = {shown}; mean keys per group-commit batch {per_batch:.1f}")
        rewrites = redis.info("persistence").get("aof_rewrites", "?")
        print(f"the daemon's Redis rewrote its AOF {rewrites} time(s) during the put runs")
        if "TCP" in ratios.get(32, {}):
            tcp = ratios[32]["TCP"]
            met = sum(1 for r in tcp if r >= 0.5)
            print(f"goal (issue 4), PUT >= 0.5 x SET over TCP at 32 connections: {describe(tcp)} "
                  f"(met in {met} of {len(tcp)} round{'s' if len(tcp) > 1 else ''})")
    finally:
        daemon.stop()
        redis.stop()


class ExistingRedis(Redis):
    """A Redis filled by an earlier run (--redis-socket): used as it is, left running."""

    def __init__(self, sock):
        self.sock = sock
        wait_until(lambda: self.cli("PING") == "PONG", 30, "redis PING")

    def stop(self):
        pass


def section_load(args, workdir):
    if args.redis_socket:
        redis = ExistingRedis(args.redis_socket)
        print(f"using the records already in {args.redis_socket} ({redis.cli('DBSIZE')} keys); no fill")
        args.records = int(redis.cli("DBSIZE")) - 2
    else:
        redis = Redis(workdir, name="redis-load")
    try:
        if not args.redis_socket:
            fill(args, workdir, redis)
        restarts(args, workdir, redis)
    finally:
        redis.stop()


def fill(args, workdir, redis):
    filler = Daemon(args.build, workdir, redis, extra={"LOG_LEVEL": "warn"})
    filler.wait_ready()
    filler.request("PUT", "/v1/datacenters/dc1", {"name": "bench", "number": 1})
    ops = [{"op": "put", "key": f"cabinet/cab{i}", "body": {"datacenter": "dc1", "row": 1 + i // 50,
                                                              "position": 1 + i % 50}} for i in range(1000)]
    filler.request("POST", "/v1/batch", {"operations": ops})
    t0 = time.monotonic()
    per = 5000
    for start in range(0, args.records, per):
        ops = [{"op": "put", "key": f"server/s-{i:07d}", "body": server_body(i, args.distinct_values)}
               for i in range(start, min(args.records, start + per))]
        filler.request("POST", "/v1/batch", {"operations": ops})
    wait_until(lambda: filler.metric("horao_redis_pending_keys") == 0, 600, "everything persisted")
    fill = time.monotonic() - t0
    print(f"filled {args.records} servers through POST /v1/batch ({per} per request, PERSIST=sync): "
          f"{fill:.1f} s, {args.records / fill:.0f} records/s")
    assert filler.stop() == 0


def restarts(args, workdir, redis):
    mem = redis.info("memory")
    keys = redis.cli("DBSIZE")
    used = int(mem["used_memory"])
    sample = redis.cli("STRLEN", "horao:r:server/s-0000042")
    print(f"Redis: {keys} keys, used_memory {used} bytes ({used / 2**20:.0f} MiB), "
          f"used_memory_rss {int(mem['used_memory_rss']) / 2**20:.0f} MiB; one record's value {sample} bytes")
    print()
    print("| restart | start -> /readyz 200 s | loader's own time | VmRSS after loading, MiB (x used_memory) "
          "| VmRSS when ready, MiB (x used_memory) |")
    print("|---|---|---|---|---|")
    for run in range(args.restarts):
        d = Daemon(args.build, workdir, redis)
        # The store alone: VmRSS when the loader reports, before the
        # domain indexes (relations, capacity) are built from it.
        wait_until(lambda: "redis: loaded" in d.log(), 600, "the load report", interval=0.005)
        rss_store = d.rss_kib() * 1024
        took = d.wait_ready()
        rss = d.rss_kib() * 1024
        line = next((l for l in d.log().splitlines() if "redis: loaded" in l), "")
        m = re.search(r"in ([\d.]+) ?s", line)
        print(f"| {run + 1} | {took:.2f} | {m.group(1) + ' s' if m else '?'} | {rss_store / 2**20:.0f} "
              f"({rss_store / used:.2f}x) | {rss / 2**20:.0f} ({rss / used:.2f}x) |", flush=True)
        if run == args.restarts - 1:
            # After a listing the per-kind order is sorted in: the steady-state footprint.
            d.request("GET", "/v1/servers?limit=10")
            rss2 = d.rss_kib() * 1024
            print(f"\nafter a first listing of servers: VmRSS {rss2 / 2**20:.0f} MiB, "
                  f"{rss2 / used:.2f} x used_memory; {rss2 / args.records:.0f} bytes per record in the daemon, "
                  f"{used / args.records:.0f} in Redis")
        assert d.stop() == 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--duration", default="10s")
    p.add_argument("--set-requests", type=int, default=400000)
    p.add_argument("--rounds", type=int, default=1,
                   help="put section: PUT and SET measured this many times, alternating (median and range)")
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--restarts", type=int, default=2)
    p.add_argument("--sections", default="put,load")
    p.add_argument("--distinct-values", action="store_true",
                   help="load section: no two records share a long field value (the worst case for interning)")
    p.add_argument("--redis-socket", help="load section: restart against this already filled Redis "
                                         "(unix socket) instead of filling a new one")
    args = p.parse_args()
    args.build = os.path.abspath(args.build)  # the daemon runs with the work directory as cwd
    for tool in ("redis-server", "redis-cli", "redis-benchmark", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"persist_bench: {tool} is not installed")
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"{subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="horao-persist-bench-") as workdir:
        for section in args.sections.split(","):
            print(f"\n## {section}\n", flush=True)
            {"put": section_put, "load": section_load}[section](args, workdir)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
