#!/usr/bin/env python3
"""Same-conditions comparison of two horaod binaries on the PUT benchmark:
the binaries alternate, each round on a fresh Redis (unix socket, AOF
everysec) and a fresh daemon (PERSIST=sync), 3 s of `wrk -c32` warm-up then
a measured run. Prints requests/s and the daemon's CPU per PUT for each.
Alternating makes the machine's drift (other load, a noisy host) fall on
both binaries alike; a single run of each would mostly measure the drift.
Measures and prints; asserts nothing.

    bench/put_ab.py OLD_HORAOD NEW_HORAOD [--rounds 4] [--duration 8s] [--connections 32]

Build an older commit's daemon beside the tree with, for instance:
    git worktree add /tmp/base COMMIT && cmake -S /tmp/base -B /tmp/base/build && \\
        cmake --build /tmp/base/build --target horaod
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from persist_bench import Daemon, Redis, cpu_seconds, wrk_put  # noqa: E402


def one_round(binary, workdir, name, duration, connections):
    redis = Redis(workdir, name=f"redis-{name}")
    daemon = Daemon(os.path.dirname(binary), workdir, redis, extra={"LOG_LEVEL": "warn"},
                    executable=os.path.basename(binary))
    try:
        daemon.wait_ready()
        daemon.request("PUT", "/v1/datacenters/dc1", {"name": "bench", "number": 1})
        daemon.request("PUT", "/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1})
        wrk_put(daemon.base, connections, "3s", workdir)  # warm-up
        cpu0 = cpu_seconds(daemon.proc.pid)
        w = wrk_put(daemon.base, connections, duration, workdir)
        cpu = cpu_seconds(daemon.proc.pid) - cpu0
        requests = w["rps"] * float(duration.rstrip("s"))
        return w["rps"], cpu / requests * 1e6 if requests else 0.0
    finally:
        daemon.stop()
        redis.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--duration", default="8s")
    p.add_argument("--connections", type=int, default=32)
    args = p.parse_args()
    binaries = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"old = {binaries['old']}\nnew = {binaries['new']}\n")
    print("| round | old PUT/s | old CPU per PUT | new PUT/s | new CPU per PUT |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="horao-put-ab-") as workdir:
        for r in range(1, args.rounds + 1):
            row = []
            for label in ("old", "new"):
                rps, us = one_round(binaries[label], workdir, f"{label}{r}", args.duration, args.connections)
                row += [f"{rps:,.0f}", f"{us:.1f} us"]
            print(f"| {r} | " + " | ".join(row) + " |", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
