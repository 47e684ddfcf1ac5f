"""Results out of the CLI and study management: CSV, the error column, tables with full names,
empty results that name the storage, safe outputs, delete / rename / copy, and the error
contract (one line for a user's mistake, a traceback and a bug report line for a bug)."""

from __future__ import annotations

import csv
import io
import json
import types

import pytest
from rich.console import Console

import storage
from nas import UserError
from nas._cli import main
from nas._cli._read import table
from nas._cli._run import pick_study
from nas._progress import Progress

LONG = "a-study-whose-name-is-far-longer-than-any-terminal-" + "x" * 150


@pytest.fixture
def url(storage_url: str) -> str:
    with storage.connect(storage_url) as db:
        db.create_study(LONG, objectives={"accuracy": "max"})
        db.create_study("demo", objectives={"accuracy": "max", "latency_ms": "min"})
        ids = db.add_trials("demo", [("a0", {"w": 0}), ("a1", {"w": 1}), ("a2", {"w": 2})])
        db.start_trial(ids[0], worker="h:1", node="h")
        db.finish_trial(ids[0], {"accuracy": 0.9, "latency_ms": 2.0})
        db.start_trial(ids[1], worker="h:1", node="h")
        db.fail_trial(ids[1], "Traceback (most recent call last):\n  ...\nValueError: odd w=1")
    return storage_url


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_trials_as_csv_and_a_table_with_the_error(url, capsys) -> None:
    code, out, _ = run(capsys, "trials", "demo", "--csv", "--storage", url)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["state"] for r in rows] == ["COMPLETE", "FAILED", "QUEUED"]
    assert rows[0]["accuracy"] == "0.9" and rows[1]["accuracy"] == ""
    assert rows[1]["error"].endswith("ValueError: odd w=1")
    code, out, _ = run(capsys, "trials", "demo", "--storage", url)
    assert code == 0 and "error" in out and "ValueError: odd w=1" in out
    assert "Traceback" not in out  # the table shows the exception line; --json has it all


def test_tables_show_full_names(url, capsys) -> None:
    code, out, _ = run(capsys, "studies", "--storage", url)
    # Not a terminal: the table is printed whole, at its natural width.
    assert code == 0 and LONG in out
    narrow = Console(width=60, file=io.StringIO())
    rendered = table("studies", ["name", "trials"])
    rendered.add_row(LONG, "0")
    narrow.print(rendered)
    text = narrow.file.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 60
    # On a narrow terminal the name folds over lines, every character kept.
    cells = [line.split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert "".join(cells) == LONG


def test_empty_results_name_the_storage(url, capsys, tmp_path) -> None:
    shown = storage.safe_url(url)
    code, out, err = run(capsys, "best", "demo", "--where", "latency_ms > 100", "--storage", url)
    assert code == 0 and f"(storage: {shown})" in err and "latency_ms > 100" in err
    code, _, err = run(capsys, "trials", LONG, "--storage", url)
    assert code == 0 and "has no trials" in err and shown in err
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    storage.connect(empty).close()
    code, _, err = run(capsys, "studies", "--storage", empty)
    assert code == 0 and err.strip() == f"no studies (storage: {empty})"
    code, _, err = run(capsys, "trials", "nope", "--storage", url)
    assert code == 1 and f"(storage: {shown})" in err


def test_outputs_are_replaced_only_with_force(url, capsys, tmp_path) -> None:
    with storage.connect(url) as db:
        trial = db.trials("demo")[0].id
    target = tmp_path / "best.json"
    assert run(capsys, "export", str(trial), "-o", str(target), "--storage", url)[0] == 0
    target.write_text("mine")
    code, _, err = run(capsys, "export", str(trial), "-o", str(target), "--storage", url)
    assert code == 1 and "exists; pass --force" in err and target.read_text() == "mine"
    code, _, _ = run(capsys, "export", str(trial), "-o", str(target), "--force", "--storage", url)
    assert code == 0 and json.loads(target.read_text()) == {"w": 0}
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_delete_rename_and_copy(url, capsys, tmp_path) -> None:
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    code, out, _ = run(capsys, "copy", "demo", "--to", copy, "--storage", url)
    assert code == 0 and "copied study 'demo' (3 trials)" in out
    code, _, _ = run(capsys, "rename", "demo", "renamed", "--storage", copy)
    assert code == 0
    code, out, _ = run(capsys, "trials", "renamed", "--storage", copy, "--json")
    assert [t["state"] for t in json.loads(out)] == ["COMPLETE", "FAILED", "QUEUED"]
    code, out, _ = run(capsys, "delete", "renamed", "--yes", "--storage", copy, "--json")
    assert code == 0 and json.loads(out) == {"study": "renamed", "deleted_trials": 3}
    code, out, _ = run(capsys, "studies", "--storage", copy, "--json")
    assert json.loads(out) == []
    # The source is untouched.
    with storage.connect(url) as db:
        assert len(db.trials("demo")) == 3


def test_a_bug_is_a_traceback_with_a_line_saying_so(url, capsys, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise ValueError("an internal invariant broke")

    monkeypatch.setattr(storage.Database, "studies", broken)
    code, _, err = run(capsys, "studies", "--storage", url)
    assert code == 1
    assert "Traceback (most recent call last)" in err and "an internal invariant broke" in err
    assert "this is a bug in hetnas" in err.splitlines()[-1] and "report it" in err


def test_the_global_debug_flag_is_not_overridden(url) -> None:
    with pytest.raises(UserError, match="No study is named 'nope'"):
        main(["--debug", "trials", "nope", "--storage", url])
    with pytest.raises(UserError, match="No study is named 'nope'"):
        main(["trials", "nope", "--storage", url, "--debug"])


def test_study_picks_any_study_of_the_spec_by_name_or_variable(tmp_path) -> None:
    import nas
    from space import Space
    from space import choice

    def make(name):
        return nas.Study(name=name, space=Space({"a": choice(1, 2)}),
                         evaluate=lambda arch: {"loss": 1.0}, objectives={"loss": "min"})

    module = types.SimpleNamespace(study=make("main"), wide=make("wide-search"))

    def args(study=None, quick=False):
        return types.SimpleNamespace(study=study, quick=quick, spec="spec.py")

    assert pick_study(module, args()).name == "main"
    assert pick_study(module, args("wide-search")).name == "wide-search"
    assert pick_study(module, args("wide")).name == "wide-search"
    with pytest.raises(UserError, match="'main' \\(`study`\\), 'wide-search' \\(`wide`\\)"):
        pick_study(module, args("nope"))


def test_progress_off_a_terminal_is_a_plain_line_now_and_then(capsys) -> None:
    progress = Progress("demo", 4, 0, {"loss": "min"}, quiet=False, every_s=0.0)
    with progress:
        progress.observe({"loss": 2.0})
        progress.update(1, 1, 0)
        progress.update(2, 1, 0)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("demo: 1 done, 1 running, 0 failed of 4 | best loss 2")
    assert lines[-1].startswith("demo: 2 done") and "\x1b" not in "".join(lines)
    slow = Progress("demo", 4, 0, {"loss": "min"}, quiet=False, every_s=3600)
    with slow:
        for done in range(4):
            slow.update(done, 0, 0)
    # The first line at once, then nothing until the end, which always shows the last state.
    assert [line.split(" |")[0] for line in capsys.readouterr().err.splitlines()] == [
        "demo: 0 done, 0 running, 0 failed of 4", "demo: 3 done, 0 running, 0 failed of 4"]
