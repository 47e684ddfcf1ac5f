"""Sixty mistakes a user makes at the command line, each through a real ``nas`` process.

Every one must end with the right exit status (2 for a usage error, 1 for any other mistake),
exactly one line on stderr (no traceback, no usage block) and a message that names the
offending value. The processes run a few at a time: each is a fresh interpreter. Mistakes in a
spec's space or evaluators are here once each kind (they import torch); the full range of them
is tested in-process (tests/space_tests/test_transformer_spec.py,
tests/evaluators_tests/test_contradictions.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import storage

ROOT = Path(__file__).resolve().parents[2]
NAS = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())"]
TINY = "from space import Space, choice, layer, mixer, heads, head, patches, tokens, transformer\n"


@dataclass(frozen=True)
class Mistake:
    argv: tuple[str, ...]
    code: int
    names: str  # a piece of the message that names the offending value


def _m(line: str, code: int, names: str) -> Mistake:
    """A mistake from its command line; after a \\x1f, one argument taken literally."""
    words, *literal = line.split("\x1f")
    return Mistake((*words.split(), *literal), code, names)


WHERE_DEEP = "(" * 17 + "accuracy > 0" + ")" * 17
WHERE_MANY = " and ".join(["accuracy > 0"] * 33)
WHERE_LONG = " or ".join(["accuracy > 0.5"] * 70)

MISTAKES = {
    # Usage errors: a one-line message from the (sub)command that was meant, with a guess.
    "command typo": _m("studis", 2, "'studis'; did you mean 'studies'"),
    "flag typo": _m("run spec.py --trails 5", 2, "'--trails'; did you mean '--trials'"),
    "abbreviated flag": _m("run spec.py --work 2", 2, "'--work'; did you mean '--workers'"),
    "json typo": _m("studies --jsn", 2, "'--jsn'; did you mean '--json'"),
    "global flag typo": _m("--debg studies", 2, "'--debg'; did you mean '--debug'"),
    "plot typo": _m("pareto demo --plt a.png", 2, "'--plt'; did you mean '--plot'"),
    "db command typo": _m("db upgrad", 2, "'upgrad'; did you mean 'upgrade'"),
    "state typo": _m("trials demo --state COMPLETED", 2, "'COMPLETED'; did you mean 'COMPLETE'"),
    "zero top": _m("best demo --top 0", 2, "got '0'"),
    "word top": _m("best demo --top five", 2, "got 'five'"),
    "zero workers": _m("run spec.py --workers 0", 2, "got '0'"),
    "negative trials": _m("run spec.py --trials -3", 2, "got '-3'"),
    "float trial id": _m("export 1e20 -o a.json", 2, "got '1e20'"),
    "huge trial id": _m("export 100000000000000000000 -o a.json", 2,
                        "got '100000000000000000000'"),
    "word trial id": _m("export abc -o a.json", 2, "got 'abc'"),
    "export without -o": _m("export 1", 2, "-o/--output"),
    "best without a study": _m("best", 2, "STUDY"),
    "copy without --to": _m("copy demo", 2, "--to"),
    "quick and study": _m("run spec.py --quick --study x", 2, "--study"),
    "extra argument": _m("trials demo extra", 2, "'extra'"),
    "zero batch size": _m("predict a.json --device cpu --batch-size 0", 2, "got '0'"),
    # Storage: named in every message, never created by a command that only reads.
    "missing database": _m("studies --storage sqlite:///studes.db", 1, "'studes.db'"),
    "unsupported backend": _m("studies --storage mysql://u@h/db", 1, "'mysql'"),
    "run on mysql": _m("run spec.py --storage mysql://u@h/db", 1, "'mysql'"),
    "profile on mysql": _m("profile --device cpu --storage mysql://u@h/db", 1, "'mysql'"),
    "malformed url": _m("trials demo --storage not-a-url", 1, "'not-a-url'"),
    "unreachable server": _m("studies --storage postgresql+psycopg://u@127.0.0.1:1/db", 1,
                             '"127.0.0.1", port 1'),
    "unknown study": _m("trials dmeo", 1, "'dmeo'"),
    "unknown study in best": _m("best nope", 1, "'nope'"),
    "unknown study in pareto": _m("pareto nope", 1, "'nope'"),
    "unknown trial": _m("export 999 -o new.json", 1, "999"),
    "csv and json": _m("trials demo --csv --json", 1, "--csv and --json"),
    # --where: parsed by hand, with limits.
    "unknown metric": _m("best demo --where\x1flatency < 5", 1, "'latency'"),
    "dangling operator": _m("best demo --where\x1faccuracy <", 1, "'accuracy <'"),
    "sql injection": _m("best demo --where\x1f1=1; DROP TABLE trials", 1, "'='"),
    "too deep": _m(f"best demo --where\x1f{WHERE_DEEP}", 1, "16 deep"),
    "too many terms": _m(f"best demo --where\x1f{WHERE_MANY}", 1, "at most 32 comparisons"),
    "too long": _m(f"best demo --where\x1f{WHERE_LONG}", 1, f"got {len(WHERE_LONG)}"),
    "bad objective": _m("best demo --objective accuracy:highest", 1, "'accuracy:highest'"),
    # Outputs: never a database, a link or an existing file without --force.
    "export over the database": _m("export 1 -o studies.db", 1, "'studies.db' is a database"),
    "export over a file": _m("export 1 -o existing.json", 1, "'existing.json' exists"),
    "export through a link": _m("export 1 -o link.json", 1, "'link.json' is a symbolic link"),
    "export into no folder": _m("export 1 -o nowhere/a.json", 1, "'nowhere'"),
    "export forced over the database": _m("export 1 -o studies.db --force", 1,
                                          "'studies.db' is a database"),
    "plot over the database": _m("pareto demo --plot studies.db", 1, "'studies.db'"),
    "plot into a folder": _m("pareto demo --plot plots", 1, "'plots' is a folder"),
    # Study management.
    "delete without --yes": _m("delete demo", 1, "'demo'"),
    "delete unknown": _m("delete nope --yes", 1, "'nope'"),
    "rename onto a study": _m("rename demo other", 1, "'other'"),
    "rename to nothing": _m("rename demo\x1f", 1, "''"),
    "copy onto itself": _m("copy demo --to sqlite:///studies.db", 1, "sqlite:///studies.db"),
    "copy unknown": _m("copy nope --to sqlite:///copy.db", 1, "'nope'"),
    # Specs and devices.
    "missing spec": _m("run nospec.py", 1, "nospec.py"),
    "spec syntax error": _m("run syntax.py", 1, "SyntaxError"),
    "calibrate a board": _m("calibrate --device stm32f746", 1, "'stm32f746'"),
    "predict a missing file": _m("predict nofile.json --device mpc-lan", 1, "'nofile.json'"),
    "predict without a database": _m("predict a.json --device cpu --storage sqlite:///no.db", 1,
                                     "'no.db'"),
    "no such study in the spec": _m("run spec.py --study nope", 1, "'nope'"),
    "window without window": _m("run window.py", 1, "mixer.window"),
    "task on another input": _m("run mismatch.py", 1, "image 32×32×3 (patch 4), 100 classes"),
}

SPECS = {
    "spec.py": TINY + textwrap.dedent("""
        import nas
        study = nas.Study(name="tiny", space=Space({"a": choice(1, 2)}),
                          evaluate=lambda arch: {"loss": 1.0}, objectives={"loss": "min"})
    """),
    "syntax.py": "study = nas.Study(\n",
    "window.py": TINY + "Space(transformer([layer(32, mixer('window', heads=2))],"
                        " input=tokens(16, 8), num_classes=2))\n",
    "mismatch.py": TINY + textwrap.dedent("""
        import nas
        from evaluators import Compose, CostEvaluator, TrainEvaluator
        study = nas.Study(name="m", objectives={"accuracy": "max"},
                          space=Space(transformer([layer(32, mixer("softmax", heads=2))],
                                                  input=patches(32, 4, 3), num_classes=100)),
                          evaluate=Compose(TrainEvaluator("digits"), CostEvaluator("stm32f746")))
    """),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mistakes")
    with storage.connect(f"sqlite:///{folder / 'studies.db'}") as db:
        for name in ("demo", "other"):
            db.create_study(name, objectives={"accuracy": "max", "latency_ms": "min"})
            db.add_results(name, [(f"{name}{i}", {"family": "toy", "i": i},
                                   {"accuracy": i / 4, "latency_ms": 1.0 + i}) for i in range(4)])
    (folder / "existing.json").write_text("{}\n")
    (folder / "plots").mkdir()
    (folder / "link.json").symlink_to(folder / "elsewhere.json")
    (folder / "a.json").write_text('{"family": "transformer"}\n')
    for name, text in SPECS.items():
        (folder / name).write_text(text)
    return folder


def _run(folder: Path, mistake: Mistake) -> subprocess.CompletedProcess[str]:
    # This checkout's code, whatever the installed package points at.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "NAS_STORAGE": f"sqlite:///{folder / 'studies.db'}"}
    return subprocess.run([*NAS, *mistake.argv], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_every_mistake_is_one_line_that_names_the_value(folder: Path) -> None:
    assert len(MISTAKES) >= 40
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(MISTAKES, pool.map(lambda m: _run(folder, m), MISTAKES.values()),
                        strict=True))
    wrong = []
    for name, mistake in MISTAKES.items():
        result = done[name]
        lines = result.stderr.strip().splitlines()
        if result.returncode != mistake.code or len(lines) != 1 or mistake.names not in lines[0]:
            wrong.append(f"{name}: exit {result.returncode}, stderr {result.stderr!r}")
    assert not wrong, "\n".join(wrong)
    # Nothing above created a database or replaced a file.
    assert sorted(p.name for p in folder.glob("*.db")) == ["studies.db"]
    assert (folder / "existing.json").read_text() == "{}\n"
    assert not (folder / "elsewhere.json").exists()
    with storage.connect(f"sqlite:///{folder / 'studies.db'}") as db:
        assert [s.name for s in db.studies()] == ["demo", "other"]
