#!/usr/bin/env python3
"""Replication latency between two real horaod processes (issue 5): from an
acknowledged write on A (PUT answered, PERSIST=sync, Redis) to its
visibility on B (GET answers 200), under a steady background write load on
A, with SYNC_MAX=0. Prints p50/p99/max; asserts nothing.

Usage: HORAOD=build/horaod bench/bench_replication_latency.py [probes=500] [background_rate=200]

The probe polls B with GET as fast as it can; each poll costs about 0.1-0.3 ms
on loopback, so figures below that are polling resolution.
"""

import os
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))

from cluster_harness import link, metric, put_dc, standalone_nodes, start_all, wait_connected  # noqa: E402


def main():
    probes = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    background_rate = float(sys.argv[2]) if len(sys.argv) > 2 else 200.0
    with standalone_nodes(["lat-a", "lat-b"], env={"LOG_LEVEL": "warn"}) as nodes:
        link(nodes, {"lat-b": ["lat-a"]})
        start_all(nodes)
        a, b = nodes["lat-a"], nodes["lat-b"]
        wait_connected([(a, "lat-b"), (b, "lat-a")])

        stop = threading.Event()
        written = [0]

        def background():
            s = requests.Session()
            i = 0
            start = time.monotonic()
            while not stop.is_set():
                target = start + i / background_rate
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                s.put(a.url(f"/v1/datacenters/bg-{i % 5000}"), json={"name": f"bg {i}", "number": i % 100},
                      timeout=10)
                i += 1
            written[0] = i

        t = threading.Thread(target=background)
        t.start()
        sa, sb = requests.Session(), requests.Session()
        latencies = []
        try:
            for i in range(probes):
                key = f"probe-{i}"
                r = sa.put(a.url(f"/v1/datacenters/{key}"), json={"name": key, "number": 1}, timeout=10)
                assert r.status_code == 201, r.text
                t0 = time.monotonic()
                while sb.get(b.url(f"/v1/datacenters/{key}"), timeout=10).status_code != 200:
                    if time.monotonic() - t0 > 10:
                        raise RuntimeError(f"{key} did not reach B within 10 s")
                latencies.append((time.monotonic() - t0) * 1000)
                time.sleep(0.005)
        finally:
            stop.set()
            t.join()
        latencies.sort()

        def pct(p):
            return latencies[min(len(latencies) - 1, int(p * len(latencies)))]

        records = metric(a, "horao_peer_records_sent_total", peer="lat-b")
        sent = metric(a, "horao_peer_bytes_sent_total", peer="lat-b")
        print(f"# two horaod with Redis (PERSIST=sync), SYNC_MAX=0, background {background_rate:.0f} writes/s "
              f"({written[0]} written)")
        print(f"latency acknowledged write on A -> visible on B over {len(latencies)} probes: "
              f"p50 {pct(0.50):.2f} ms, p99 {pct(0.99):.2f} ms, max {latencies[-1]:.2f} ms")
        print(f"wire: {sent:.0f} bytes for {records:.0f} records: {sent / max(records, 1):.1f} bytes per change")


if __name__ == "__main__":
    main()
