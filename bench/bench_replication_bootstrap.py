#!/usr/bin/env python3
"""Bootstrap of an empty peer between two real horaod processes with Redis
(issue 5): A holds N records (written through POST /v1/batch, PERSIST=sync);
B starts empty with PEERS=A; the figure is the time from B's start until its
digest equals A's, with every record merged and persisted on B. Also prints
the bytes A sent and what one record costs on the wire. Asserts nothing.

Usage: HORAOD=build/horaod bench/bench_replication_bootstrap.py [records=1000000]
"""

import json
import os
import sys
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from cluster_harness import cluster, link, metric, standalone_nodes  # noqa: E402
from horao_harness import wait_until  # noqa: E402

BATCH = 5000


def fill(daemon, records):
    s = requests.Session()
    t0 = time.monotonic()
    for start in range(0, records, BATCH):
        ops = [{"op": "put", "key": f"datacenter/dc-{i:07d}",
                "body": {"name": f"datacenter {i}", "number": i % 1000, "location": "ams"}}
               for i in range(start, min(records, start + BATCH))]
        r = s.post(daemon.url("/v1/batch"), data=json.dumps({"operations": ops}),
                   headers={"Content-Type": "application/json"}, timeout=120)
        if r.status_code != 200:
            raise RuntimeError(f"batch at {start}: {r.status_code} {r.text[:200]}")
    return time.monotonic() - t0


def main():
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    env = {"LOG_LEVEL": "warn", "MAX_BODY_BYTES": str(16 << 20), "SYNC_MAX": "1000", "SYNC_DELTA": "1"}
    with standalone_nodes(["boot-a", "boot-b"], env=env) as nodes:
        a, b = nodes["boot-a"], nodes["boot-b"]
        link(nodes, {"boot-b": ["boot-a"]})
        a.start(ready=True)
        fill_s = fill(a, records)
        target = cluster(a)["digest"]
        print(f"# two horaod, one redis-server (PERSIST=sync, appendonly), {records} datacenter records")
        print(f"fill A through POST /v1/batch ({BATCH} per batch): {fill_s:.1f} s ({records / fill_s:.0f} records/s)")

        t0 = time.monotonic()
        b.start(ready=False)
        wait_until(lambda: requests.get(b.url("/v1/cluster"), timeout=10).json().get("digest") == target,
                   1800, "B to hold A's state", interval=0.05)
        boot_s = time.monotonic() - t0
        sent = metric(a, "horao_peer_bytes_sent_total", peer="boot-b")
        sent_records = metric(a, "horao_peer_records_sent_total", peer="boot-b")
        print(f"bootstrap of B (start to equal digest): {boot_s:.1f} s ({records / boot_s:.0f} records/s)")
        print(f"wire: {sent / 1048576:.1f} MiB for {sent_records:.0f} records: {sent / max(sent_records, 1):.0f} bytes per record")


if __name__ == "__main__":
    main()
