"""Durability with a real redis-server and real horaod processes (issue 4):
acknowledged writes survive a graceful restart and a kill -9 under load, and
a Redis outage turns writes into 503s without losing what was acknowledged."""

import random
import threading

import requests

from horao_harness import wait_until


def _env(redis_server, **extra):
    env = {"REDIS_URL": redis_server.url, "REDIS_PREFIX": "test:", "PERSIST": "sync", "NODE_ID": "dc-test"}
    env.update(extra)
    return env


def _datacenter(i):
    return {"name": f"dc number {i}", "number": i}


def test_state_and_digest_survive_a_graceful_restart(redis_server, horaod_factory):
    first = horaod_factory(env=_env(redis_server))
    first.wait_ready()
    c = first.client()
    for i in range(50):
        assert c.put(f"/v1/datacenters/dc-{i}", _datacenter(i)).status_code == 201
    assert c.patch("/v1/datacenters/dc-3", {"location": "Amsterdam"}).status_code == 200
    assert c.delete("/v1/datacenters/dc-4").status_code == 204
    before = c.get("/v1/cluster").json()
    assert first.stop() == 0

    second = horaod_factory(env=_env(redis_server), name="dc-test")
    second.wait_ready()
    c2 = second.client()
    after = c2.get("/v1/cluster").json()
    assert after["digest"] == before["digest"]
    assert after["seq"] >= before["seq"]
    assert c2.get("/v1/datacenters/dc-3").json()["location"] == "Amsterdam"
    assert c2.get("/v1/datacenters/dc-4").status_code == 404
    assert len(c2.get("/v1/datacenters?limit=1000").json()["items"]) == 49


def test_no_acknowledged_write_is_lost_on_kill_9_under_load(redis_server, horaod_factory):
    rng = random.Random(1234)
    acknowledged = {}
    for round_no in range(3):
        daemon = horaod_factory(env=_env(redis_server), name="dc-test")
        daemon.wait_ready()
        stop = threading.Event()
        lock = threading.Lock()

        def writer(worker):
            client = daemon.client()
            n = 0
            while not stop.is_set():
                key = f"r{round_no}-w{worker}-{n}"
                body = _datacenter(n)
                try:
                    r = client.put(f"/v1/datacenters/{key}", body, timeout=5)
                except requests.RequestException:
                    return  # the daemon died mid-request: not acknowledged
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged[key] = body
                n += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        # Kill at a random moment once some writes were acknowledged.
        target = len(acknowledged) + rng.randint(50, 300)
        wait_until(lambda: len(acknowledged) >= target, 60, "writes acknowledged before the kill")
        daemon.kill()
        stop.set()
        for t in threads:
            t.join(10)

    survivor = horaod_factory(env=_env(redis_server), name="dc-test")
    survivor.wait_ready()
    c = survivor.client()
    missing = [k for k in acknowledged if c.get(f"/v1/datacenters/{k}").status_code != 200]
    assert missing == [], f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
    for key in rng.sample(sorted(acknowledged), 20):
        got = c.get(f"/v1/datacenters/{key}").json()
        assert got["name"] == acknowledged[key]["name"]

    # Recovery is deterministic: a second restart reproduces the digest exactly.
    digest = c.get("/v1/cluster").json()["digest"]
    assert survivor.stop() == 0
    again = horaod_factory(env=_env(redis_server), name="dc-test")
    again.wait_ready()
    assert again.client().get("/v1/cluster").json()["digest"] == digest


def test_redis_outage_refuses_writes_then_recovers(redis_server, horaod_factory):
    daemon = horaod_factory(env=_env(redis_server, REDIS_TIMEOUT_MS="200"))
    daemon.wait_ready()
    c = daemon.client()
    assert c.put("/v1/datacenters/before", _datacenter(1)).status_code == 201

    redis_server.pause()
    try:
        wait_until(lambda: c.put("/v1/datacenters/during", _datacenter(2)).status_code == 503, 30,
                   "writes refused with 503 while Redis is paused")
        r = c.put("/v1/datacenters/during", _datacenter(2))
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "unavailable"
        assert c.get("/v1/datacenters/before").status_code == 200  # reads keep working
        assert c.get("/readyz").status_code == 503
    finally:
        redis_server.resume()

    wait_until(lambda: c.get("/readyz").status_code == 200, 30, "/readyz back to 200 after Redis returned")
    assert c.put("/v1/datacenters/after", _datacenter(3)).status_code in (200, 201)
    assert daemon.stop() == 0

    restarted = horaod_factory(env=_env(redis_server), name="dc-test")
    restarted.wait_ready()
    c2 = restarted.client()
    assert c2.get("/v1/datacenters/before").status_code == 200
    assert c2.get("/v1/datacenters/after").status_code == 200


