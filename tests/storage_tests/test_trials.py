"""The trial life cycle: numbering, the state machine, claims, reports, recovery, pooling."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

import storage
from space import Architecture
from tests.storage_tests.conftest import OBJECTIVES
from tests.storage_tests.conftest import arch


def test_trials_are_numbered_per_study_and_keep_their_architecture(
    db: storage.Database, study: str
) -> None:
    first = db.add_trials(study, [arch(0), arch(1)], searcher="random")
    # An architecture is in a study once: adding it again adds nothing.
    assert db.add_trials(study, [arch(0), arch(1)]) == []
    again = db.add_trials(study, [arch(2), arch(2)])
    db.create_study("other", objectives=OBJECTIVES, constraints=[])
    other = db.add_trials("other", [arch(0)])
    assert [db.trial(i).number for i in first + again] == [0, 1, 2]
    assert db.trial(other[0]).number == 0
    trial = db.trial(first[1])
    assert trial.arch_id == arch(1)[0]
    assert trial.arch == {"e0": 1, "width": 1}
    assert (trial.state, trial.searcher, trial.retries) == ("QUEUED", "random", 0)
    assert db.architecture(arch(1)[0]) == {"e0": 1, "width": 1}
    assert db.architecture_json(arch(1)[0]) == arch(1)[1]


def test_architecture_objects_are_taken_as_they_are(db: storage.Database, study: str) -> None:
    # Callers hand over space.Architecture values; storage reads their id and canonical JSON.
    a, b, c = (Architecture({"width": w, "e0": 0}) for w in (8, 16, 32))
    queued = db.add_trials(study, [a])
    started = db.start_trials(study, [a, b], worker="w", node="n")
    (done,) = db.add_results(study, [(c, {"accuracy": 0.5})])
    assert list(started) == [b.id]
    assert [db.trial(i).arch_id for i in queued + list(started.values()) + [done]] == [
        a.id, b.id, c.id]
    assert db.architecture_json(c.id) == c.to_json()
    assert db.trial(done).metrics == {"accuracy": 0.5}


def test_claims_go_in_number_order_and_end_with_none(db: storage.Database, study: str) -> None:
    ids = db.add_trials(study, [arch(i) for i in range(3)])
    got = [db.claim_trial(study, worker="w1", node="n1") for _ in range(4)]
    assert [t.id for t in got[:3]] == ids
    assert got[3] is None
    assert all(t.state == "RUNNING" and t.worker == "w1" and t.started for t in got[:3])


def test_a_finished_trial_has_its_metrics_and_never_runs_again(
    db: storage.Database, study: str
) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    db.start_trial(trial_id, worker="w", node="n")
    db.finish_trial(trial_id, {"accuracy": 0.75, "latency_ms": 3})
    trial = db.trial(trial_id)
    assert trial.state == "COMPLETE" and trial.finished is not None
    assert trial.metrics == {"accuracy": 0.75, "latency_ms": 3.0}
    with pytest.raises(storage.InvalidTransition, match="RUNNING only from QUEUED.*is COMPLETE"):
        db.start_trial(trial_id, worker="w", node="n")
    with pytest.raises(storage.InvalidTransition, match="is COMPLETE"):
        db.finish_trial(trial_id, {"accuracy": 0.1})
    with pytest.raises(storage.InvalidTransition, match="is COMPLETE"):
        db.fail_trial(trial_id, "late", requeue=True)
    # The refused finish wrote nothing.
    assert db.trial(trial_id).metrics == {"accuracy": 0.75, "latency_ms": 3.0}


def test_a_queued_trial_cannot_finish_or_fail(db: storage.Database, study: str) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    with pytest.raises(storage.InvalidTransition, match="COMPLETE only from RUNNING"):
        db.finish_trial(trial_id, {"accuracy": 0.5})
    with pytest.raises(storage.InvalidTransition, match="FAILED only from RUNNING"):
        db.fail_trial(trial_id, "boom")
    assert db.trial(trial_id).state == "QUEUED"
    assert db.trial(trial_id).metrics == {}


def test_failures_and_requeues(db: storage.Database, study: str) -> None:
    a, b = db.add_trials(study, [arch(0), arch(1)])
    db.start_trial(a, worker="w", node="n")
    db.fail_trial(a, "CUDA out of memory", requeue=True)
    requeued = db.trial(a)
    assert (requeued.state, requeued.retries, requeued.worker) == ("QUEUED", 1, None)
    assert requeued.error == "CUDA out of memory"
    db.start_trial(a, worker="w2", node="n")
    db.fail_trial(a, "again")
    assert (db.trial(a).state, db.trial(a).retries) == ("FAILED", 1)
    db.start_trial(b, worker="w", node="n")
    db.finish_trial(b, {"accuracy": 0.2}, state="PRUNED")
    assert db.trial(b).state == "PRUNED"
    assert db.get_study(study).counts == {
        "QUEUED": 0,
        "RUNNING": 0,
        "COMPLETE": 0,
        "FAILED": 1,
        "PRUNED": 1,
    }
    assert db.trial_counts(study) == db.get_study(study).counts


def test_two_finishes_of_one_trial_cannot_both_succeed(
    storage_url: str, db: storage.Database, study: str
) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    db.start_trial(trial_id, worker="w", node="n")
    with storage.connect(storage_url) as other:
        other.finish_trial(trial_id, {"accuracy": 0.3})
    with pytest.raises(storage.InvalidTransition):
        db.finish_trial(trial_id, {"accuracy": 0.9})
    assert db.trial(trial_id).metrics == {"accuracy": 0.3}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "fast", None, True])
def test_non_finite_metric_values_are_refused_and_nothing_is_written(
    db: storage.Database, study: str, value: object
) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    db.start_trial(trial_id, worker="w", node="n")
    with pytest.raises(storage.InvalidQuery, match="'accuracy' must be a finite number"):
        db.finish_trial(trial_id, {"latency_ms": 1.0, "accuracy": value})
    assert db.trial(trial_id).state == "RUNNING"
    assert db.trial(trial_id).metrics == {}


def test_intermediate_values_only_while_running(
    storage_url: str, db: storage.Database, study: str
) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    with pytest.raises(storage.InvalidTransition, match="only by RUNNING trials"):
        db.report(trial_id, "loss", 0, 2.0)
    db.start_trial(trial_id, worker="w", node="n")
    for step, value in enumerate([2.0, 1.5, 1.2]):
        db.report(trial_id, "loss", step, value)
    db.report(trial_id, "loss", 2, 1.1)
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT step, value FROM intermediate_values WHERE trial_id = :t ORDER BY step"),
            {"t": trial_id},
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(0, 2.0), (1, 1.5), (2, 1.1)]
    assert db.intermediate_values(study) == {
        trial_id: [("loss", 0, 2.0), ("loss", 1, 1.5), ("loss", 2, 1.1)]
    }


def test_recover_spares_live_workers(db: storage.Database, study: str) -> None:
    ids = db.add_trials(study, [arch(i) for i in range(3)])
    for trial_id, worker in zip(ids, ["dead", "alive", "dead"], strict=True):
        db.start_trial(trial_id, worker=worker, node="n")
    assert db.recover(study, alive=["alive"]) == [ids[0], ids[2]]
    assert [db.trial(i).state for i in ids] == ["FAILED", "RUNNING", "FAILED"]
    assert db.recover(study, stale_after=3600) == []
    assert db.recover(study, requeue=True) == [ids[1]]
    assert db.trial(ids[1]).state == "QUEUED"


def test_unknown_names_raise_lookup_errors_that_list_what_exists(
    db: storage.Database, study: str
) -> None:
    with pytest.raises(storage.StudyNotFound, match="No study is named 'dmeo'.*demo") as info:
        db.trials("dmeo")
    assert isinstance(info.value, LookupError)
    with pytest.raises(storage.TrialNotFound):
        db.trial(12345)
    with pytest.raises(storage.TrialNotFound):
        db.start_trial(12345, worker="w", node="n")
    with pytest.raises(storage.ArchitectureNotFound):
        db.architecture("nope")


def test_study_names_are_unique_unless_resuming(db: storage.Database, study: str) -> None:
    with pytest.raises(storage.StudyExists, match="already exists"):
        db.create_study(study, objectives=OBJECTIVES)
    assert db.create_study(study, objectives=OBJECTIVES, exist_ok=True).name == study
    with pytest.raises(storage.StudyExists, match="objectives differ"):
        db.create_study(study, objectives={"loss": "min"}, exist_ok=True)
    stored = db.get_study(study)
    assert stored.objectives == OBJECTIVES
    assert stored.constraints == [{"metric": "latency_ms", "op": "<=", "bound": 5.0}]
    assert len(stored.spec_hash) == 64 and stored.searcher == "random"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objectives": {}}, "at least one objective"),
        ({"objectives": {"accuracy": "up"}}, "must be 'min' or 'max'"),
        ({"objectives": OBJECTIVES, "constraints": [{"metric": "x"}]}, "'metric', 'op'"),
        (
            {"objectives": OBJECTIVES, "constraints": [{"metric": "x", "op": "=", "bound": 1}]},
            "op must be one of",
        ),
    ],
)
def test_bad_studies_are_refused(db: storage.Database, kwargs: dict, match: str) -> None:
    with pytest.raises(storage.InvalidQuery, match=match):
        db.create_study("bad", **kwargs)
    assert db.studies() == []


def test_errors_leave_no_connection_checked_out(db: storage.Database, study: str) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    for _ in range(20):
        with pytest.raises(storage.InvalidTransition):
            db.finish_trial(trial_id, {"accuracy": 1.0})
    assert db._engine.pool.checkedout() == 0


@pytest.mark.postgres
def test_postgres_connections_are_bounded_and_closed(postgres_url: str) -> None:
    import psycopg

    def connections() -> int:
        dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
        name = dsn.rsplit("/", 1)[1]
        with psycopg.connect(dsn.rsplit("/", 1)[0] + "/postgres") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    db = storage.connect(postgres_url)
    db.create_study("s", objectives=OBJECTIVES, constraints=[])
    db.add_trials("s", [arch(i) for i in range(50)])
    while (trial := db.claim_trial("s", worker="w", node="n")) is not None:
        db.finish_trial(trial.id, {"accuracy": 0.5})
        db.best("s", 3)
    assert 1 <= connections() <= storage._engine.PG_POOL_SIZE + storage._engine.PG_MAX_OVERFLOW
    db.close()
    # The server ends a closed connection's backend asynchronously: give it a moment.
    deadline = time.monotonic() + 10
    while connections() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert connections() == 0


def test_start_trials_claims_new_architectures_within_the_budget(
    db: storage.Database, study: str
) -> None:
    db.add_trials(study, [arch(0)])
    taken = db.start_trials(study, [arch(0), arch(1), arch(1), arch(2), arch(3)],
                            worker="d1", node="h1", budget=2)
    assert list(taken) == [arch(1)[0], arch(2)[0]]
    assert db.start_trials(study, [arch(3)], worker="d1", node="h1", budget=2) == {}
    # The queued trial is not claimable either while the budget is spent.
    assert db.claim_trial(study, worker="d1", node="h1", budget=2) is None
    assert db.claim_trial(study, worker="d1", node="h1", budget=3).arch_id == arch(0)[0]
    running = db.trials(study, "RUNNING")
    assert [(t.worker, t.node) for t in running] == [("d1", "h1")] * 3


def test_finish_trials_writes_metrics_and_curves_in_one_step(
    db: storage.Database, study: str
) -> None:
    taken = db.start_trials(study, [arch(i) for i in range(3)], worker="d", node="h")
    a, b, c = taken.values()
    lost = db.finish_trials([
        storage.TrialOutcome(a, "COMPLETE", {"accuracy": 0.9}, [("accuracy", 0, 0.5),
                                                                ("accuracy", 1, 0.9)]),
        storage.TrialOutcome(b, "FAILED", error="boom"),
        storage.TrialOutcome(c, "PRUNED", {"accuracy": 0.1}, [("accuracy", 0, 0.1)]),
    ])
    assert lost == []
    by_id = {t.id: t for t in db.trials(study)}
    assert (by_id[a].state, by_id[a].metrics) == ("COMPLETE", {"accuracy": 0.9})
    assert (by_id[b].state, by_id[b].error) == ("FAILED", "boom")
    assert by_id[c].state == "PRUNED"
    assert db.intermediate_values(study)[a] == [("accuracy", 0, 0.5), ("accuracy", 1, 0.9)]
    # A trial already finished is reported back, not written twice.
    assert db.finish_trials([storage.TrialOutcome(a, "COMPLETE", {"accuracy": 1.0})]) == [a]


@pytest.mark.parametrize("name", ["", "m" * 65, "a\x00b", 7])
def test_a_metric_name_either_backend_would_refuse_is_refused_before_writing(
    db: storage.Database, study: str, name: object
) -> None:
    (tid,) = db.start_trials(study, [arch(0)], worker="d", node="h").values()
    with pytest.raises(storage.InvalidQuery, match="Metric names must be strings of 1 to 64"):
        db.finish_trials([storage.TrialOutcome(tid, "COMPLETE", {name: 1.0})])
    with pytest.raises(storage.InvalidQuery, match="Metric names must be strings of 1 to 64"):
        db.finish_trials([storage.TrialOutcome(tid, "COMPLETE", {}, [(name, 0, 1.0)])])
    assert db.trial(tid).state == "RUNNING"


def test_expired_leases_are_requeued_whatever_the_host(db: storage.Database, study: str) -> None:
    from sqlalchemy import update

    from storage._engine import transaction
    from storage._models import Trial
    from storage._time import utcnow

    taken = db.start_trials(study, [arch(0), arch(1)], worker="other-host:1:x",
                            node="other-host")
    dead, alive = taken.values()
    # The dead driver's lease was last renewed a minute ago; the live one renews now.
    with transaction(db._engine, write=True) as conn:
        conn.execute(update(Trial).where(Trial.id == dead)
                     .values(heartbeat=utcnow() - timedelta(seconds=60)))
    assert db.recover(study, lease_s=30, requeue=True) == [dead]
    assert db.renew_leases("other-host:1:x") == 1
    trial = db.trial(dead)
    assert (trial.state, trial.retries, trial.worker) == ("QUEUED", 1, None)
    assert db.trial(alive).state == "RUNNING"
