"""Many processes on one database: atomic claims, nothing lost, survival of a killed writer."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

import storage
from tests.storage_tests._workers import METRICS
from tests.storage_tests._workers import claim_and_complete
from tests.storage_tests.conftest import OBJECTIVES
from tests.storage_tests.conftest import arch

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8
PER_WORKER = 200


@pytest.mark.slow
def test_eight_processes_claim_and_complete_200_trials_each(storage_url: str) -> None:
    with storage.connect(storage_url) as db:
        db.create_study("race", objectives=OBJECTIVES, constraints=[])
        db.add_trials("race", [arch(i) for i in range(WORKERS * PER_WORKER)])
    context = multiprocessing.get_context("spawn")
    with context.Pool(WORKERS) as pool:
        claimed = pool.starmap(
            claim_and_complete,
            [(storage_url, "race", f"w{i}", PER_WORKER) for i in range(WORKERS)],
        )
    assert [len(ids) for ids in claimed] == [PER_WORKER] * WORKERS
    every = [i for ids in claimed for i in ids]
    assert len(set(every)) == WORKERS * PER_WORKER, "a trial was claimed twice"
    with storage.connect(storage_url) as db:
        trials = db.trials("race")
        assert db.get_study("race").counts["COMPLETE"] == WORKERS * PER_WORKER
    assert all(t.state == "COMPLETE" for t in trials)
    owner = {i: f"w{w}" for w, ids in enumerate(claimed) for i in ids}
    assert all(t.worker == owner[t.id] for t in trials)
    assert all(t.metrics == {m: t.id + k for k, m in enumerate(METRICS)} for t in trials), (
        "a metric row was lost or changed"
    )
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metrics")).scalar() == 5 * 1600
    engine.dispose()


def test_threads_creating_a_fresh_schema_at_once_all_succeed(storage_url: str) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            storage.connect(storage_url).close()
        except BaseException as e:  # collected and re-raised by the test thread
            errors.append(e)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with storage.connect(storage_url) as db:
        assert db.studies() == []


@pytest.mark.parametrize("requeue", [False, True], ids=["fail", "requeue"])
def test_a_writer_killed_mid_transaction_leaves_a_recoverable_trial(
    storage_url: str, requeue: bool
) -> None:
    with storage.connect(storage_url) as db:
        db.create_study("crash", objectives=OBJECTIVES, constraints=[])
        db.add_trials("crash", [arch(0), arch(1)])
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage_tests._workers", storage_url, "crash"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("ready"), f"child failed before writing: {line!r}"
        trial_id = int(line.split()[1])
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    with storage.connect(storage_url) as db:
        trial = db.trial(trial_id)
        # The uncommitted result vanished; the committed claim and report stayed.
        assert (trial.state, trial.metrics, trial.worker) == ("RUNNING", {}, "doomed")
        # The dead writer's lock is gone: another worker claims and completes a trial.
        other = db.claim_trial("crash", worker="alive", node="node1")
        assert other is not None and other.id != trial_id
        db.finish_trial(other.id, {"accuracy": 0.5, "latency_ms": 1.0})
        assert db.recover("crash", alive=["alive"], requeue=requeue) == [trial_id]
        recovered = db.trial(trial_id)
        if requeue:
            assert (recovered.state, recovered.retries) == ("QUEUED", 1)
            again = db.claim_trial("crash", worker="alive", node="node1")
            assert again is not None and again.id == trial_id
            db.finish_trial(trial_id, {"accuracy": 0.7, "latency_ms": 2.0})
            assert db.trial(trial_id).state == "COMPLETE"
        else:
            assert recovered.state == "FAILED"
            assert "worker died" in recovered.error
        assert db.get_study("crash").counts["RUNNING"] == 0
    if storage_url.startswith("sqlite"):
        path = storage_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def _start_many(url: str, worker: str, ids: list[int], budget: int) -> dict[str, int]:
    """One driver: offers the same architectures in the same order as every other one."""
    taken: dict[str, int] = {}
    with storage.connect(url) as db:
        for i in ids:
            taken.update(db.start_trials("share", [arch(i)], worker=worker, node="n",
                                         budget=budget))
    return taken


def test_drivers_offering_the_same_architectures_start_each_once(storage_url: str) -> None:
    with storage.connect(storage_url) as db:
        db.create_study("share", objectives=OBJECTIVES)
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(4)

    def drive(w: int) -> None:
        barrier.wait()
        results.append(_start_many(storage_url, f"w{w}", list(range(60)), budget=50))

    threads = [threading.Thread(target=drive, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    taken = [a for r in results for a in r]
    assert len(taken) == len(set(taken)) == 50, "an architecture was started twice"
    with storage.connect(storage_url) as db:
        trials = db.trials("share")
    assert len(trials) == 50 and {t.state for t in trials} == {"RUNNING"}
    assert sorted(t.number for t in trials) == list(range(50))


def test_four_drivers_creating_one_study_at_once_all_join_it(storage_url: str) -> None:
    storage.connect(storage_url).close()
    barrier = threading.Barrier(4)
    got: list[object] = []

    def create() -> None:
        with storage.connect(storage_url) as db:
            barrier.wait()
            try:
                got.append(db.create_study("new", objectives=OBJECTIVES, exist_ok=True).id)
            except BaseException as exc:  # noqa: BLE001 - the test reports what went wrong
                got.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and len(set(got)) == 1 and isinstance(got[0], int), got
