"""Scheduling against a real horaod with a real redis-server (API.md "Views",
"Scheduling", "Access"; docs/scheduler.md): the capacity view, decisions and
their 409 bodies, the earliest start, maintenance impact, usage, roles, and
statuses that survive a restart (the capacity index and the scheduler are
rebuilt after recovery from Redis)."""

import datetime
import hashlib
import os

import pytest

HOUR = datetime.timedelta(hours=1)
# Fixed windows far from now, so that the daemon's clock does not matter.
T0 = datetime.datetime(2031, 3, 1, tzinfo=datetime.timezone.utc)


def rfc3339(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(hours):
    return rfc3339(T0 + hours * HOUR)


def parse_time(text):
    """RFC 3339 as the daemon writes it: UTC, "Z", microseconds when not zero."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def compute(cpu, ram_gb=0, accelerator=False, amount=1):
    return {"type": "compute", "cpu": cpu, "ram_gb": ram_gb, "accelerator": accelerator, "amount": amount}


def storage(tb, storage_type="block"):
    return {"type": "storage", "capacity_tb": tb, "storage_type": storage_type, "storage_class": "warm"}


def reservation(tenant, resources, start=None, end=None, hsn_only=False):
    body = {"tenant": tenant, "resources": resources, "hsn_only": hsn_only}
    if start is not None:
        body["start"] = start
    if end is not None:
        body["end"] = end
    return body


def machine(cabinet, cores, ram_gb, accelerators=0, networks=()):
    body = {"cabinet": cabinet, "cpus": [{"cores": cores, "model": "EPYC", "clock_ghz": 3.0}],
            "ram": [{"size_gb": ram_gb}], "accelerators": [{"model": "H100"}] * accelerators}
    if networks:
        body["networks"] = list(networks)
    return body


def must(response, *statuses):
    assert response.status_code in statuses, f"{response.request.method} {response.request.url}: " \
                                             f"{response.status_code} {response.text}"
    return response.json() if response.content else None


def seed(c):
    """cpu 100, ram_gb 1000, accelerators 4, block 10 TB, object 20 TB; s1 (60 cores) on the hsn fabric.
    t2 may hold at most 50 cores."""
    must(c.put("/v1/datacenters/dc1", {"name": "Amsterdam", "number": 1}), 201)
    must(c.put("/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1}), 201)
    must(c.put("/v1/networks/fabric", {"datacenter": "dc1", "network_type": "data", "hsn": True}), 201)
    must(c.put("/v1/servers/s1", machine("cab1", 60, 600, 2, ["fabric"])), 201)
    must(c.put("/v1/servers/s2", machine("cab1", 40, 400, 2)), 201)
    must(c.put("/v1/disks/d1", {"machine": "server/s1", "capacity_tb": 6}), 201)
    must(c.put("/v1/disks/d2", {"machine": "server/s2", "capacity_tb": 4}), 201)
    must(c.put("/v1/disks/d3", {"machine": "server/s2", "capacity_tb": 20, "storage_type": "object"}), 201)
    must(c.put("/v1/tenants/t1", {"owner": "alice"}), 201)
    must(c.put("/v1/tenants/t2", {"owner": "bob", "constraints": {"cpu": 50}}), 201)


def env_for(redis_server, **extra):
    env = {"REDIS_URL": redis_server.url, "REDIS_PREFIX": "sched:", "PERSIST": "sync", "NODE_ID": "dc-sched"}
    env.update(extra)
    return env


@pytest.fixture
def daemon(redis_server, horaod_factory):
    d = horaod_factory(env=env_for(redis_server), name="dc-sched")
    d.wait_ready()
    return d


def test_capacity_view(daemon):
    c = daemon.client()
    seed(c)
    assert must(c.get("/v1/capacity"), 200) == {"cpu": 100, "ram_gb": 1000, "accelerators": 4, "block_tb": 10,
                                                  "object_tb": 20}
    assert must(c.get("/v1/capacity", params={"hsn_only": "true"}), 200) == {
        "cpu": 60, "ram_gb": 600, "accelerators": 2, "block_tb": 6, "object_tb": 0}
    must(c.put("/v1/maintenances/m1", {"start": at(10), "end": at(20), "reason": "psu", "targets": ["server/s2"]}),
         201)
    assert must(c.get("/v1/capacity", params={"datacenter": "dc1", "at": at(10)}), 200)["cpu"] == 60
    assert must(c.get("/v1/capacity", params={"at": at(20)}), 200)["cpu"] == 100
    r = c.get("/v1/capacity", params={"hsn_only": "maybe"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_query"
    r = c.get("/v1/capacity", params={"datacenter": "nowhere"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_decisions_and_their_refusals(daemon):
    c = daemon.client()
    seed(c)
    # Exactly fits every dimension but cpu (4 cores left), then one unit short in each.
    body = must(c.put("/v1/reservations/all", reservation(
        "t1", [compute(24, 250, True, 4), storage(10), storage(20, "object")], at(0), at(10))), 201)
    assert body["status"] == "accepted" and body["start"] == at(0) and body["end"] == at(10)
    must(c.put("/v1/reservations/four", reservation("t1", [compute(4)], at(9), at(11))), 201)
    assert c.delete("/v1/reservations/four").status_code == 204
    for name, resources in [("cpu", [compute(5)]), ("ram_gb", [compute(1, 1)]),
                            ("accelerators", [compute(1, 0, True)]), ("block_tb", [storage(0.000001)]),
                            ("object_tb", [storage(0.000001, "object")])]:
        r = c.put("/v1/reservations/more", reservation("t1", resources, at(9), at(11)))
        assert r.status_code == 409, (name, r.text)
        error = r.json()["error"]
        assert error["code"] == "insufficient_capacity"
        assert f"{name} short by" in error["message"]
        assert [s["dimension"] for s in error["details"]["shortages"]] == [name]
        assert error["details"]["holders"][0]["key"] == "reservation/all"
    assert c.get("/v1/reservations/more").status_code == 404
    # A window that touches the first one's end fits.
    must(c.put("/v1/reservations/after", reservation("t1", [compute(100)], at(10), at(20))), 201)

    # Tenant constraints come first and name the limit.
    r = c.put("/v1/reservations/greedy", reservation("t2", [compute(51)], at(100), at(101)))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "constraint_exceeded"
    assert "cpu limit 50" in error["message"] and "asked 51" in error["message"]
    assert error["details"] == {"dimension": "cpu", "limit": 50, "asked": 51, "held": 0}

    # Replace lifts the old claim; cancel frees it.
    must(c.put("/v1/reservations/after", reservation("t1", [compute(50)], at(10), at(20))), 200)
    must(c.put("/v1/reservations/beside", reservation("t1", [compute(50)], at(15), at(16))), 201)
    assert c.put("/v1/reservations/third", reservation("t1", [compute(1)], at(15), at(16))).status_code == 409
    assert c.delete("/v1/reservations/beside").status_code == 204
    must(c.put("/v1/reservations/third", reservation("t1", [compute(1)], at(15), at(16))), 201)


def test_earliest_start_found_and_not_found(daemon):
    c = daemon.client()
    seed(c)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    busy_end = now + 5 * HOUR
    must(c.put("/v1/reservations/busy", reservation("t1", [compute(100)], rfc3339(now - HOUR), rfc3339(busy_end))),
         201)
    body = must(c.put("/v1/reservations/later", reservation("t1", [compute(10)])), 201)
    start = parse_time(body["start"])
    # The first of now, now + 1 h, ... that is not before busy's end.
    assert busy_end <= start < busy_end + HOUR, body
    assert "end" not in body
    # Nothing is left for ever from busy's end on: no start within the planning window.
    must(c.put("/v1/reservations/rest", reservation("t1", [compute(90)], rfc3339(busy_end))), 201)
    r = c.put("/v1/reservations/none", reservation("t1", [compute(1)]))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "insufficient_capacity"
    assert "no start" in r.json()["error"]["message"]


def test_impact_and_usage(daemon):
    c = daemon.client()
    seed(c)
    must(c.put("/v1/reservations/a", reservation("t1", [compute(50)], at(0), at(10))), 201)
    must(c.put("/v1/reservations/b", reservation("t2", [compute(40)], at(0), at(10))), 201)
    window = {"start": at(5), "end": at(6), "reason": "firmware", "targets": ["server/s2"]}
    expected = {"reservations": [{"id": "b", "tenant": "t2", "short": {"cpu": 30}}], "tenants": ["t2"]}
    seq = c.get("/v1/cluster").json()["seq"]
    assert must(c.post("/v1/impact", window), 200) == expected
    assert c.get("/v1/cluster").json()["seq"] == seq  # a dry run writes nothing
    usage = must(c.get("/v1/tenants/t2/usage", params={"at": at(5)}), 200)
    assert usage["usage"]["cpu"] == 40 and usage["reservations"] == ["b"]
    assert usage["constraints"] == {"cpu": 50}

    must(c.put("/v1/maintenances/m1", window), 201)
    assert must(c.get("/v1/maintenances/m1/impact"), 200) == expected
    b = must(c.get("/v1/reservations/b"), 200)
    assert b["status"] == "conflicted"
    assert b["conflict"] == "insufficient_capacity: cpu short by 30"
    assert must(c.get("/v1/tenants/t2/usage", params={"at": at(5)}), 200)["usage"]["cpu"] == 0
    assert c.get("/v1/maintenances/nope/impact").status_code == 404
    assert c.get("/v1/tenants/nope/usage").status_code == 404


@pytest.mark.parametrize("how", ["sigterm", "kill -9"])
def test_statuses_survive_a_restart(redis_server, horaod_factory, how):
    first = horaod_factory(env=env_for(redis_server), name="dc-sched")
    first.wait_ready()
    c = first.client()
    seed(c)
    must(c.put("/v1/reservations/old", reservation("t1", [compute(50)], at(0), at(10))), 201)
    must(c.put("/v1/reservations/new", reservation("t2", [compute(40)], at(0), at(10))), 201)
    must(c.put("/v1/maintenances/m1", {"start": at(5), "end": at(6), "reason": "x", "targets": ["server/s2"]}),
         201)
    before = {rid: must(c.get(f"/v1/reservations/{rid}"), 200) for rid in ("old", "new")}
    assert before["old"]["status"] == "accepted"
    assert before["new"]["status"] == "conflicted"
    capacity = must(c.get("/v1/capacity", params={"at": at(5)}), 200)
    if how == "sigterm":
        assert first.stop() == 0
    else:
        first.kill()  # PERSIST=sync: everything answered is in Redis

    second = horaod_factory(env=env_for(redis_server), name="dc-sched")
    second.wait_ready()
    c2 = second.client()
    for rid in ("old", "new"):
        after = must(c2.get(f"/v1/reservations/{rid}"), 200)
        assert after["status"] == before[rid]["status"]
        assert after.get("conflict") == before[rid].get("conflict")
    assert must(c2.get("/v1/capacity", params={"at": at(5)}), 200) == capacity
    conflicted = must(c2.get("/v1/reservations", params={"status": "conflicted"}), 200)["items"]
    assert [r["id"] for r in conflicted] == ["new"]
    # The recovered claims count in new decisions: 50 of 100 are held in [0, 10).
    r = c2.put("/v1/reservations/third", reservation("t1", [compute(51)], at(1), at(2)))
    assert r.status_code == 409, r.text
    assert "reservation/old" in r.json()["error"]["message"]
    must(c2.put("/v1/reservations/third", reservation("t1", [compute(50)], at(1), at(2))), 201)
    # What recovery brought back keeps following changes, in creation order:
    # without m1, `new` (created before the restart) is admitted again and
    # `third` (created after it) no longer fits.
    assert c2.delete("/v1/maintenances/m1").status_code == 204
    assert must(c2.get("/v1/reservations/new"), 200)["status"] == "accepted"
    third = must(c2.get("/v1/reservations/third"), 200)
    assert third["status"] == "conflicted"
    assert third["conflict"] == "insufficient_capacity: cpu short by 40"


def _token_file(directory, lines):
    path = os.path.join(directory, "tokens")
    with open(path, "w") as f:
        for token, rest in lines:
            f.write(f"{hashlib.sha256(token.encode()).hexdigest()} {rest}\n")
    return path


def test_roles_on_the_scheduling_routes(redis_server, horaod_factory, tmp_path):
    tokens = _token_file(str(tmp_path), [("adm", "admin"), ("rd", "reader"), ("one", "tenant t1"),
                                         ("two", "tenant t2")])
    d = horaod_factory(env=env_for(redis_server, API_TOKENS_FILE=tokens), name="dc-sched")
    d.wait_ready()
    admin, reader, t1, t2 = (d.client(token=t) for t in ("adm", "rd", "one", "two"))
    seed(admin)
    must(admin.put("/v1/reservations/a", reservation("t1", [compute(60)], at(0), at(10))), 201)
    must(admin.put("/v1/reservations/c", reservation("t1", [compute(60)], at(20), at(30))), 201)
    window = {"start": at(5), "end": at(6), "reason": "x", "targets": ["server/s1"]}
    # The dry run before the window exists, then the stored window's report:
    # the same, as each role may see it.
    dry_runs = {client: must(client.post("/v1/impact", window), 200) for client in (admin, reader, t1, t2)}
    must(admin.put("/v1/maintenances/m1", window), 201)

    assert d.client().get("/v1/capacity").status_code == 401
    for client in (admin, reader, t1, t2):
        assert must(client.get("/v1/capacity"), 200)["cpu"] == 100
        report = must(client.get("/v1/maintenances/m1/impact"), 200)
        mine = client is not t2
        assert [r["id"] for r in report["reservations"]] == (["a"] if mine else [])
        assert report["tenants"] == (["t1"] if mine else [])
        assert dry_runs[client] == report
    assert admin.get("/v1/tenants/t1/usage").status_code == 200
    assert t1.get("/v1/tenants/t1/usage").status_code == 200
    assert reader.get("/v1/tenants/t1/usage").status_code == 403
    assert t2.get("/v1/tenants/t1/usage").status_code == 403
    # A tenant's refusal does not name another tenant's reservation (c holds 60 then).
    r = t2.put("/v1/reservations/b", reservation("t2", [compute(41)], at(20), at(21)))
    assert r.status_code == 409, r.text
    assert "reservation/c" not in r.text and "t1" not in r.json()["error"]["message"]
    assert r.json()["error"]["details"]["others"] == {"reservations": 1, "amount": 60}
    r = admin.put("/v1/reservations/b", reservation("t2", [compute(41)], at(20), at(21)))
    assert r.status_code == 409 and "reservation/c" in r.text
