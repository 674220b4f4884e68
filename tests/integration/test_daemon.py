"""The daemon's outer shell: health endpoints, HTTP session behaviour (limits,
pipelining, malformed input, upgrades), logging, configuration errors, and
the process lifecycle (signals, drain, binding failures, TLS)."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest
import requests

from horao_harness import free_port, horaod_path, source_dir, wait_until

CONFIG_ERROR = 2


# ---- a raw HTTP/1.1 connection, for what requests hides -----------------------


class Raw:
    def __init__(self, port, timeout=15.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def response(self):
        """(status, headers with lower-case names, body bytes) of the next response."""
        status_line = self.reader.readline()
        if not status_line:
            raise EOFError("connection closed before a response")
        version, status = status_line.split(b" ", 2)[:2]
        headers = {}
        while True:
            line = self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        headers[":version"] = version.decode()
        body = self.reader.read(int(headers.get("content-length", "0")))
        return int(status), headers, body

    def wait_closed(self):
        """Blocks until the server closes; fails on a timeout or on unexpected bytes."""
        try:
            data = self.reader.read(1)
        except ConnectionResetError:
            return
        assert data == b"", f"expected the server to close, got {data!r}"

    def close(self):
        self.reader.close()
        self.sock.close()


def request_bytes(method, path, headers=None, body=b"", version="HTTP/1.1"):
    lines = [f"{method} {path} {version}", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def error_code(body):
    return json.loads(body)["error"]["code"]


# ---- health, readiness, metrics ---------------------------------------------------


def test_healthz_answers_ok_with_server_and_length_headers(horaod):
    r = requests.get(horaod.url("/healthz"), timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["Server"] == "horaod"
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content)


def test_readyz_is_200_once_started(horaod):
    r = requests.get(horaod.url("/readyz"), timeout=10)
    assert r.status_code == 200, r.text


SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
                    r'(-?[0-9.]+(e[-+]?[0-9]+)?|[-+]Inf|NaN)$')


def test_metrics_is_prometheus_text(horaod):
    assert requests.get(horaod.url("/healthz"), timeout=10).status_code == 200
    r = requests.get(horaod.url("/metrics"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = [line for line in r.text.splitlines() if line]
    assert lines
    for line in lines:
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* ", line), line
        else:
            assert SAMPLE.match(line), f"not a Prometheus sample: {line!r}"
    assert "# TYPE horao_http_requests_total counter" in r.text
    assert re.search(r'^horao_http_requests_total\{[^}]*route="/healthz"[^}]*\} [1-9]', r.text, re.M), r.text
    assert re.search(r'^horao_build_info\{version="[^"]+",node="horaod"\} 1$', r.text, re.M), r.text


# ---- the HTTP session ---------------------------------------------------------------


def test_keep_alive_and_pipelined_requests_are_answered_in_order(horaod):
    conn = Raw(horaod.port)
    try:
        conn.send(request_bytes("GET", "/healthz"))
        status, headers, body = conn.response()
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert headers.get("connection", "").lower() != "close"
        # Three requests in one write: three answers, in the order asked.
        conn.send(request_bytes("GET", "/readyz") + request_bytes("GET", "/no/such/route") +
                  request_bytes("GET", "/healthz"))
        answers = [conn.response() for _ in range(3)]
        assert [a[0] for a in answers] == [200, 404, 200]
        assert json.loads(answers[0][2])["status"] == "ready"
        assert error_code(answers[1][2]) == "unknown_collection"
        assert json.loads(answers[2][2]) == {"status": "ok"}
        for _, headers, body in answers:
            assert headers["server"] == "horaod"
            assert int(headers["content-length"]) == len(body)
    finally:
        conn.close()


def test_http_1_0_request_is_answered_and_closed(horaod):
    conn = Raw(horaod.port)
    try:
        conn.send(b"GET /healthz HTTP/1.0\r\n\r\n")
        status, headers, body = conn.response()
        assert status == 200 and headers[":version"] == "HTTP/1.0"
        assert json.loads(body) == {"status": "ok"}
        conn.wait_closed()
    finally:
        conn.close()


def test_body_over_max_body_bytes_gets_413(horaod_factory):
    daemon = horaod_factory(env={"MAX_BODY_BYTES": "1024"})
    body = json.dumps({"name": "x" * 2000, "number": 1})
    r = requests.put(daemon.url("/v1/datacenters/dc-big"), data=body,
                     headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"
    assert "MAX_BODY_BYTES" in r.json()["error"]["message"]
    # Nothing was stored, and the daemon serves on.
    assert requests.get(daemon.url("/v1/datacenters/dc-big"), timeout=10).status_code == 404


def test_large_body_is_refused_and_the_answer_still_arrives(horaod):
    # 3 MiB against the default 1 MiB: the client is still sending when the
    # 413 is written, and must still get it.
    r = requests.put(horaod.url("/v1/datacenters/dc-big"), data=b"{" + b" " * (3 << 20) + b"}",
                     headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large"


def test_expect_100_continue(horaod_factory):
    daemon = horaod_factory(env={"MAX_BODY_BYTES": "1024"})
    # Too large: refused before the client sends the body.
    conn = Raw(daemon.port)
    try:
        conn.send(request_bytes("PUT", "/v1/datacenters/dc-x",
                                {"Content-Type": "application/json", "Content-Length": "5000",
                                 "Expect": "100-continue"}))
        status, _, body = conn.response()
        assert status == 413 and error_code(body) == "body_too_large"
    finally:
        conn.close()
    # Small enough: 100 Continue, then the body, then the answer.
    conn = Raw(daemon.port)
    try:
        payload = json.dumps({"name": "Amsterdam", "number": 1}).encode()
        conn.send(request_bytes("PUT", "/v1/datacenters/dc-x",
                                {"Content-Type": "application/json", "Content-Length": str(len(payload)),
                                 "Expect": "100-continue"}))
        status, _, _ = conn.response()
        assert status == 100
        conn.send(payload)
        status, _, body = conn.response()
        assert status == 201, body
        assert json.loads(body)["id"] == "dc-x"
    finally:
        conn.close()


def test_chunked_body_over_the_limit_gets_413(horaod_factory):
    daemon = horaod_factory(env={"MAX_BODY_BYTES": "1024"})
    conn = Raw(daemon.port)
    try:
        chunk = b"x" * 800
        conn.send(request_bytes("PUT", "/v1/datacenters/dc-x",
                                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}) +
                  b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2 + b"0\r\n\r\n")
        status, headers, body = conn.response()
        assert status == 413 and error_code(body) == "body_too_large"
        assert headers["connection"].lower() == "close"
    finally:
        conn.close()


@pytest.mark.parametrize("garbage", [
    b"NOT-HTTP\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",            # header without ':'
    b"GET /healthz HTTP/9.9\r\n\r\n",                              # no such version
    b"PUT /v1/x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",        # bad length
])
def test_malformed_request_gets_400_then_close(horaod, garbage):
    conn = Raw(horaod.port)
    try:
        conn.send(garbage)
        status, headers, body = conn.response()
        assert status == 400
        assert error_code(body) == "bad_request"
        assert headers["connection"].lower() == "close"
        conn.wait_closed()
    finally:
        conn.close()
    assert requests.get(horaod.url("/healthz"), timeout=10).status_code == 200


def test_header_over_16_kib_gets_431(horaod):
    conn = Raw(horaod.port)
    try:
        conn.send(request_bytes("GET", "/healthz", {"X-Filler": "a" * (17 * 1024)}))
        status, _, body = conn.response()
        assert status == 431
        assert error_code(body) == "header_too_large"
        conn.wait_closed()
    finally:
        conn.close()


def test_websocket_upgrade_to_a_path_without_handler_gets_404(horaod):
    conn = Raw(horaod.port)
    try:
        conn.send(request_bytes("GET", "/v1/no-such-socket", {
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}))
        status, _, body = conn.response()
        assert status == 404
        assert error_code(body) == "unknown_collection"
    finally:
        conn.close()


def test_a_started_request_has_a_deadline(horaod):
    # Half a request, then silence: the daemon must not wait forever (10 s).
    conn = Raw(horaod.port, timeout=30)
    try:
        started = time.monotonic()
        conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        conn.wait_closed()
        assert time.monotonic() - started < 25
    finally:
        conn.close()
    assert requests.get(horaod.url("/healthz"), timeout=10).status_code == 200


# ---- logging ----------------------------------------------------------------------------


def test_json_logs_one_object_per_line_without_secrets(horaod_factory):
    daemon = horaod_factory(env={"LOG_FORMAT": "json", "LOG_LEVEL": "debug", "PEER_SECRET": "sekrit-value-42"})
    r = requests.get(daemon.url("/healthz"), headers={"Authorization": "Bearer tok-abc-123"}, timeout=10)
    assert r.status_code == 200
    # The query string is not logged (it may carry anything).
    assert requests.get(daemon.url("/v1/datacenters?limit=7"), timeout=10).status_code == 200
    assert daemon.stop() == 0
    events = []
    for line in daemon.log().splitlines():
        if line.strip():
            event = json.loads(line)
            assert {"ts", "level", "msg"} <= event.keys(), line
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", event["ts"]), line
            events.append(event)
    requests_logged = [e for e in events if e["msg"] == "request" and e.get("path") == "/healthz"]
    assert requests_logged, events
    assert requests_logged[0]["method"] == "GET" and requests_logged[0]["status"] == 200
    assert isinstance(requests_logged[0]["ms"], (int, float))
    config = next(e for e in events if e["msg"] == "configuration")
    assert config["PEER_SECRET"] == "********" and config["NODE_ID"] == "horaod"
    assert any(e["level"] == "warn" and "IN-MEMORY STORE" in e["msg"] for e in events)
    text = daemon.log()
    assert "sekrit-value-42" not in text and "tok-abc-123" not in text and "limit=7" not in text


def test_text_log_names_version_node_and_address(horaod):
    assert horaod.stop() == 0
    log = horaod.log()
    assert re.search(r"horaod starting version=\S+ node=horaod", log), log
    assert f"listening address=127.0.0.1:{horaod.port}" in log
    assert "IN-MEMORY STORE" in log


# ---- lifecycle -------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_gracefully_with_status_0(horaod, signum):
    assert horaod.stop(signum) == 0
    log = horaod.log()
    assert "shutting down" in log and "stopped exit_status=0" in log


def test_idle_keep_alive_connection_is_closed_at_stop(horaod):
    conn = Raw(horaod.port)
    try:
        conn.send(request_bytes("GET", "/healthz"))
        assert conn.response()[0] == 200
        started = time.monotonic()
        horaod.send_signal(signal.SIGTERM)
        conn.wait_closed()
        assert horaod.wait_exit() == 0
        # Closed at once, not after the 10 s drain deadline.
        assert time.monotonic() - started < 8
    finally:
        conn.close()


def _listener_closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def test_request_in_flight_at_sigterm_completes(horaod):
    payload = json.dumps({"name": "Drain", "number": 7}).encode()
    conn = Raw(horaod.port)
    try:
        # The 100 Continue proves the daemon is inside this request.
        conn.send(request_bytes("PUT", "/v1/datacenters/dc-drain",
                                {"Content-Type": "application/json", "Content-Length": str(len(payload)),
                                 "Expect": "100-continue"}))
        assert conn.response()[0] == 100
        horaod.send_signal(signal.SIGTERM)
        horaod.wait_for_log("shutting down")
        wait_until(lambda: _listener_closed(horaod.port), 10, "the listener to close")
        assert horaod.running(), "the daemon must wait for the request in progress"
        conn.send(payload)
        status, headers, body = conn.response()
        assert status == 201, body
        assert json.loads(body)["id"] == "dc-drain"
        assert headers["connection"].lower() == "close"
        conn.wait_closed()
    finally:
        conn.close()
    assert horaod.wait_exit() == 0


def test_port_in_use_exits_non_zero_naming_the_address(horaod_factory):
    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        daemon = horaod_factory(env={"PORT": str(port)}, start=False)
        status, output = daemon.run_to_exit()
    assert status not in (0, None)
    assert f"127.0.0.1:{port}" in output
    assert "cannot listen" in output


@pytest.mark.parametrize("env,args,expected", [
    ({"SYNC_DELTA": "abc"}, [], ['SYNC_DELTA: expected a whole number of seconds >= 0', 'got "abc"']),
    ({}, ["--port=0"], ["PORT: expected a port number from 1 to 65535", "--port"]),
    ({}, ["--log-level", "loud"], ["LOG_LEVEL: expected one of"]),
    ({}, ["--sync-detla=5"], ["unknown flag --sync-detla", "did you mean --sync-delta?"]),
    ({"PEERS": "ws://peer:8080"}, [], ["PEER_SECRET: required when PEERS is set"]),
    ({}, ["--env-file", "/nonexistent/horao.env"], ["--env-file: cannot read"]),
])
def test_bad_configuration_exits_2_naming_the_key(horaod_factory, env, args, expected):
    daemon = horaod_factory(env=env, args=args, start=False)
    status, output = daemon.run_to_exit()
    assert status == CONFIG_ERROR, output
    for text in expected:
        assert text in output


def test_unknown_key_in_dotenv_exits_2(horaod_factory, tmp_path):
    (tmp_path / ".env").write_text("# typo below\nSYNC_DETLA=60\n")
    daemon = horaod_factory(start=False, workdir=str(tmp_path))
    status, output = daemon.run_to_exit()
    assert status == CONFIG_ERROR
    assert "SYNC_DETLA: unknown key" in output and ".env line 2" in output


def test_dotenv_in_working_directory_is_read_below_environment(horaod_factory, tmp_path):
    (tmp_path / ".env").write_text("NODE_ID=from-dotenv\nSYNC_MAX=5\n")
    daemon = horaod_factory(env={"SYNC_MAX": "6"}, workdir=str(tmp_path))
    # NODE_ID comes from the harness's environment, SYNC_MAX too: both beat .env.
    assert daemon.stop() == 0
    log = daemon.log()
    assert "SYNC_MAX=6" in log and "NODE_ID=horaod" in log


def test_non_loopback_listen_without_tokens_is_refused(horaod_factory):
    daemon = horaod_factory(env={"LISTEN": "0.0.0.0"}, start=False)
    status, output = daemon.run_to_exit()
    assert status == CONFIG_ERROR
    assert "refusing to listen on 0.0.0.0 without API_TOKENS_FILE" in output
    assert "ALLOW_OPEN=true" in output


def test_non_loopback_listen_with_allow_open_serves(horaod_factory):
    daemon = horaod_factory(env={"LISTEN": "0.0.0.0", "ALLOW_OPEN": "true"})
    assert requests.get(daemon.url("/healthz"), timeout=10).json() == {"status": "ok"}


# ---- configuration documentation --------------------------------------------------------


def _run(args, env=None, cwd=None):
    return subprocess.run([horaod_path(), *args], capture_output=True, text=True, timeout=30, cwd=cwd,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})})


def _effective(output):
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


def test_help_and_examples_list_every_key(tmp_path):
    result = _run(["--check-config"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    keys = _effective(result.stdout).keys()
    assert "SYNC_DELTA" in keys and "REDIS_TIMEOUT_MS" in keys and len(keys) >= 20

    help_result = _run(["--help"], cwd=tmp_path)
    assert help_result.returncode == 0
    with open(os.path.join(source_dir(), ".env.example")) as f:
        example = f.read()
    with open(os.path.join(source_dir(), "config", "horaod.env")) as f:
        production = f.read()
    for key in keys:
        flag = "--" + key.lower().replace("_", "-")
        assert key in help_result.stdout and flag in help_result.stdout, key
        assert re.search(rf"^{key}=", example, re.M), f"{key} missing from .env.example"
        assert re.search(rf"^#? ?{key}=", production, re.M), f"{key} missing from config/horaod.env"


def test_env_example_is_valid_and_holds_the_defaults(tmp_path):
    defaults = _run(["--check-config"], cwd=tmp_path)
    example = _run(["--check-config", "--env-file", os.path.join(source_dir(), ".env.example")], cwd=tmp_path)
    assert example.returncode == 0, example.stderr
    assert _effective(example.stdout) == _effective(defaults.stdout)


def test_production_example_is_valid(tmp_path):
    result = _run(["--check-config", "--env-file", os.path.join(source_dir(), "config", "horaod.env")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _effective(result.stdout)["PERSIST"] == "sync"


# ---- TLS ---------------------------------------------------------------------------------


def test_tls_serves_https_only(horaod_factory, certificate):
    cert, key = certificate
    daemon = horaod_factory(env={"TLS_CERT": cert, "TLS_KEY": key}, tls_ca=cert)
    r = daemon.client().get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Server"] == "horaod"
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{daemon.port}/healthz", timeout=5)
    assert daemon.stop() == 0


def test_tls_key_that_is_not_a_key_exits_2(horaod_factory, certificate, tmp_path):
    cert, _ = certificate
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a key\n")
    daemon = horaod_factory(env={"TLS_CERT": cert, "TLS_KEY": str(bogus)}, start=False)
    status, output = daemon.run_to_exit()
    assert status == CONFIG_ERROR
    assert "TLS_KEY: expected the PEM private key" in output
