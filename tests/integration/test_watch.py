"""GET /v1/watch against a real horaod: replay from `since`, live changes,
the kind filter, refusals before the upgrade, tokens, a watcher too slow to
keep up (closed with the reason, memory bounded, the daemon serving on),
and SIGTERM closing watchers. Every wait polls with a deadline.

websockets is Debian's python3-websockets (10.4, the asyncio client)."""

import asyncio
import hashlib
import json
import re
import signal
import ssl
import time

import pytest
import requests
import websockets
import websockets.exceptions

from horao_harness import wait_until

DEADLINE = 15.0  # seconds for anything the daemon should do promptly
MAX_MESSAGE = 16 << 20

UPGRADE_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def ws_url(daemon, query=""):
    scheme = "wss" if daemon.tls_ca else "ws"
    return f"{scheme}://127.0.0.1:{daemon.port}/v1/watch" + (f"?{query}" if query else "")


def connect(daemon, query="", token=None, **kwargs):
    if daemon.tls_ca:
        kwargs.setdefault("ssl", ssl.create_default_context(cafile=daemon.tls_ca))
    headers = {"Authorization": f"Bearer {token}"} if token else None
    kwargs.setdefault("max_size", MAX_MESSAGE)
    kwargs.setdefault("open_timeout", DEADLINE)
    return websockets.connect(ws_url(daemon, query), extra_headers=headers, compression=None, **kwargs)


