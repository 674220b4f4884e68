"""`cmake --install` (issue 4): the binary, the systemd unit and the example
environment file land under the prefix given at install time, the unit
points at them, and an operator's edited horaod.env survives a reinstall.

The build directory is the one holding the daemon under test: HORAO_BINARY_DIR
when set, else the nearest directory above HORAOD with a CMakeCache.txt."""

import os
import shutil
import subprocess

import pytest

from horao_harness import horaod_path, source_dir


def _build_dir():
    explicit = os.environ.get("HORAO_BINARY_DIR")
    if explicit:
        return explicit
    d = os.path.dirname(os.path.abspath(horaod_path()))
    while d != os.path.dirname(d):
        if os.path.exists(os.path.join(d, "CMakeCache.txt")):
            return d
        d = os.path.dirname(d)
    pytest.fail(f"no CMakeCache.txt above HORAOD={horaod_path()}")


def _install(prefix, destdir=None):
    cmake = shutil.which("cmake")
    assert cmake, "cmake is not on PATH"
    env = dict(os.environ)
    if destdir:
        env["DESTDIR"] = str(destdir)
    # --component-less install of everything; the binary must already be built.
    r = subprocess.run([cmake, "--install", _build_dir(), "--prefix", str(prefix)], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 0, f"cmake --install failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def _unit_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def test_install_puts_the_binary_the_unit_and_the_env_file_under_the_prefix(tmp_path):
    prefix = tmp_path / "x"
    _install(prefix)

    binary = prefix / "sbin" / "horaod"
    assert binary.is_file() and os.access(binary, os.X_OK)
    r = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Usage: horaod" in (r.stdout + r.stderr)

    unit = prefix / "lib" / "systemd" / "system" / "horaod.service"
    assert unit.is_file()
    lines = _unit_lines(unit)
    env_file = prefix / "etc" / "horao" / "horaod.env"
    # The unit names what was installed, wherever the prefix is.
    assert f"ExecStart={binary} --env-file={env_file}" in lines
    assert f"EnvironmentFile={env_file}" in lines
    assert "Type=notify" in lines

    assert env_file.is_file()
    example = prefix / "etc" / "horao" / "horaod.env.example"
    assert example.is_file()
    with open(os.path.join(source_dir(), "config", "horaod.env")) as f:
        shipped = f.read()
    assert example.read_text() == shipped
    assert env_file.read_text() == shipped

    # The installed example is a configuration the installed daemon accepts.
    r = subprocess.run([str(binary), "--check-config", "--env-file", str(example)], capture_output=True,
                       text=True, timeout=30, cwd=tmp_path,
                       env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NODE_ID": "dc-install"})
    assert r.returncode == 0, f"--check-config refused the installed example:\n{r.stdout}\n{r.stderr}"


def test_reinstall_keeps_the_operators_env_file(tmp_path):
    prefix = tmp_path / "x"
    _install(prefix)
    env_file = prefix / "etc" / "horao" / "horaod.env"
    env_file.write_text("NODE_ID=dc-edited\n")
    out = _install(prefix)
    assert env_file.read_text() == "NODE_ID=dc-edited\n"
    assert "Keeping" in out
    assert (prefix / "etc" / "horao" / "horaod.env.example").is_file()


def test_prefix_usr_follows_the_fhs(tmp_path):
    # DESTDIR staging, as a package build does: /usr/sbin, /usr/lib/systemd/system, /etc/horao.
    _install("/usr", destdir=tmp_path)
    assert (tmp_path / "usr" / "sbin" / "horaod").is_file()
    unit = tmp_path / "usr" / "lib" / "systemd" / "system" / "horaod.service"
    lines = _unit_lines(unit)
    assert "ExecStart=/usr/sbin/horaod --env-file=/etc/horao/horaod.env" in lines
    assert "EnvironmentFile=/etc/horao/horaod.env" in lines
    assert (tmp_path / "etc" / "horao" / "horaod.env").is_file()
    assert (tmp_path / "etc" / "horao" / "horaod.env.example").is_file()
