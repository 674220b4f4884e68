"""Reservations accepted concurrently by two daemons that together overbook
(DESIGN §6, API.md "Scheduling", docs/scheduler.md "Conflicts after
merges"): after the partition heals, both daemons show the same reservations
`conflicted`, with the same reason, computed from the replicated state alone.

The partition: both daemons hold their pushes (SYNC_DELTA an hour, SYNC_MAX
a million: the sync rule never fires by itself within the test), so each
accepts its write without seeing the other's; POST /v1/cluster/sync is the
heal. Stopping a process (SIGSTOP) cannot serve here: a paused daemon cannot
accept the concurrent write, and the deltas queued in its socket would reach
it before any write it took after SIGCONT.

By hand: `HORAOD=build/horaod python3 -m pytest tests/integration/test_conflicts.py`.
"""

import datetime
import threading

import requests

from cluster_harness import link, make_nodes, metric, start_all, sync_now, wait_connected, wait_converged

HOUR = datetime.timedelta(hours=1)
T0 = datetime.datetime(2031, 3, 1, tzinfo=datetime.timezone.utc)
HOLD = {"SYNC_DELTA": "3600", "SYNC_MAX": "1000000"}


def at(hours):
    return (T0 + hours * HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")


def reservation(tenant, cpu, start_h, end_h):
    return {"tenant": tenant, "resources": [{"type": "compute", "cpu": cpu, "ram_gb": 0, "amount": 1}],
            "start": at(start_h), "end": at(end_h)}


def put(daemon, path, body, expected=(200, 201)):
    r = requests.put(daemon.url(path), json=body, timeout=10)
    assert r.status_code in expected, f"PUT {path} on {daemon.name}: {r.status_code} {r.text}"
    return r.json()


def get(daemon, path):
    r = requests.get(daemon.url(path), timeout=10)
    assert r.status_code == 200, f"GET {path} on {daemon.name}: {r.status_code} {r.text}"
    return r.json()


def statuses(daemon, ids):
    out = {}
    for rid in ids:
        r = get(daemon, f"/v1/reservations/{rid}")
        out[rid] = (r["status"], r.get("conflict"))
    return out


def seed(daemon):
    """100 cores in dc1; t2 may hold 50 cores at once."""
    put(daemon, "/v1/datacenters/dc1", {"name": "Amsterdam", "number": 1})
    put(daemon, "/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1})
    put(daemon, "/v1/servers/s1", {"cabinet": "cab1", "cpus": [{"cores": 100, "model": "x", "clock_ghz": 2.0}],
                                   "ram": [{"size_gb": 512}]})
    put(daemon, "/v1/tenants/t1", {"owner": "alice"})
    put(daemon, "/v1/tenants/t2", {"owner": "bob", "constraints": {"cpu": 50}})


def concurrently(*writes):
    """Runs the writes at the same time; re-raises the first failure."""
    errors = []

    def run(write):
        try:
            write()
        except Exception as e:  # reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(w,)) for w in writes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_concurrent_overbooking_is_conflicted_identically_on_both_daemons(horaod_factory, redis_server):
    names = ["sched-a", "sched-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server, env=HOLD)
    # One link, dialled by b once a is up: a link that comes up (or replaces
    # another) sends what is pending whatever the sync rule says, so a mesh
    # whose second link lands late would leak through the partition.
    link(nodes, {"sched-b": ["sched-a"]})
    start_all(nodes)
    a, b = nodes["sched-a"], nodes["sched-b"]
    wait_connected([(a, "sched-b"), (b, "sched-a")])

    seed(a)
    sync_now(a)
    wait_converged([a, b])
    assert get(b, "/v1/capacity")["cpu"] == 100

    # Partitioned by the sync rule: each daemon accepts what fits its own view.
    concurrently(
        # 60 + 60 cores of 100 in the same window: capacity overbooked.
        lambda: put(a, "/v1/reservations/cap-a", reservation("t1", 60, 0, 10), expected=(201,)),
        lambda: put(b, "/v1/reservations/cap-b", reservation("t1", 60, 5, 15), expected=(201,)),
        # 30 + 30 cores for t2, whose limit is 50: constraints overbooked.
        lambda: put(a, "/v1/reservations/lim-a", reservation("t2", 30, 20, 30), expected=(201,)),
        lambda: put(b, "/v1/reservations/lim-b", reservation("t2", 30, 20, 30), expected=(201,)),
    )
    assert get(a, "/v1/cluster")["digest"] != get(b, "/v1/cluster")["digest"], "the partition leaked"
    ids = ["cap-a", "cap-b", "lim-a", "lim-b"]
    assert set(statuses(a, ["cap-a", "lim-a"]).values()) == {("accepted", None)}
    assert set(statuses(b, ["cap-b", "lim-b"]).values()) == {("accepted", None)}

    # Heal.
    sync_now(a)
    sync_now(b)
    wait_converged([a, b])

    on_a, on_b = statuses(a, ids), statuses(b, ids)
    assert on_a == on_b, f"the daemons disagree:\n{on_a}\n{on_b}"
    cap = [on_a["cap-a"], on_a["cap-b"]]
    assert sorted(s for s, _ in cap) == ["accepted", "conflicted"], cap
    assert ("conflicted", "insufficient_capacity: cpu short by 20") in cap
    lim = [on_a["lim-a"], on_a["lim-b"]]
    assert sorted(s for s, _ in lim) == ["accepted", "conflicted"], lim
    reason = next(c for s, c in lim if s == "conflicted")
    assert reason.startswith("constraint_exceeded: cpu limit 50"), reason
    assert "accepted" in [s for s, _ in lim]

    # Both show the same listing of conflicted reservations and the same usage
    # (conflicted reservations hold nothing).
    listed = [sorted(r["id"] for r in get(d, "/v1/reservations?status=conflicted")["items"]) for d in (a, b)]
    assert listed[0] == listed[1] and len(listed[0]) == 2
    # And operators see the count in /metrics, the same on both.
    for d in (a, b):
        assert metric(d, "horao_reservations", status="conflicted") == 2
        assert metric(d, "horao_reservations", status="accepted") == 2
    for d in (a, b):
        assert get(d, f"/v1/tenants/t2/usage?at={at(25)}")["usage"]["cpu"] == 30
        assert get(d, f"/v1/tenants/t1/usage?at={at(7)}")["usage"]["cpu"] == 60

    # Cancelling the accepted one lets the conflicted one in, on both daemons.
    winner = next(rid for rid in ("cap-a", "cap-b") if on_a[rid][0] == "accepted")
    loser = "cap-b" if winner == "cap-a" else "cap-a"
    owner = a if winner == "cap-a" else b
    r = requests.delete(owner.url(f"/v1/reservations/{winner}"), timeout=10)
    assert r.status_code == 204, r.text
    sync_now(owner)
    wait_converged([a, b])
    for d in (a, b):
        assert statuses(d, [loser])[loser] == ("accepted", None)
