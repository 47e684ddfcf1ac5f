"""Commands that only read the database start fast: they never import the heavy stack.

Timing itself is a benchmark (``benchmarks/cli.py``); this test pins the cause, which a loaded
machine cannot blur: the modules a command loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import storage

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = ("torch", "ray", "triton", "optuna", "scipy", "sklearn", "pandas")

PROBE = textwrap.dedent("""
    import contextlib, io, json, sys
    from nas._cli import main
    loaded = {}
    for argv in json.loads(sys.argv[1]):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main(argv)
            except SystemExit:
                pass
        heavy = sorted(m for m in FORBIDDEN if m in sys.modules)
        loaded[" ".join(argv)] = heavy
    print(json.dumps(loaded))
""")


def test_read_only_commands_and_usage_errors_never_import_the_heavy_stack(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with storage.connect(url) as db:
        db.create_study("demo", objectives={"accuracy": "max", "latency_ms": "min"})
        (trial,) = db.add_results("demo", [("a", {"family": "toy"},
                                            {"accuracy": 0.5, "latency_ms": 1.0})])
    where = ["--storage", url]
    commands = [
        ["--help"], ["studies", *where], ["studies", "--json", *where], ["trials", "demo", *where],
        ["trials", "demo", "--csv", *where], ["best", "demo", "--where", "latency_ms < 2", *where],
        ["pareto", "demo", *where], ["export", str(trial), "-o", str(tmp_path / "a.json"), *where],
        ["run", "x.py", "--trails", "5"], ["frobnicate"], ["best"], ["trials", "nope", *where],
        ["studies", "--storage", f"sqlite:///{tmp_path / 'missing.db'}"],
        ["run", str(tmp_path / "missing.py")],
    ]
    code = f"FORBIDDEN = {FORBIDDEN!r}\n" + PROBE
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code, json.dumps(commands)],
                          capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": path})
    loaded = json.loads(done.stdout)
    assert loaded == {" ".join(argv): [] for argv in commands}
    assert (tmp_path / "a.json").exists() and not (tmp_path / "missing.db").exists()
