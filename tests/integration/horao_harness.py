"""Helpers for HORAO's integration tests: free ports, a real redis-server,
horaod processes, and a small JSON client.

Every wait polls with a deadline; nothing sleeps for luck. Each process
writes its output to a file in its own temporary directory, so a failing
test can show what the daemon said (see conftest.py).

Environment: HORAOD is the path of the built daemon (CTest sets it).
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

START_TIMEOUT = 30.0  # seconds for a process to come up (slow, shared CI machines)
STOP_TIMEOUT = 20.0  # seconds for a graceful stop (the daemon's drain deadline is 10 s)


class HarnessError(AssertionError):
    """A process did not do what the test needed; the message carries its log."""


def wait_until(predicate, timeout, what, interval=0.02):
    """Calls predicate() until it returns something truthy; returns that.
    Raises HarnessError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (the kernel's choice)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def horaod_path():
    path = os.environ.get("HORAOD")
    if not path:
        raise HarnessError("HORAOD is not set: run through ctest, or export HORAOD=/path/to/horaod")
    if not os.access(path, os.X_OK):
        raise HarnessError(f"HORAOD={path} is not an executable file")
    return path


def source_dir():
    """The repository root (CTest sets HORAO_SOURCE_DIR; otherwise from this file)."""
    return os.environ.get("HORAO_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))


def _tail(path, lines=200):
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return "(no log)"


class _Process:
    """A child process whose stdout and stderr go to one log file."""

    def __init__(self, name, workdir=None):
        self.name = name
        self._own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"horao-{name}-")
        self.log_path = os.path.join(self.workdir, f"{name}.log")
        self.proc = None

    def _spawn(self, argv, env):
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """Everything the process wrote so far."""
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, lines=200):
        return _tail(self.log_path, lines)

    def wait_for_log(self, text, timeout=START_TIMEOUT):
        """Waits until `text` appears in the log."""
        return wait_until(lambda: text in self.log(), timeout, f"{self.name} to log {text!r}")

    def send_signal(self, signum):
        if self.running():
            self.proc.send_signal(signum)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{self.name} (pid {self.pid}) did not exit within {timeout:.1f}s\n"
                               f"--- {self.name} log ---\n{self.log_tail()}") from None

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Graceful stop: sends `signum`, waits; returns the exit status."""
        if self.proc is None:
            return None
        self.send_signal(signum)
        return self.wait_exit(timeout)

    def kill(self):
        """kill -9, then reap."""
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        return None

    def pause(self):
        """SIGSTOP: the process keeps its sockets but answers nothing (a cut link)."""
        self.send_signal(signal.SIGSTOP)

    def resume(self):
        self.send_signal(signal.SIGCONT)

    def cleanup(self):
        """Kills what still runs and removes the temporary directory."""
        if self.running():
            self.resume()
            self.kill()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)


class RedisServer(_Process):
    """A real redis-server on a free loopback port, with its data (AOF on) in a
    temporary directory. Restarting keeps the data directory and port.
    `extra_args` are appended to the command line (e.g. ["--appendfsync",
    "always"])."""

    def __init__(self, workdir=None, extra_args=()):
        super().__init__("redis", workdir)
        self.port = None
        self.extra_args = list(extra_args)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout=START_TIMEOUT):
        if self.port is None:
            self.port = free_port()
        argv = [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.workdir, "--appendonly", "yes", "--save", "", "--daemonize", "no",
                "--protected-mode", "yes", *self.extra_args]
        self._spawn(argv, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        wait_until(lambda: self._pong() or self._died(), timeout, f"redis-server on port {self.port} to answer PING")
        if not self.running():
            raise HarnessError(f"redis-server exited with {self.proc.returncode}\n{self.log_tail()}")
        return self

    def _died(self):
        return not self.running()

    def _pong(self):
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False
        except RuntimeError as e:
            # A restarted server answers -LOADING while it replays its AOF:
            # up, not ready yet; any other error is real.
            if "LOADING" in str(e):
                return False
            raise

    def command(self, *args, timeout=5.0):
        """Runs one command over RESP; returns str, int, None, or a list of those."""
        payload = f"*{len(args)}\r\n".encode()
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            payload += b"$%d\r\n%s\r\n" % (len(b), b)
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(payload)
            reader = s.makefile("rb")
            return _read_resp(reader)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def _read_resp(reader):
    line = reader.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(f"redis error: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = reader.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(reader) for _ in range(n)]
    raise OSError(f"unexpected RESP reply {line!r}")


class Horaod(_Process):
    """One horaod process with its own working directory (so no stray ./.env
    is read) and a minimal environment: only what the test gives, plus PATH,
    NODE_ID, LISTEN and a free PORT unless given."""

    def __init__(self, env=None, args=(), name="horaod", workdir=None, tls_ca=None):
        super().__init__(name, workdir)
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_ID": name, "LISTEN": "127.0.0.1"}
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        if "PORT" not in self.env and not any(a.startswith("--port") for a in args):
            self.env["PORT"] = str(free_port())
        self.args = list(args)
        self.tls_ca = tls_ca  # CA/cert file to verify the daemon's TLS certificate; None: plain HTTP

    @property
    def port(self):
        return int(self.env["PORT"])

    @property
    def base_url(self):
        scheme = "https" if self.tls_ca else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def url(self, path):
        return self.base_url + path

    def client(self, token=None):
        return Client(self.base_url, token=token, verify=self.tls_ca or True)

    def spawn(self):
        """Starts the process without waiting for it."""
        self._spawn([horaod_path(), *self.args], self.env)
        return self

    def start(self, timeout=START_TIMEOUT, ready=False):
        """Starts and waits until /healthz answers 200 (and /readyz when `ready`)."""
        self.spawn()
        self.wait_healthy(timeout)
        if ready:
            self.wait_ready(timeout)
        return self

    def _get_ok(self, path):
        if not self.running():
            raise HarnessError(f"{self.name} exited with status {self.proc.returncode} while starting\n"
                               f"--- {self.name} log ---\n{self.log_tail()}")
        try:
            return requests.get(self.url(path), timeout=2, verify=self.tls_ca or True).status_code == 200
        except requests.RequestException:
            return False

    def wait_healthy(self, timeout=START_TIMEOUT):
        try:
            wait_until(lambda: self._get_ok("/healthz"), timeout, f"{self.name} /healthz")
        except HarnessError as e:
            raise HarnessError(f"{e}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def wait_ready(self, timeout=START_TIMEOUT):
        try:
            wait_until(lambda: self._get_ok("/readyz"), timeout, f"{self.name} /readyz")
        except HarnessError as e:
            raise HarnessError(f"{e}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def run_to_exit(self, timeout=START_TIMEOUT):
        """For a daemon that must refuse to start: runs it, returns (status, output)."""
        self.spawn()
        status = self.wait_exit(timeout)
        return status, self.log()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class Client:
    """A small JSON client over requests: methods return the requests.Response."""

    def __init__(self, base_url, token=None, timeout=10.0, verify=True):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        # Passed with every request: a session-level verify loses against
        # REQUESTS_CA_BUNDLE in the environment.
        self.verify = verify
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, json=None, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("verify", self.verify)
        return self.session.request(method, self.base_url + path, json=json, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def put(self, path, body, **kwargs):
        return self.request("PUT", path, json=body, **kwargs)

    def patch(self, path, body, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def close(self):
        self.session.close()
