"""The query commands of the ``nas`` CLI, on both database backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import storage
from nas._cli import main

OBJECTIVES = {"accuracy": "max", "latency_ms": "min"}
# (accuracy, latency_ms); trial 3 breaks latency_ms <= 5, trial 1 is dominated by trial 0.
RESULTS = [(0.9, 4.0), (0.8, 4.5), (0.7, 1.0), (0.99, 8.0)]
FROZEN = Path(__file__).resolve().parents[1] / "storage_tests" / "upgrade_assets" / "v0.1.0.a.db"


@pytest.fixture
def url(storage_url: str) -> str:
    with storage.connect(storage_url) as db:
        db.create_study(
            "demo",
            objectives=OBJECTIVES,
            constraints=[{"metric": "latency_ms", "op": "<=", "bound": 5.0}],
        )
        db.add_results(
            "demo",
            [
                (
                    f"a{i}",
                    {"family": "toy", "width": 8 * (i + 1)},
                    {"accuracy": a, "latency_ms": lat},
                )
                for i, (a, lat) in enumerate(RESULTS)
            ],
        )
        db.add_trials("demo", [("q", {"family": "toy", "width": 1})])
    return storage_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_best_json_has_the_contract_shape(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "best", "demo", "--top", "2", "--storage", url, "--json")
    assert code == 0
    best = json.loads(out)
    assert [t["trial"] for t in best] == [0, 1]
    first = best[0]
    assert isinstance(first["trial"], int) and first["arch_id"] == "a0"
    assert first["arch"] == {"family": "toy", "width": 8}
    assert first["metrics"] == {"accuracy": 0.9, "latency_ms": 4.0}
    assert first["state"] == "COMPLETE"


def test_best_with_where_and_objective(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "best",
        "demo",
        "--where",
        "latency_ms < 4.2 and accuracy >= 0.7",
        "--objective",
        "latency_ms",
        "--storage",
        url,
        "--json",
    )
    assert code == 0
    assert [t["trial"] for t in json.loads(out)] == [2, 0]


@pytest.mark.parametrize(
    "where", ["1=1; DROP TABLE trials", "latency_ms < '5'", "latency_ms < 5 -- x", "sleep(5) > 1"]
)
def test_hostile_where_is_one_line_exit_1_and_changes_nothing(
    url: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "best", "demo", "--where", where, "--storage", url)
    assert code == 1 and out == ""
    assert err.startswith("nas best: error: --where takes comparisons") and err.count("\n") == 1
    code, out, _ = run(capsys, "trials", "demo", "--storage", url, "--json")
    assert len(json.loads(out)) == 5


def test_unknown_metric_and_study_are_user_errors(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "best", "demo", "--where", "latency < 5", "--storage", url)
    assert code == 1 and "Known metrics: accuracy, latency_ms." in err
    code, _, err = run(capsys, "trials", "dmeo", "--storage", url)
    assert code == 1 and "No study is named 'dmeo'. Existing studies: demo." in err


def test_studies_and_trials(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "studies", "--storage", url, "--json")
    (study,) = json.loads(out)
    assert code == 0 and study["name"] == "demo" and study["objectives"] == OBJECTIVES
    assert study["counts"]["COMPLETE"] == 4 and study["counts"]["QUEUED"] == 1
    code, out, _ = run(capsys, "trials", "demo", "--state", "QUEUED", "--storage", url, "--json")
    assert [(t["trial"], t["state"]) for t in json.loads(out)] == [(4, "QUEUED")]
    code, out, _ = run(capsys, "trials", "demo", "--storage", url)
    assert code == 0 and "trials of demo" in out and "QUEUED" in out and "0.99" in out


def test_pareto_json_and_plot(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plot = tmp_path / "front.png"
    code, out, _ = run(capsys, "pareto", "demo", "--plot", str(plot), "--storage", url, "--json")
    assert code == 0
    assert [(t["trial"], t["state"]) for t in json.loads(out)] == [
        (0, "COMPLETE"),
        (2, "COMPLETE"),
    ]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, err = run(
        capsys, "pareto", "demo", "--objective", "accuracy", "--plot", str(tmp_path / "b.png"),
        "--storage", url,
    )
    assert code == 1 and "--plot needs two objectives" in err


def test_export_writes_the_architecture_and_its_trial(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with storage.connect(url) as db:
        trial_id = db.best("demo")[0].id
    target = tmp_path / "arch.json"
    code, _, _ = run(capsys, "export", str(trial_id), "-o", str(target), "--storage", url)
    assert code == 0
    assert json.loads(target.read_text()) == {"family": "toy", "width": 8}
    trial = json.loads((tmp_path / "arch.trial.json").read_text())
    assert trial["id"] == trial_id and trial["metrics"] == {"accuracy": 0.9, "latency_ms": 4.0}
    code, _, err = run(capsys, "export", "999", "-o", str(tmp_path / "b.json"), "--storage", url)
    assert code == 1 and "No trial has id 999" in err


def test_db_upgrade_migrates_the_frozen_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FROZEN, path)
    url = f"sqlite:///{path}"
    code, _, err = run(capsys, "studies", "--storage", url)
    assert code == 1 and f"Run: nas db upgrade --storage {url}" in err
    code, out, _ = run(capsys, "db", "upgrade", "--storage", url, "--json")
    assert code == 0
    assert json.loads(out) == {"storage": url, "from": "v0.1.0.a", "to": storage.SCHEMA_VERSION}
    code, out, _ = run(capsys, "studies", "--storage", url, "--json")
    assert code == 0 and json.loads(out)[0]["counts"]["COMPLETE"] == 2


# One real process is enough to prove the console script; SQLite keeps it to one import of nas.
@pytest.mark.parametrize("storage_url", ["sqlite"], indirect=True)
def test_the_console_script_in_a_subprocess(url: str, tmp_path: Path) -> None:
    nas = shutil.which("nas")
    command = [nas] if nas else [sys.executable, "-m", "nas._cli"]
    done = subprocess.run(
        [*command, "best", "demo", "--where", "latency_ms < 4.2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "NAS_STORAGE": url},
    )
    assert done.returncode == 0, done.stderr
    assert [t["arch_id"] for t in json.loads(done.stdout)] == ["a0", "a2"]
