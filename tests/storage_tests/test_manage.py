"""Study management on both backends: delete, rename, copy between them, trials as a table;
and the statement timeout every query runs under."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

import storage
from storage._engine import make_engine
from storage._engine import transaction

from .conftest import OBJECTIVES
from .conftest import arch


def _fill(db: storage.Database, name: str = "demo") -> list[int]:
    """A study with every kind of record: each state, metrics, curves, an artifact, a state."""
    db.create_study(name, objectives=OBJECTIVES, searcher="random", space_hash="s1",
                    constraints=[{"metric": "latency_ms", "op": "<=", "bound": 5.0}],
                    spec_source="study = ...\n", settings={"trials": 9})
    ids = db.add_trials(name, [arch(i) for i in range(4)], searcher="random")
    db.start_trial(ids[0], worker="host:1", node="host")
    db.report(ids[0], "accuracy", 10, 0.5)
    db.report(ids[0], "accuracy", 20, 0.75)
    db.finish_trial(ids[0], {"accuracy": 0.8, "latency_ms": 3.0})
    db.add_artifact(ids[0], "checkpoints/0.pt", "ab" * 32)
    db.start_trial(ids[1], worker="host:1", node="host")
    db.fail_trial(ids[1], "Traceback (most recent call last):\nValueError: odd width 7")
    db.start_trial(ids[2], worker="host:1", node="host")
    db.fail_trial(ids[2], "interrupted", requeue=True)
    db.save_searcher_state(name, {"searcher": "random", "format": 1, "asks": 3})
    db.add_study_artifact(name, "supernet", "supernets/demo.pt", "cd" * 32)
    return ids


def _everything(db: storage.Database, name: str) -> dict:
    """What a copy must keep, without the global ids a copy renumbers."""
    study = {k: v for k, v in db.get_study(name).to_json().items()
             if k not in ("id", "name")}
    trials = db.trials(name)
    return {
        "study": study,
        "trials": [{k: v for k, v in t.to_json().items() if k not in ("id", "study")}
                   for t in trials],
        "curves": sorted(db.intermediate_values(name).values()),
        "artifacts": [db.artifacts(t.id) for t in trials],
        "study_artifacts": db.study_artifacts(name),
        "state": db.searcher_state(name),
        "archs": [db.architecture_json(t.arch_id) for t in trials],
    }


@pytest.mark.postgres
@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
def test_copy_keeps_everything_between_the_backends(direction, tmp_path, postgres_url) -> None:
    sqlite = f"sqlite:///{tmp_path / 'studies.db'}"
    source_url, target_url = ((sqlite, postgres_url) if direction.startswith("sqlite")
                              else (postgres_url, sqlite))
    with storage.connect(source_url) as source, storage.connect(target_url) as target:
        _fill(source)
        # The target shares an architecture already: it is reused, not duplicated.
        target.create_study("there", objectives=OBJECTIVES)
        target.add_trials("there", [arch(0)])
        assert source.copy_study("demo", target) == 4
        assert _everything(target, "demo") == _everything(source, "demo")
        assert source.copy_study("demo", target, new_name="demo-2") == 4
        assert _everything(target, "demo-2") == _everything(source, "demo")
        with pytest.raises(storage.StudyExists, match="has a study named 'demo'"):
            source.copy_study("demo", target)
        with pytest.raises(storage.StudyNotFound):
            source.copy_study("nope", target)


def test_delete_removes_the_study_and_only_its_own_records(db: storage.Database) -> None:
    ids = _fill(db)
    db.create_study("kept", objectives=OBJECTIVES)
    kept = db.add_trials("kept", [arch(0)])  # shares an architecture with "demo"
    db.start_trial(ids[3], worker="host:2", node="host")
    with pytest.raises(storage.InvalidTransition, match="has 1 RUNNING trials"):
        db.delete_study("demo")
    assert db.delete_study("demo", force=True) == 4
    assert [s.name for s in db.studies()] == ["kept"]
    db.create_study("demo", objectives=OBJECTIVES)
    assert db.study_artifacts("demo") == []
    with pytest.raises(storage.TrialNotFound):
        db.trial(ids[0])
    assert db.artifacts(ids[0]) == [] and db.trial(kept[0]).arch_id == arch(0)[0]
    assert db.architecture_json(arch(0)[0])
    with pytest.raises(storage.ArchitectureNotFound):
        db.architecture_json(arch(1)[0])
    db.delete_study("demo")
    with pytest.raises(storage.StudyNotFound):
        db.delete_study("demo")


def test_rename_keeps_the_trials_and_refuses_a_taken_or_empty_name(db: storage.Database) -> None:
    _fill(db)
    before = _everything(db, "demo")
    db.create_study("other", objectives=OBJECTIVES)
    with pytest.raises(storage.StudyExists, match="'other'"):
        db.rename_study("demo", "other")
    for bad in ("", "   ", "x" * 256):
        with pytest.raises(storage.InvalidQuery, match="1 to 255 characters"):
            db.rename_study("demo", bad)
    db.rename_study("demo", "renamed")
    assert _everything(db, "renamed") == before
    with pytest.raises(storage.StudyNotFound):
        db.trials("demo")


def test_trials_as_a_table_and_a_frame(db: storage.Database) -> None:
    _fill(db)
    columns, rows = storage.trial_table(db.trials("demo"))
    assert columns[:4] == ["trial", "id", "state", "arch_id"]
    assert columns[-3:] == ["error", "accuracy", "latency_ms"]
    assert [row[2] for row in rows] == ["COMPLETE", "FAILED", "QUEUED", "QUEUED"]
    frame = db.trials_frame("demo")
    assert list(frame.index) == [0, 1, 2, 3]
    assert frame.loc[0, "accuracy"] == 0.8 and frame["accuracy"].isna().sum() == 3
    assert frame.loc[1, "error"].endswith("odd width 7")
    assert str(frame["finished"].dtype).startswith("datetime64")
    assert len(db.trials_frame("demo", state="QUEUED")) == 2


def test_every_statement_runs_under_a_timeout(storage_url: str) -> None:
    storage.connect(storage_url).close()
    engine = make_engine(storage_url, statement_timeout_s=0.5)
    endless = ("SELECT pg_sleep(30)" if storage_url.startswith("postgresql") else
               "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
               "SELECT count(*) FROM r")
    start = time.monotonic()
    with pytest.raises(storage.StorageInternalError, match="ran past the statement timeout"):
        with transaction(engine, write=False) as conn:
            conn.execute(text(endless)).all()
    assert time.monotonic() - start < 10
    # The connection is usable again at once.
    with transaction(engine, write=False) as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
