"""``nas dashboard`` through the real CLI: the token off loopback, and one-line mistakes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import storage

pytest.importorskip("uvicorn")
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_any_other_host_gets_a_generated_token_on_every_api_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    storage.connect(url).close()
    server = subprocess.Popen([*NAS, "dashboard", "--storage", url, "--host", "0.0.0.0",
                               "--port", "0", "--quiet"], env=ENV, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"http://\S+:(\d+)/\?token=([\w-]+)", line)
        assert found, line
        port, token = found.groups()
        assert len(token) >= 24
        base = f"http://127.0.0.1:{port}"
        assert _status(f"{base}/api/studies") == 401
        assert _status(f"{base}/api/studies?token={token[:-1]}x") == 401
        assert _status(f"{base}/api/studies?token={token}") == 200
        assert _status(f"{base}/") == 200
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "short"], "--token must be at least 16 characters"),
        (["--storage", "sqlite:///{tmp}/missing.db"], "the file does not exist"),
    ],
)
def test_mistakes_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--storage" not in args:
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        storage.connect(url).close()
        args += ["--storage", url]
    done = subprocess.run([*NAS, "dashboard", *args], env=ENV, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "missing.db").exists()


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    import socket

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    storage.connect(url).close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([*NAS, "dashboard", "--storage", url, "--port", str(port)],
                              env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert f"port {port} is taken" in done.stderr and "--port" in done.stderr
