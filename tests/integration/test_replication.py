"""Replication between real horaod processes over loopback WebSockets, with a
real redis-server (docs/replication.md): convergence, forwarding, the sync
rule, pauses, kill -9, bootstrap, authentication."""

import random
import shutil
import subprocess
import threading

import pytest
import requests

from cluster_harness import (SECRET, cluster, connected, get_dc, link, list_all, make_nodes, mesh, metric,
                             peer_row, put_dc, restart, start_all, stays, sync_now, wait_connected,
                             wait_converged, ws_url)
from horao_harness import wait_until


def test_concurrent_writes_on_every_node_converge(horaod_factory, redis_server):
    names = ["rep-a", "rep-b", "rep-c"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, mesh(names))
    start_all(nodes)
    wait_connected([(nodes[n], p) for n in names for p in names if p != n])

    # Each node writes its own resources and, at the same time, the same
    # shared ones: last writer wins, everywhere the same.
    errors = []

    def writer(name, seed):
        rng = random.Random(seed)
        try:
            for i in range(60):
                put_dc(nodes[name], f"{name}-{i}", f"{name} {i}", i)
                shared = f"shared-{rng.randrange(8)}"
                put_dc(nodes[name], shared, f"{name} wrote {shared}", rng.randrange(100))
        except Exception as e:  # reported below, in the main thread
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n, k)) for k, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    wait_converged(list(nodes.values()))
    views = [list_all(nodes[n]) for n in names]
    assert views[0] == views[1] == views[2]
    assert len(views[0]) == 3 * 60 + 8