async def receive_json(ws, timeout=DEADLINE):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def receive_until(ws, predicate, timeout=DEADLINE):
    """Messages up to and including the first for which predicate(item) holds."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching message within {timeout}s; got {[m['key'] for m in seen]}")
        item = await receive_json(ws, left)
        seen.append(item)
        if predicate(item):
            return seen


def changes(client, since, limit=1000):
    r = client.get(f"/v1/changes?since={since}&limit={limit}")
    assert r.status_code == 200, r.text
    return r.json()["changes"]


def seq_now(client):
    r = client.get("/v1/cluster")
    assert r.status_code == 200, r.text
    return r.json()["seq"]


def seed(client):
    assert client.put("/v1/datacenters/dc1", {"name": "Amsterdam", "number": 1}).status_code == 201
    assert client.put("/v1/cabinets/cab1", {"datacenter": "dc1", "row": 1, "position": 1}).status_code == 201
    assert client.put("/v1/servers/s1", {"cabinet": "cab1"}).status_code == 201
    assert client.put("/v1/tenants/t1", {"owner": "alice"}).status_code == 201


def metric(daemon, name):
    text = requests.get(daemon.url("/metrics"), timeout=5).text
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def close_of(exc):
    """(code, reason) of the close frame the daemon sent."""
    rcvd = exc.rcvd
    return (rcvd.code, rcvd.reason) if rcvd else (None, None)


def test_replay_from_since_then_live_changes_in_the_shape_of_changes_items(horaod):
    client = horaod.client()
    seed(client)
    assert client.patch("/v1/servers/s1", {"model": "R6625"}).status_code == 200

    async def run():
        async with connect(horaod, "since=1") as ws:
            expected = changes(client, 1)
            replayed = [await receive_json(ws) for _ in expected]
            assert replayed == expected  # coalesced per key, exactly the items of /v1/changes
            before = seq_now(client)
            assert client.put("/v1/servers/s2", {"cabinet": "cab1"}).status_code == 201
            assert client.delete("/v1/servers/s2").status_code == 204
            live = [await receive_json(ws), await receive_json(ws)]
            assert [i["deleted"] for i in live] == [False, True]
            assert live[0]["resource"]["id"] == "s2" and live[1]["resource"] is None
            assert live[0]["seq"] == before + 1 and live[1]["seq"] == before + 2
            # Live changes are not coalesced (/v1/changes now shows only the
            # deletion); each is exactly the item /v1/changes showed for it.
            assert live[1] == changes(client, before)[0]

    asyncio.run(run())


def test_without_since_only_changes_from_now_on(horaod):
    client = horaod.client()
    seed(client)

    async def run():
        async with connect(horaod) as ws:
            assert client.put("/v1/datacenters/dc2", {"name": "B", "number": 2}).status_code == 201
            item = await receive_json(ws)
            assert item["key"] == "datacenter/dc2"
        upgraded = 'horao_http_requests_total{route="/v1/watch",method="GET",status="101"}'
        assert metric(horaod, upgraded) == 1

    asyncio.run(run())


def test_kind_filter(horaod):
    client = horaod.client()
    seed(client)

    async def run():
        async with connect(horaod, "since=0&kind=server,tenant") as ws:
            first = [await receive_json(ws) for _ in range(2)]
            assert [i["key"] for i in first] == ["server/s1", "tenant/t1"]
            assert client.put("/v1/datacenters/dc2", {"name": "B", "number": 2}).status_code == 201
            assert client.put("/v1/servers/s2", {"cabinet": "cab1"}).status_code == 201
            # The datacenter written first is not sent.
            assert (await receive_json(ws))["key"] == "server/s2"

    asyncio.run(run())


@pytest.mark.parametrize("query,status,code", [
    ("since=abc", 400, "bad_query"),
    ("since=99999999", 400, "bad_query"),
    ("kind=servers", 400, "bad_query"),
    ("kind=server,,node", 400, "bad_query"),
    ("limit=3", 400, "bad_query"),
])
def test_bad_parameters_are_refused_before_the_upgrade(horaod, query, status, code):
    r = requests.get(ws_url(horaod, query).replace("ws://", "http://"), headers=UPGRADE_HEADERS, timeout=5)
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    assert "Sec-WebSocket-Accept" not in r.headers

    async def run():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
            async with connect(horaod, query):
                pass
        assert refused.value.status_code == status

    asyncio.run(run())
    refusals = f'horao_http_requests_total{{route="/v1/watch",method="GET",status="{status}"}}'
    assert metric(horaod, refusals) == 2


def test_plain_get_is_426_upgrade_required(horaod):
    r = requests.get(horaod.url("/v1/watch"), timeout=5)
    assert r.status_code == 426
    assert r.headers["Upgrade"] == "websocket"
    assert r.json()["error"]["code"] == "upgrade_required"
    assert "/v1/watch" in requests.get(horaod.url("/openapi.json"), timeout=5).json()["paths"]


@pytest.fixture
def secured(horaod_factory, tmp_path):
    tokens = {"admin-secret": "admin", "reader-secret": "reader", "t1-secret": "tenant t1"}
    path = tmp_path / "tokens"
    path.write_text("".join(f"{hashlib.sha256(t.encode()).hexdigest()} {role}\n" for t, role in tokens.items()))
    return horaod_factory(env={"API_TOKENS_FILE": str(path)})


def test_tokens_are_required_when_configured(secured):
    admin = secured.client(token="admin-secret")
    seed(admin)

    async def refused(query, token):
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            async with connect(secured, query, token=token):
                pass
        return e.value.status_code

    async def run():
        assert await refused("", None) == 401
        assert await refused("", "wrong-secret") == 401
        assert await refused("kind=reservation", "reader-secret") == 403
        async with connect(secured, "since=0", token="reader-secret") as ws:
            keys = [(await receive_json(ws))["key"] for _ in range(4)]
            assert keys == ["datacenter/dc1", "cabinet/cab1", "server/s1", "tenant/t1"]
        async with connect(secured, "since=0&kind=tenant", token="t1-secret") as ws:
            assert (await receive_json(ws))["key"] == "tenant/t1"

    asyncio.run(run())
    r = requests.get(secured.url("/v1/watch"), headers=UPGRADE_HEADERS, timeout=5)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


def big_server_body():
    # ~800 KB: 800 accelerators with 1000-character model names.
    return {"cabinet": "cab1", "accelerators": [{"model": chr(97 + i % 26) * 1000} for i in range(800)]}


def test_a_watcher_that_stops_reading_is_closed_and_memory_stays_bounded(horaod):
    client = horaod.client()
    seed(client)
    body = big_server_body()
    writes = 80  # ~64 MB of messages for the watcher that does not read

    async def run():
        loop = asyncio.get_running_loop()

        def put():
            r = client.put("/v1/servers/big", body)
            assert r.status_code in (200, 201), r.text
            return r.json()["meta"]["seq"]

        # The slow watcher: the client library stops reading from the socket
        # once one message waits unread (max_queue=1), so TCP pushes back.
        slow = await connect(horaod, max_queue=1, read_limit=1 << 16, ping_interval=None)
        fast = await connect(horaod, ping_interval=None)
        fast_seen = []

        async def read_fast():
            try:
                while True:
                    fast_seen.append(json.loads(await fast.recv())["seq"])
            except websockets.exceptions.ConnectionClosed:
                pass

        reader = asyncio.create_task(read_fast())
        await loop.run_in_executor(None, put)  # warm up: allocator, buffers
        rss_before = rss_bytes(horaod.pid)

        def put_all():
            seqs = [put() for _ in range(writes)]
            return seqs[-1], rss_bytes(horaod.pid)

        writer = loop.run_in_executor(None, put_all)
        # While the writes go on: the daemon gives up on the slow watcher...
        await loop.run_in_executor(None, lambda: wait_until(
            lambda: (metric(horaod, "horao_watchers_closed_slow_total") or 0) >= 1, 60,
            "horao_watchers_closed_slow_total to count the slow watcher"))
        # ...and when the client reads again it gets what was in flight, then
        # the close frame with the reason (within the daemon's 5 s close wait).
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(slow.recv(), DEADLINE)
        code, reason = close_of(closed.value)
        assert code == 1008
        assert reason.startswith("watcher too slow: ") and "bytes queued" in reason

        last, rss_after = await writer
        # Unbounded buffering would have kept ~64 MB for the slow watcher.
        assert rss_after - rss_before < 40 << 20, (rss_before, rss_after)

        # The daemon serves on, and the watcher that reads got everything.
        assert requests.get(horaod.url("/healthz"), timeout=5).status_code == 200
        await loop.run_in_executor(None, lambda: wait_until(
            lambda: last in fast_seen, DEADLINE, "the fast watcher to receive the last change"))
        assert len(fast_seen) == writes + 1
        assert metric(horaod, "horao_watchers") == 1
        await fast.close()
        await reader

    asyncio.run(run())
    wait_until(lambda: metric(horaod, "horao_watchers") == 0, DEADLINE, "horao_watchers to drop to 0")


def test_sigterm_closes_watchers_and_exits_0(horaod):
    client = horaod.client()
    seed(client)

    async def run():
        watchers = [await connect(horaod, "since=0"), await connect(horaod)]
        assert metric(horaod, "horao_watchers") == 2
        horaod.send_signal(signal.SIGTERM)
        for ws in watchers:
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), DEADLINE)
            assert close_of(closed.value) == (1001, "daemon shutting down")

    asyncio.run(run())
    assert horaod.wait_exit() == 0


def test_watch_over_tls(horaod_factory, certificate):
    cert, key = certificate
    daemon = horaod_factory(env={"TLS_CERT": cert, "TLS_KEY": key}, tls_ca=cert)
    client = daemon.client()
    seed(client)

    async def run():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
            async with connect(daemon, "kind=nonsense"):
                pass
        assert refused.value.status_code == 400
        async with connect(daemon, "since=0&kind=datacenter") as ws:
            assert (await receive_json(ws))["key"] == "datacenter/dc1"
            assert client.put("/v1/datacenters/dc2", {"name": "B", "number": 2}).status_code == 201
            assert (await receive_json(ws))["key"] == "datacenter/dc2"

    asyncio.run(run())
    assert daemon.stop() == 0