def _metric(client, name):
    """The value of an unlabelled series in /metrics (None when absent)."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def test_tombstones_are_purged_from_redis_and_stay_gone_after_a_restart(redis_server, horaod_factory):
    # TOMBSTONE_TTL=1: a pass every second purges what was deleted more than
    # a second ago (docs/persistence.md, "Tombstones").
    env = _env(redis_server, TOMBSTONE_TTL="1")
    daemon = horaod_factory(env=env, name="dc-test")
    daemon.wait_ready()
    c = daemon.client()
    for i in range(5):
        assert c.put(f"/v1/datacenters/dc-{i}", _datacenter(i)).status_code == 201
    assert c.delete("/v1/datacenters/dc-1").status_code == 204
    assert c.delete("/v1/datacenters/dc-3").status_code == 204
    gone = ["test:r:datacenter/dc-1", "test:r:datacenter/dc-3"]

    wait_until(lambda: all(redis_server.command("EXISTS", k) == 0 for k in gone), 30,
               "the purged tombstones to be deleted from Redis")
    assert redis_server.command("EXISTS", "test:r:datacenter/dc-0") == 1
    assert _metric(c, "horao_tombstones_purged_total") == 2
    assert _metric(c, "horao_store_tombstones") == 0
    cluster = c.get("/v1/cluster").json()
    assert cluster["records"] == 3
    # kill -9: nothing but Redis carries the purge over the restart.
    daemon.kill()

    again = horaod_factory(env=env, name="dc-test")
    again.wait_ready()
    c2 = again.client()
    assert c2.get("/v1/cluster").json()["digest"] == cluster["digest"]
    assert c2.get("/v1/datacenters/dc-1").status_code == 404
    assert c2.get("/v1/datacenters/dc-3").status_code == 404
    assert c2.get("/v1/datacenters/dc-2").status_code == 200
    assert all(redis_server.command("EXISTS", k) == 0 for k in gone)
    # A purged id can be created again.
    assert c2.put("/v1/datacenters/dc-1", {"name": "again", "number": 99}).status_code == 201
    assert c2.get("/v1/datacenters/dc-1").json()["name"] == "again"


def test_no_acknowledged_write_is_lost_when_redis_restarts_under_load(horaod_factory):
    # Redis as the README recommends for zero loss: AOF, fsync before every reply.
    from horao_harness import RedisServer
    redis = RedisServer(extra_args=["--appendfsync", "always"])
    redis.start()
    try:
        _redis_restart_under_load(redis, horaod_factory)
    finally:
        redis.cleanup()


def _redis_restart_under_load(redis, horaod_factory):
    env = _env(redis, REDIS_TIMEOUT_MS="500")
    daemon = horaod_factory(env=env, name="dc-test")
    daemon.wait_ready()
    acknowledged = {}
    statuses = {}
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker):
        client = daemon.client()
        n = 0
        while not stop.is_set():
            key = f"w{worker}-{n}"
            body = _datacenter(n)
            r = client.put(f"/v1/datacenters/{key}", body, timeout=10)
            with lock:
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code in (200, 201):
                    acknowledged[key] = body
            n += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: len(acknowledged) >= 200, 60, "writes acknowledged before the Redis restart")
        assert redis.stop() == 0  # SIGTERM: Redis finishes its AOF and exits
        # While Redis is away, sync writes are refused (applied in memory, not acknowledged).
        wait_until(lambda: statuses.get(503, 0) > 0, 30, "writes refused with 503 while Redis is down")
        acknowledged_during_outage = len(acknowledged)
        redis.start()
        wait_until(lambda: len(acknowledged) >= acknowledged_during_outage + 200, 60,
                   "writes acknowledged again after Redis came back")
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert set(statuses) <= {200, 201, 503}, f"unexpected statuses {statuses}"

    c = daemon.client()
    wait_until(lambda: _metric(c, "horao_redis_pending_keys") == 0, 30, "every change written to Redis")
    missing = [k for k in acknowledged if c.get(f"/v1/datacenters/{k}").status_code != 200]
    assert missing == [], f"{len(missing)} acknowledged writes missing in the daemon, e.g. {missing[:5]}"
    before = c.get("/v1/cluster").json()
    assert daemon.stop() == 0

    # Recovery replays Redis: the same state, to the digest, and every acknowledged write.
    again = horaod_factory(env=env, name="dc-test")
    again.wait_ready()
    c2 = again.client()
    after = c2.get("/v1/cluster").json()
    assert after["digest"] == before["digest"]
    assert after["records"] == before["records"]
    missing = [k for k in acknowledged if c2.get(f"/v1/datacenters/{k}").status_code != 200]
    assert missing == [], f"{len(missing)} acknowledged writes lost across the restarts, e.g. {missing[:5]}"
    for key in random.Random(7).sample(sorted(acknowledged), 20):
        assert c2.get(f"/v1/datacenters/{key}").json()["name"] == acknowledged[key]["name"]
    assert again.stop() == 0