def test_chain_converges_through_the_middle(horaod_factory, redis_server):
    names = ["chain-a", "chain-b", "chain-c"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    # a and c know only b; b knows nobody: links carry deltas both ways.
    link(nodes, {"chain-a": ["chain-b"], "chain-c": ["chain-b"]})
    start_all(nodes)
    wait_connected([(nodes["chain-b"], "chain-a"), (nodes["chain-b"], "chain-c")])
    for i in range(30):
        put_dc(nodes["chain-a"], f"a-{i}", "from a")
        put_dc(nodes["chain-c"], f"c-{i}", "from c")
    wait_converged(list(nodes.values()), records=60)
    assert get_dc(nodes["chain-c"], "a-7")["name"] == "from a"
    assert get_dc(nodes["chain-a"], "c-7")["name"] == "from c"
    # Not sent back where it came from: b sent a only what c wrote.
    b = nodes["chain-b"]
    wait_until(lambda: peer_row(b, "chain-a")["pending"] == 0, 30, "b's cursor for a to catch up")
    assert metric(b, "horao_peer_records_sent_total", peer="chain-a") == 30


def test_sync_rule_five_writes_stay_local_the_sixth_pushes(horaod_factory, redis_server):
    names = ["rule-a", "rule-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server,
                       per_node={"rule-a": {"SYNC_DELTA": "3600", "SYNC_MAX": "5"}})
    link(nodes, {"rule-a": ["rule-b"]})
    start_all(nodes)
    a, b = nodes["rule-a"], nodes["rule-b"]
    wait_connected([(a, "rule-b"), (b, "rule-a")])
    empty = cluster(b)["digest"]
    for i in range(5):
        put_dc(a, f"r-{i}", "r")
    wait_until(lambda: peer_row(a, "rule-b")["pending"] == 5, 10, "a to count 5 pending")
    stays(lambda: cluster(b)["records"] == 0, 1.5, "b must not receive anything before the sixth write")
    assert metric(a, "horao_peer_pushes_total", peer="rule-b") == 0
    put_dc(a, "r-5", "r")
    wait_converged([a, b], records=6)
    assert metric(a, "horao_peer_pushes_total", peer="rule-b") == 1
    assert cluster(b)["digest"] != empty

    # A seventh stays local until POST /v1/cluster/sync.
    put_dc(a, "r-6", "r")
    stays(lambda: cluster(b)["records"] == 6, 1.0, "the seventh write must wait for the rule")
    sync_now(a)
    wait_converged([a, b], records=7)
    row = peer_row(a, "rule-b")
    assert row["last_push"] is not None and row["last_error"] is None


def test_sync_delta_time_branch(horaod_factory, redis_server):
    names = ["delta-a", "delta-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server,
                       per_node={"delta-a": {"SYNC_DELTA": "2", "SYNC_MAX": "1000"}})
    link(nodes, {"delta-a": ["delta-b"]})
    start_all(nodes)
    a, b = nodes["delta-a"], nodes["delta-b"]
    wait_connected([(a, "delta-b")])
    put_dc(a, "t-1", "t")
    # Within SYNC_DELTA of the link's start nothing moves; after it, it does.
    wait_converged([a, b], records=1, timeout=30)


def test_paused_peer_catches_up_after_sigcont(horaod_factory, redis_server):
    names = ["stop-a", "stop-b", "stop-c"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, mesh(names))
    start_all(nodes)
    wait_connected([(nodes[n], p) for n in names for p in names if p != n])
    c = nodes["stop-c"]
    c.pause()
    try:
        for i in range(200):
            put_dc(nodes["stop-a" if i % 2 else "stop-b"], f"p-{i}", f"written while c sleeps {i}")
        wait_converged([nodes["stop-a"], nodes["stop-b"]], records=200)
    finally:
        c.resume()
    wait_converged(list(nodes.values()), records=200)


def test_kill9_and_restart_resumes_without_a_full_transfer(horaod_factory, redis_server):
    names = ["kill-a", "kill-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, {"kill-b": ["kill-a"]})
    start_all(nodes)
    a, b = nodes["kill-a"], nodes["kill-b"]
    wait_connected([(a, "kill-b"), (b, "kill-a")])
    for i in range(300):
        put_dc(a, f"k-{i}", f"before {i}")
    wait_converged([a, b], records=300)
    wait_until(lambda: peer_row(a, "kill-b")["acked_seq"] == cluster(a)["seq"], 30, "a's cursor for b")
    # Both sides' records of what they hold of the other's log are in Redis
    # before the kill (b's log holds only a's changes: an empty delta moves
    # a's cursor for it once the link is quiet).
    seq_a, seq_b = cluster(a)["seq"], cluster(b)["seq"]
    wait_until(lambda: redis_server.command("HGET", "horao:kill-b:peers", "recv:kill-a") == str(seq_a), 30,
               "b's received cursor to be persisted")
    wait_until(lambda: redis_server.command("HGET", "horao:kill-a:peers", "recv:kill-b") == str(seq_b), 30,
               "a's received cursor to be persisted")
    sent_before = metric(a, "horao_peer_records_sent_total", peer="kill-b")
    assert sent_before == 300
    b.kill()
    for i in range(20):
        put_dc(a, f"k-new-{i}", "while b is dead")
    restart(b)
    wait_converged([a, b], records=320)
    wait_until(lambda: peer_row(a, "kill-b")["pending"] == 0, 30, "a's cursor for b after the restart")
    # Only the 20 new records crossed, and no full transfer happened.
    assert metric(a, "horao_peer_records_sent_total", peer="kill-b") == sent_before + 20
    assert metric(a, "horao_peer_full_transfers_total", peer="kill-b") == 0
    assert metric(b, "horao_peer_full_transfers_total", peer="kill-a") == 0
    assert "mode=resume" in b.log().split("horaod starting")[-1]


def test_new_empty_peer_bootstraps(horaod_factory, redis_server):
    names = ["boot-a", "boot-b", "boot-new"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, {"boot-b": ["boot-a"], "boot-new": ["boot-a"]})
    start_all(nodes, ["boot-a", "boot-b"])
    for i in range(400):
        put_dc(nodes["boot-a" if i % 3 else "boot-b"], f"b-{i}", f"old {i}")
    for i in range(0, 400, 10):
        assert requests.delete(nodes["boot-a"].url(f"/v1/datacenters/b-{i}"), timeout=10).status_code == 204
    wait_converged([nodes["boot-a"], nodes["boot-b"]])
    nodes["boot-new"].start(ready=True)
    wait_converged(list(nodes.values()))
    assert len(list_all(nodes["boot-new"])) == 360
    # And the new one's writes reach the others (its link carries both ways).
    put_dc(nodes["boot-new"], "from-new", "hello")
    wait_until(lambda: get_dc(nodes["boot-b"], "from-new") is not None, 30, "the new node's write to reach b")


def test_equal_states_exchange_no_records(horaod_factory, redis_server):
    names = ["eq-a", "eq-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server)
    link(nodes, {"eq-b": ["eq-a"]})
    start_all(nodes)
    a, b = nodes["eq-a"], nodes["eq-b"]
    for i in range(100):
        put_dc(a, f"e-{i}", "e")
    wait_converged([a, b], records=100)
    # b forgets its cursors (what docs/replication.md says to do after a
    # backup restore): a new epoch, no received cursor. Both sides must
    # compare whole states; equal digests settle it without a record.
    sent = metric(a, "horao_peer_records_sent_total", peer="eq-b")
    assert b.stop() == 0
    assert redis_server.command("DEL", "horao:eq-b:peers") == 1
    restart(b)
    wait_connected([(a, "eq-b"), (b, "eq-a")])
    wait_until(lambda: peer_row(a, "eq-b")["pending"] == 0, 30, "a's cursor for b")
    wait_until(lambda: peer_row(b, "eq-a")["pending"] == 0, 30, "b's cursor for a")
    assert metric(a, "horao_peer_records_sent_total", peer="eq-b") == sent
    assert metric(b, "horao_peer_records_sent_total", peer="eq-a") == 0
    # Now b differs in one record and forgets again: only that bucket moves.
    put_dc(b, "e-5", "changed on b")
    wait_converged([a, b], records=100)
    assert b.stop() == 0
    redis_server.command("DEL", "horao:eq-b:peers")
    put_dc(a, "e-77", "changed on a while b is down")
    restart(b)
    wait_converged([a, b], records=100)
    crossed = (metric(a, "horao_peer_records_sent_total", peer="eq-b") - sent) + \
        metric(b, "horao_peer_records_sent_total", peer="eq-a")
    assert 1 <= crossed < 50, f"{crossed} records crossed for one differing record"


def test_wrong_secret_replicates_nothing(horaod_factory, redis_server):
    names = ["sec-a", "sec-b"]
    nodes = make_nodes(horaod_factory, names, redis=redis_server,
                       per_node={"sec-b": {"PEER_SECRET": "another secret"}})
    link(nodes, {"sec-a": ["sec-b"], "sec-b": ["sec-a"]})
    start_all(nodes)
    a, b = nodes["sec-a"], nodes["sec-b"]
    put_dc(a, "only-a", "a")
    put_dc(b, "only-b", "b")
    wait_until(lambda: "401" in (cluster(a)["peers"][0]["last_error"] or ""), 30, "a to report the 401")
    wait_until(lambda: "401" in (cluster(b)["peers"][0]["last_error"] or ""), 30, "b to report the 401")
    stays(lambda: cluster(a)["records"] == 1 and cluster(b)["records"] == 1, 1.0, "nothing may replicate")
    assert not cluster(a)["peers"][0]["connected"]
    assert metric(a, "horao_peer_auth_failures_total", reason="wrong peer token") >= 1
    assert secret_not_shown(a) and secret_not_shown(b)


def secret_not_shown(daemon):
    text = requests.get(daemon.url("/v1/cluster"), timeout=5).text + daemon.log()
    text += requests.get(daemon.url("/metrics"), timeout=5).text
    return SECRET not in text and "another secret" not in text


@pytest.mark.parametrize("headers", [{}, {"X-Horao-Peer-Token": "v1:x:1:00:00"},
                                     {"X-Horao-Peer-Token": "garbage"}])
def test_peer_upgrade_without_a_valid_token_gets_401(horaod_factory, headers):
    d = horaod_factory(env={"PEER_SECRET": SECRET, "NODE_ID": "tok-a"}, name="tok-a")
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    upgrade.update(headers)
    r = requests.get(d.url("/v1/peer"), headers=upgrade, timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert cluster(d)["records"] == 0 and cluster(d)["peers"] == []


def test_inbound_peers_are_refused_without_a_secret(horaod_factory):
    lonely = horaod_factory(env={"NODE_ID": "nosec"}, name="nosec")
    dialer = horaod_factory(env={"PEER_SECRET": SECRET, "PEERS": ws_url(lonely)}, name="dialer")
    wait_until(lambda: "401" in (cluster(dialer)["peers"][0]["last_error"] or ""), 30, "the dialer to see 401")
    assert cluster(lonely)["peers"] == []


def test_wss_with_tls_cert_replicates_and_verifies(horaod_factory, certificate, tmp_path):
    cert, key = certificate
    names = ["tls-a", "tls-b"]
    nodes = {}
    for n in names:
        nodes[n] = horaod_factory(env={"PEER_SECRET": SECRET, "SYNC_MAX": "0", "TLS_CERT": cert, "TLS_KEY": key},
                                  name=n, start=False, tls_ca=cert)
    nodes["tls-b"].env["PEERS"] = f"wss://127.0.0.1:{nodes['tls-a'].port}"
    for n in names:
        nodes[n].start(ready=True)
    a, b = nodes["tls-a"], nodes["tls-b"]

    def tls_cluster(d):
        return requests.get(d.url("/v1/cluster"), verify=cert, timeout=5).json()

    wait_until(lambda: any(p["connected"] for p in tls_cluster(b)["peers"]), 30, "the wss:// link")
    r = requests.put(a.url("/v1/datacenters/secure"), json={"name": "over tls", "number": 1}, verify=cert, timeout=10)
    assert r.status_code == 201
    wait_until(lambda: tls_cluster(b)["records"] == 1, 30, "the record to cross over wss://")
    assert tls_cluster(a)["digest"] == tls_cluster(b)["digest"]

    # A dialer that does not trust the certificate refuses the link.
    other_cert, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
    subprocess.run([shutil.which("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(other_key), "-out", str(other_cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    c = horaod_factory(env={"PEER_SECRET": SECRET, "TLS_CERT": str(other_cert), "TLS_KEY": str(other_key),
                            "PEERS": f"wss://127.0.0.1:{a.port}"}, name="tls-c", tls_ca=str(other_cert))
    wait_until(lambda: "TLS" in (requests.get(c.url("/v1/cluster"), verify=str(other_cert), timeout=5)
                                 .json()["peers"][0]["last_error"] or ""), 30, "c to refuse a's certificate")
    assert tls_cluster(a)["records"] == 1
