"""The ``nas`` entry point itself: help, usage errors and closed pipes."""

from __future__ import annotations

import subprocess
import sys

import storage

NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]


def test_help_and_usage_errors() -> None:
    assert subprocess.run([*NAS, "--help"], capture_output=True).returncode == 0
    bad = subprocess.run([*NAS, "frobnicate"], capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_a_closed_pipe_is_not_an_error(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    db = storage.connect(url)
    for i in range(300):
        db.create_study(f"study-{i}", objectives={"accuracy": "max"}, constraints=[])
    db.close()
    reader = subprocess.Popen([*NAS, "studies", "--json", "--storage", url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.read(10)
    reader.stdout.close()
    assert reader.wait(timeout=60) == 0
    assert b"Traceback" not in reader.stderr.read()
