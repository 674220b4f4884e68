"""A randomized run against a single-node oracle of the LWW rules
(DESIGN §2): random PUTs, PATCHes and DELETEs on every daemon, random pauses
(SIGSTOP) and kill -9 of peers, then heal; every daemon must end with the
same digest and every resource equal to what the oracle computes.

Why a sequential driver gives an exact oracle: the daemons share this host's
clock, and a hybrid logical clock never stamps a write with a wall time later
than the moment it was made, while a write made after another one's answer
was received gets a strictly larger wall time. So stamps follow the order in
which the driver issued the writes, whichever daemon took them, and the
oracle can apply them in that order. Replication still delivers them to each
daemon in a different order, late, twice, or after a restart: the point of
the test is that none of that changes the result.

Seed: HORAO_RANDOM_SEED (printed on failure) reproduces a run.
"""

import os
import random

import requests

from cluster_harness import get_dc, link, list_all, make_nodes, mesh, restart, start_all, wait_converged

KEYS = [f"dc-{i}" for i in range(16)]
OPS = int(os.environ.get("HORAO_RANDOM_OPS", "1500"))


class Oracle:
    """The LWW map of DESIGN §2 over logical stamps (the driver's order)."""

    def __init__(self):
        self.records = {}  # id -> {"created", "deleted", "fields": {name: (stamp, value or None)}}

    def _rec(self, key):
        return self.records.setdefault(key, {"created": 0, "deleted": 0, "fields": {}})

    def _gc(self, r):
        r["fields"] = {n: (s, v) for n, (s, v) in r["fields"].items() if s > r["deleted"]}

    def put(self, key, body, stamp):
        r = self._rec(key)
        replace_at, create_at = stamp, stamp + 0.5  # two ticks, nothing between them
        r["deleted"] = max(r["deleted"], replace_at)
        r["created"] = max(r["created"], create_at)
        for name, value in body.items():
            r["fields"][name] = (create_at, value)
        self._gc(r)

    def patch(self, key, body, stamp):
        r = self._rec(key)
        for name, value in body.items():
            r["fields"][name] = (stamp, value)  # None: absent
        self._gc(r)

    def delete(self, key, stamp):
        r = self._rec(key)
        r["deleted"] = max(r["deleted"], stamp)
        self._gc(r)

    def alive(self, key):
        r = self.records.get(key)
        return bool(r and r["created"] > r["deleted"])

    def visible(self):
        out = {}
        for key, r in self.records.items():
            if r["created"] <= r["deleted"]:
                continue
            item = {"kind": "datacenter", "id": key}
            for name, (stamp, value) in r["fields"].items():
                if value is not None:
                    item[name] = value
            out[key] = item
        return out


def test_random_writes_pauses_and_kills_converge_to_the_oracle(horaod_factory, redis_server):
    seed = int(os.environ.get("HORAO_RANDOM_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"HORAO_RANDOM_SEED={seed}")
    names = ["rnd-a", "rnd-b", "rnd-c"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, mesh(names))
    start_all(nodes)
    oracle = Oracle()
    state = {n: "up" for n in names}  # up | paused | dead
    stamp = 0
    applied = 0
    disturbances = {"pause": 0, "kill": 0}

    for step in range(OPS):
        # Now and then, disturb one daemon (never all of them).
        roll = rng.random()
        victim = rng.choice(names)
        if roll < 0.03 and state[victim] == "up" and sum(s == "up" for s in state.values()) > 1:
            nodes[victim].pause()
            state[victim] = "paused"
            disturbances["pause"] += 1
        elif roll < 0.05 and state[victim] == "up" and sum(s == "up" for s in state.values()) > 1:
            nodes[victim].kill()
            state[victim] = "dead"
            disturbances["kill"] += 1
        elif roll < 0.10 and state[victim] == "paused":
            nodes[victim].resume()
            state[victim] = "up"
        elif roll < 0.13 and state[victim] == "dead":
            restart(nodes[victim])
            state[victim] = "up"

        target = nodes[rng.choice([n for n in names if state[n] == "up"])]
        key = rng.choice(KEYS)
        stamp += 1
        op = rng.random()
        url = target.url(f"/v1/datacenters/{key}")
        if op < 0.5:
            body = {"name": f"{key} v{step}", "number": rng.randrange(50)}
            if rng.random() < 0.5:
                body["location"] = rng.choice(["ams", "fra", "par", "lon"])
            r = requests.put(url, json=body, timeout=20)
            assert r.status_code in (200, 201), f"seed {seed}: PUT {r.status_code} {r.text}"
            oracle.put(key, body, stamp)
        elif op < 0.8:
            body = rng.choice([{"location": rng.choice(["ams", "fra", "par"])}, {"location": None},
                               {"number": rng.randrange(50)}, {"name": f"patched {step}"}])
            r = requests.patch(url, json=body, headers={"Content-Type": "application/merge-patch+json"},
                               timeout=20)
            assert r.status_code in (200, 404), f"seed {seed}: PATCH {r.status_code} {r.text}"
            if r.status_code == 200:
                oracle.patch(key, body, stamp)
        else:
            r = requests.delete(url, timeout=20)
            assert r.status_code in (204, 404), f"seed {seed}: DELETE {r.status_code} {r.text}"
            if r.status_code == 204:
                oracle.delete(key, stamp)
        applied += r.status_code < 300

    # Heal.
    for n in names:
        if state[n] == "paused":
            nodes[n].resume()
        elif state[n] == "dead":
            restart(nodes[n])
    wait_converged(list(nodes.values()))

    expected = oracle.visible()
    for n in names:
        seen = list_all(nodes[n])
        assert seen == expected, f"seed {seed}: {n} differs from the oracle ({applied} writes applied)"
    print(f"{applied} writes applied, {len(expected)} live resources, disturbances {disturbances}")
    assert applied > OPS // 3
