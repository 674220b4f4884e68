#!/usr/bin/env python3
"""Backpressure (issue 5): what a stalled peer costs the sender. Three horaod
with one redis-server: A replicates to B; C takes the same writes with no
peer (the control). B is frozen with SIGSTOP, then N records are written to
A and to C. Prints A's and C's resident memory, A's bytes in flight and
pending changes for B (bounded by design: nothing is queued per change, the
change log coalesces per key), then how long B takes to catch up after
SIGCONT. Asserts nothing.

Usage: HORAOD=build/horaod bench/bench_replication_stall.py [records=200000]
"""

import json
import os
import sys
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from cluster_harness import cluster, link, metric, standalone_nodes, wait_connected  # noqa: E402
from horao_harness import wait_until  # noqa: E402

BATCH = 5000


def rss_mib(daemon):
    with open(f"/proc/{daemon.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def write(daemons, records, round_no):
    s = requests.Session()
    for start in range(0, records, BATCH):
        ops = [{"op": "put", "key": f"datacenter/dc-{i:07d}",
                "body": {"name": f"datacenter {i} round {round_no}", "number": i % 1000}}
               for i in range(start, min(records, start + BATCH))]
        body = json.dumps({"operations": ops})
        for d in daemons:
            r = s.post(d.url("/v1/batch"), data=body, headers={"Content-Type": "application/json"}, timeout=120)
            if r.status_code != 200:
                raise RuntimeError(f"{d.name} batch at {start}: {r.status_code} {r.text[:200]}")


def main():
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    env = {"LOG_LEVEL": "warn", "MAX_BODY_BYTES": str(16 << 20), "SYNC_MAX": "0"}
    with standalone_nodes(["stall-a", "stall-b", "stall-c"], env=env) as nodes:
        a, b, c = nodes["stall-a"], nodes["stall-b"], nodes["stall-c"]
        link(nodes, {"stall-a": ["stall-b"]})
        for d in (b, a, c):
            d.start(ready=True)
        wait_connected([(a, "stall-b")])
        print(f"# A -> B with B frozen (SIGSTOP); C takes the same writes without a peer; {records} records x 3 rounds")
        print(f"start: A {rss_mib(a):.1f} MiB, C {rss_mib(c):.1f} MiB")
        b.pause()
        for round_no in range(3):
            write([a, c], records, round_no)
            print(f"after round {round_no + 1} ({(round_no + 1) * records} writes, {records} keys): "
                  f"A {rss_mib(a):.1f} MiB, C {rss_mib(c):.1f} MiB; A->B in flight "
                  f"{metric(a, 'horao_peer_inflight_bytes', peer='stall-b') / 1024:.0f} KiB, "
                  f"pending {metric(a, 'horao_peer_pending', peer='stall-b'):.0f}")
        target = cluster(a)["digest"]
        t0 = time.monotonic()
        b.resume()
        wait_until(lambda: cluster(b)["digest"] == target, 600, "B to catch up", interval=0.05)
        print(f"B caught up {records} changed keys in {time.monotonic() - t0:.1f} s after SIGCONT; "
              f"A->B records sent in all {metric(a, 'horao_peer_records_sent_total', peer='stall-b'):.0f}")


if __name__ == "__main__":
    main()
