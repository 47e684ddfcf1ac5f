"""Read-only connections and the change query that live views poll with."""

from __future__ import annotations

import threading
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

import storage
from tests.storage_tests.conftest import arch


def _later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(tzinfo=None).isoformat() + "Z"


def test_a_read_only_connection_reads_everything_and_writes_nothing(
    db: storage.Database, study: str, storage_url: str
) -> None:
    (done,) = db.add_results(study, [(*arch(0), {"accuracy": 0.5, "latency_ms": 2.0})])
    with storage.connect(storage_url, read_only=True) as reader:
        assert [s.name for s in reader.studies()] == [study]
        assert reader.trial(done).metrics == {"accuracy": 0.5, "latency_ms": 2.0}
        assert [t.id for t in reader.pareto(study)] == [done]
        with pytest.raises(storage.StorageInternalError, match="read-?only"):
            reader.create_study("new", objectives={"accuracy": "max"})
        with pytest.raises(storage.StorageInternalError, match="read-?only"):
            reader.add_trials(study, [arch(1)])
    assert [s.name for s in db.studies()] == [study]
    assert len(db.trials(study)) == 1


def test_read_only_never_creates_a_schema(storage_url: str, tmp_path) -> None:
    if storage_url.startswith("sqlite"):
        missing = f"sqlite:///{tmp_path / 'none.db'}"
        with pytest.raises(storage.StorageError, match="must exist"):
            storage.connect(missing, read_only=True)
        assert not (tmp_path / "none.db").exists()
        with pytest.raises(storage.StorageError, match="must be a file"):
            storage.connect("sqlite://", read_only=True)
        (tmp_path / "empty.db").touch()
        storage_url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(storage.SchemaError, match="is empty"):
        storage.connect(storage_url, read_only=True)
    with storage.connect(storage_url) as db:  # still empty: a writer creates the schema
        assert db.studies() == []


def test_a_reader_inside_a_transaction_never_blocks_a_writer(
    db: storage.Database, study: str, storage_url: str
) -> None:
    from storage._engine import transaction

    ids = db.add_trials(study, [arch(i) for i in range(3)])
    reader = storage.connect(storage_url, read_only=True)
    finished = threading.Event()
    try:
        with transaction(reader._engine, write=False) as conn:
            assert len(reader.trials(study)) == 3
            conn.exec_driver_sql("SELECT count(*) FROM trials").scalar()

            def write() -> None:
                for trial_id in ids:
                    db.start_trial(trial_id, worker="w", node="n")
                    db.finish_trial(trial_id, {"accuracy": 0.1, "latency_ms": 1.0})
                finished.set()

            writer = threading.Thread(target=write)
            start = time.monotonic()
            writer.start()
            # The reader's transaction is still open: writes must go through anyway.
            assert finished.wait(10), "a writer waited on a read-only reader"
            assert time.monotonic() - start < 5
            writer.join()
    finally:
        reader.close()
    assert {t.state for t in db.trials(study)} == {"COMPLETE"}


def test_changes_hold_new_running_and_requeued_trials_but_not_old_finished_ones(
    db: storage.Database, study: str, storage_url: str
) -> None:
    old = db.add_results(study, [(*arch(i), {"accuracy": i / 10, "latency_ms": i}) for i in
                                 range(4)])
    reader = storage.connect(storage_url, read_only=True)
    everything, cursor = reader.trial_changes(study)
    assert [t.id for t in everything] == old and everything[0].arch is None
    assert everything[2].metrics == {"accuracy": 0.2, "latency_ms": 2.0}
    # A cursor taken now reaches back a few seconds, so nothing written since is missed.
    assert [t.id for t in reader.trial_changes(study, cursor)[0]] == old
    future = _later(1)
    assert reader.trial_changes(study, future)[0] == []

    running, requeued, queued = db.add_trials(study, [arch(10), arch(11), arch(12)])
    db.start_trial(running, worker="w", node="n")
    db.start_trial(requeued, worker="w", node="n")
    db.fail_trial(requeued, "node lost", requeue=True)
    changed, _ = reader.trial_changes(study, future, arch=True)
    assert [(t.id, t.state) for t in changed] == [
        (running, "RUNNING"), (requeued, "QUEUED"), (queued, "QUEUED")]
    assert changed[0].arch == {"e0": 10 % 3, "width": 10}

    since = _later(0)
    db.finish_trial(running, {"accuracy": 0.9, "latency_ms": 1.0})
    changed, _ = reader.trial_changes(study, since)
    assert {t.id: t.state for t in changed} == {
        running: "COMPLETE", requeued: "QUEUED", queued: "QUEUED"}
    assert changed[0].metrics == {"accuracy": 0.9, "latency_ms": 1.0}
    with pytest.raises(storage.InvalidQuery, match="change cursor"):
        reader.trial_changes(study, "yesterday")
    reader.close()


