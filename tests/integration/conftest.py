"""pytest fixtures over horao_harness: processes started through them are
cleaned up after the test, and their logs are shown when the test fails."""

import shutil
import subprocess

import pytest

from horao_harness import Horaod, RedisServer


def _track(request, process):
    processes = getattr(request.node, "_horao_processes", None)
    if processes is None:
        processes = request.node._horao_processes = []
    processes.append(process)
    return process


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for process in getattr(item, "_horao_processes", []):
            report.sections.append((f"{process.name} log ({process.log_path})", process.log_tail()))


@pytest.fixture
def redis_server(request):
    """A running redis-server on a free port (AOF on, temporary data dir)."""
    server = _track(request, RedisServer())
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def horaod_factory(request):
    """make(env=None, args=(), name="horaod", start=True, **kw) -> Horaod.
    With start=True it waits for /healthz; otherwise the caller spawns it."""
    made = []

    def make(env=None, args=(), name="horaod", start=True, **kwargs):
        daemon = _track(request, Horaod(env=env, args=args, name=name, **kwargs))
        made.append(daemon)
        if start:
            daemon.start()
        return daemon

    yield make
    for daemon in made:
        daemon.cleanup()


@pytest.fixture
def horaod(horaod_factory):
    """One running horaod with the default configuration (in-memory store)."""
    return horaod_factory()


@pytest.fixture
def certificate(tmp_path):
    """(cert, key): a self-signed certificate for 127.0.0.1, usable as TLS_CERT
    and TLS_KEY and, since it is its own issuer, as the trust anchor too."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)
