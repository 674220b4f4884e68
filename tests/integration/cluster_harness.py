"""Helpers for replication tests: several horaod processes that replicate,
sharing one real redis-server (each daemon under its own REDIS_PREFIX).

Built on horao_harness (free ports, processes, wait_until). Every wait polls
with a deadline; nothing sleeps for luck. The one exception is `stays`, which
shows that something does NOT happen within a window (absence cannot be
polled for): it checks the condition throughout the window.
"""

import contextlib
import re
import time

import requests

from horao_harness import HarnessError, Horaod, RedisServer, wait_until

SECRET = "integration-peer-secret"
CONVERGE_TIMEOUT = 90.0  # seconds; generous for a loaded CI machine


def ws_url(daemon):
    return f"ws://127.0.0.1:{daemon.port}"


def make_nodes(horaod_factory, names, redis=None, env=None, per_node=None):
    """Creates (does not start) one Horaod per name, with ports assigned, so
    that PEERS can name them. `per_node` maps a name to extra env."""
    nodes = {}
    for name in names:
        e = {"PEER_SECRET": SECRET, "SYNC_MAX": "0", "SYNC_DELTA": "1", "LOG_LEVEL": "info"}
        if redis is not None:
            e.update({"REDIS_URL": redis.url, "REDIS_PREFIX": f"horao:{name}:", "PERSIST": "sync"})
        e.update(env or {})
        e.update((per_node or {}).get(name, {}))
        nodes[name] = horaod_factory(env=e, name=name, start=False)
    return nodes


@contextlib.contextmanager
def standalone_nodes(names, env=None):
    """Outside pytest (the benchmarks): one redis-server and one Horaod per
    name (not started, as make_nodes), all cleaned up on exit."""
    made = []

    def factory(env=None, name="horaod", start=True, **kw):
        d = Horaod(env=env, name=name, **kw)
        made.append(d)
        if start:
            d.start()
        return d

    redis = RedisServer().start()
    try:
        yield make_nodes(factory, names, redis=redis, env=env)
    finally:
        for d in made:
            d.cleanup()
        redis.cleanup()


def link(nodes, topology):
    """Sets PEERS from `topology`: name -> list of names it dials."""
    for name, targets in topology.items():
        nodes[name].env["PEERS"] = ",".join(ws_url(nodes[t]) for t in targets)


def mesh(names):
    return {n: [m for m in names if m != n] for n in names}


def start_all(nodes, names=None):
    for name in names or nodes:
        nodes[name].start(ready=True)


def restart(daemon):
    """Starts a stopped or killed daemon again, same port, env and directory."""
    daemon.spawn()
    daemon.wait_ready()
    return daemon


# ---- reading the daemons ---------------------------------------------------------


def cluster(daemon):
    r = requests.get(daemon.url("/v1/cluster"), timeout=5)
    r.raise_for_status()
    return r.json()


def digest(daemon):
    return cluster(daemon)["digest"]


def peer_row(daemon, node):
    for row in cluster(daemon)["peers"]:
        if row["node"] == node:
            return row
    return None


def connected(daemon, node):
    row = peer_row(daemon, node)
    return bool(row and row["connected"])


_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$')


def metrics(daemon):
    """{(name, frozenset(labels.items())): value}"""
    text = requests.get(daemon.url("/metrics"), timeout=5).text
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC.match(line)
        if not m:
            continue
        labels = {}
        if m.group(2):
            for part in re.finditer(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)):
                labels[part.group(1)] = part.group(2)
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(3))
    return out


def metric(daemon, name, **labels):
    return metrics(daemon).get((name, frozenset(labels.items())), 0.0)


def wait_connected(nodes_and_peers, timeout=60.0):
    """nodes_and_peers: list of (daemon, peer node id)."""
    wait_until(lambda: all(connected(d, p) for d, p in nodes_and_peers), timeout,
               "peer links to come up: " + ", ".join(f"{d.name}->{p}" for d, p in nodes_and_peers))


def wait_converged(daemons, timeout=CONVERGE_TIMEOUT, records=None):
    """Polls until every daemon shows the same digest (and, if given, that
    many records); returns the digest. On timeout the error names each
    daemon's digest, record count and peer rows."""

    def same():
        try:
            infos = [cluster(d) for d in daemons]
        except requests.RequestException:
            return False
        if len({i["digest"] for i in infos}) != 1:
            return False
        if records is not None and any(i["records"] != records for i in infos):
            return False
        return infos[0]["digest"]

    try:
        return wait_until(same, timeout, "digests to converge", interval=0.05)
    except HarnessError:
        lines = []
        for d in daemons:
            try:
                i = cluster(d)
                lines.append(f"{d.name}: digest {i['digest']} records {i['records']} seq {i['seq']} "
                             f"peers {i['peers']}")
            except requests.RequestException as e:
                lines.append(f"{d.name}: {e}")
        raise HarnessError("digests did not converge in time:\n" + "\n".join(lines)) from None


def stays(predicate, seconds, what):
    """Checks that predicate() holds throughout `seconds` (for showing that
    something does not happen). Raises AssertionError at the first failure."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), what
        time.sleep(0.05)


# ---- writing ----------------------------------------------------------------------


def put_dc(daemon, dc_id, name, number=1, **extra):
    body = {"name": name, "number": number}
    body.update(extra)
    r = requests.put(daemon.url(f"/v1/datacenters/{dc_id}"), json=body, timeout=10)
    assert r.status_code in (200, 201), f"PUT {dc_id} on {daemon.name}: {r.status_code} {r.text}"
    return r.json()


def get_dc(daemon, dc_id):
    r = requests.get(daemon.url(f"/v1/datacenters/{dc_id}"), timeout=10)
    if r.status_code == 404:
        return None
    r.raise_for_status()
    return r.json()


def list_all(daemon, collection="datacenters"):
    """Every live resource of a collection, by id, without `meta`."""
    out = {}
    after = None
    while True:
        params = {"limit": 1000}
        if after:
            params["after"] = after
        r = requests.get(daemon.url(f"/v1/{collection}"), params=params, timeout=10)
        r.raise_for_status()
        page = r.json()
        for item in page["items"]:
            item = dict(item)
            item.pop("meta", None)
            out[item["id"]] = item
        after = page.get("next")
        if not after:
            return out


def sync_now(daemon):
    r = requests.post(daemon.url("/v1/cluster/sync"), timeout=10)
    assert r.status_code == 202, r.text