def test_trial_columns_are_the_changes_as_columns(
    db: storage.Database, study: str, storage_url: str
) -> None:
    done = db.add_results(study, [(*arch(i), {"accuracy": i / 10, "latency_ms": i}) for i in
                                  range(3)])
    (running,) = db.add_trials(study, [arch(5)])
    db.start_trial(running, worker="w7", node="n")
    db.report(running, "loss", 1, 0.5)
    with storage.connect(storage_url, read_only=True) as reader:
        columns, cursor = reader.trial_columns(study)
        changes, _ = reader.trial_changes(study)
        assert columns["id"] == [t.id for t in changes] == [*done, running]
        assert columns["state"] == ["COMPLETE"] * 3 + ["RUNNING"]
        assert columns["worker"] == [None, None, None, "w7"]
        assert columns["metrics"] == {"accuracy": [0.0, 0.1, 0.2, None],
                                      "latency_ms": [0.0, 1.0, 2.0, None]}
        assert columns["finished"][0] == changes[0].finished and columns["finished"][3] is None
        later, _ = reader.trial_columns(study, _later(1))
        assert later["id"] == [running] and later["metrics"] == {}


def test_trial_arrays_are_trial_columns_with_epoch_milliseconds(
    db: storage.Database, study: str, storage_url: str
) -> None:
    # 600 trials: more changed trials than one IN list holds takes the whole-study query.
    done = db.add_results(study, [(*arch(i), {"accuracy": i / 1000, "latency_ms": i} if i % 3
                                   else {"accuracy": i / 1000}) for i in range(600)])
    (running,) = db.add_trials(study, [arch(700)])
    db.start_trial(running, worker="w7", node="n")
    with storage.connect(storage_url, read_only=True) as reader:
        columns, _ = reader.trial_columns(study)
        for since in (None, _later(-60)):
            arrays, _ = reader.trial_arrays(study, since)
            assert arrays["id"] == columns["id"] == [*done, running]
            for key in ("number", "state", "worker", "metrics"):
                assert arrays[key] == columns[key], key
            assert arrays["finished"][-1] is None
            iso = datetime.fromtimestamp(arrays["finished"][0] / 1000, UTC)
            assert abs(iso - datetime.fromisoformat(columns["finished"][0])) < timedelta(
                milliseconds=1)
        few, _ = reader.trial_arrays(study, _later(1))
        assert few["id"] == [running] and few["worker"] == ["w7"] and few["metrics"] == {}
        with pytest.raises(storage.StudyNotFound, match=study):
            reader.trial_arrays("no-such-study")


def test_matching_ids_filter_every_state_with_the_where_language(
    db: storage.Database, study: str
) -> None:
    done = db.add_results(study, [(*arch(i), {"accuracy": i / 10, "latency_ms": i}) for i in
                                  range(5)])
    (pending,) = db.add_trials(study, [arch(9)])
    db.start_trial(pending, worker="w", node="n")
    db.finish_trial(pending, {"accuracy": 0.0, "latency_ms": 0.5}, state="PRUNED")
    assert db.matching_ids(study, "latency_ms < 2") == [done[0], done[1], pending]
    assert db.matching_ids(study, "accuracy >= 0.3 or latency_ms < 1") == [
        done[0], done[3], done[4], pending]
    with pytest.raises(storage.InvalidQuery):
        db.matching_ids(study, "1; DROP TABLE trials")
    with pytest.raises(storage.InvalidQuery, match="known"):
        db.matching_ids(study, "nonsense < 1")
