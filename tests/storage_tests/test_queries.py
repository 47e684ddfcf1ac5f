"""The query API: best, where-filters, the Pareto front, the SQL view, profiles and friends."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

import storage
from tests.storage_tests.conftest import arch

# (accuracy, latency_ms, params) per trial; trial 5 breaks the study's latency_ms <= 5.
RESULTS = [
    (0.70, 1.0, 1e5),
    (0.80, 2.0, 3e5),
    (0.75, 3.0, 2e5),  # dominated by trial 1 on (accuracy, latency_ms)
    (0.90, 4.5, 2e6),
    (0.90, 4.5, 2e6),  # a duplicate of trial 3: both are on the front
    (0.99, 9.0, 5e6),  # infeasible
    (0.60, 0.5, 5e4),
]


@pytest.fixture
def filled(db: storage.Database, study: str) -> str:
    db.add_results(
        study,
        [
            (*arch(i), {"accuracy": a, "latency_ms": lat, "params": p})
            for i, (a, lat, p) in enumerate(RESULTS)
        ],
    )
    queued = db.add_trials(study, [arch(100)])
    db.start_trial(queued[0], worker="w", node="n")
    return study


def numbers(trials: list[dict]) -> list[int]:
    return [t.number for t in trials]


def test_best_ranks_feasible_trials_by_the_first_objective(
    db: storage.Database, filled: str
) -> None:
    best = db.best(filled, k=3)
    assert numbers(best) == [3, 4, 1]
    assert best[0].metrics == {"accuracy": 0.9, "latency_ms": 4.5, "params": 2e6}
    assert best[0].state == "COMPLETE" and best[0].arch == {"e0": 0, "width": 3}
    assert numbers(db.best(filled, k=2, objective="latency_ms")) == [6, 0]
    assert numbers(db.best(filled, k=1, objective="params:max")) == [3]
    assert numbers(db.best(filled, k=100)) == [3, 4, 1, 2, 0, 6]


def test_best_with_where(db: storage.Database, filled: str) -> None:
    assert numbers(db.best(filled, 5, where="latency_ms < 3")) == [1, 0, 6]
    assert numbers(db.best(filled, 5, where="latency_ms < 3 and params <= 1e5")) == [0, 6]
    assert numbers(
        db.best(filled, 5, where="(params > 1e6 or latency_ms < 0.6) and accuracy >= -1")
    ) == [3, 4, 6]
    assert numbers(db.best(filled, 5, where="2 > latency_ms")) == [0, 6]
    assert numbers(db.best(filled, 5, where="accuracy == 0.75")) == [2]
    assert numbers(db.best(filled, 5, where="accuracy != 0.9 AND latency_ms > 1")) == [1, 2]
    assert db.best(filled, 5, where="latency_ms < 0") == []


def test_best_refuses_unknown_metrics_and_objectives(db: storage.Database, filled: str) -> None:
    with pytest.raises(storage.InvalidQuery) as info:
        db.best(filled, where="latency < 5")
    message = str(info.value)
    assert "unknown 'latency'" in message
    assert "Known metrics: accuracy, latency_ms, params." in message
    with pytest.raises(storage.InvalidQuery, match="'params' is not one of.*'params:min'"):
        db.best(filled, objective="params")
    with pytest.raises(storage.InvalidQuery, match="at least 1"):
        db.best(filled, k=0)


def _brute_front(values: np.ndarray, signs: np.ndarray) -> set[int]:
    costs = values * signs
    return {
        i
        for i in range(len(costs))
        if not any(
            (costs[j] <= costs[i]).all() and (costs[j] < costs[i]).any() for j in range(len(costs))
        )
    }


def test_pareto_is_the_non_dominated_feasible_set(db: storage.Database, filled: str) -> None:
    front = db.pareto(filled)
    # Sorted by the first objective (accuracy, max) best first; infeasible trial 5 is out.
    assert numbers(front) == [3, 4, 1, 0, 6]
    assert numbers(db.pareto(filled, objectives=["latency_ms", "params:min"])) == [6]
    three = db.pareto(filled, objectives=["accuracy", "latency_ms", "params:min"])
    assert set(numbers(three)) == {0, 1, 2, 3, 4, 6}


def test_pareto_matches_a_brute_force_front(db: storage.Database, study: str) -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 6, size=(120, 3)).astype(float)
    db.add_results(
        study,
        [
            (*arch(i), {"accuracy": a, "latency_ms": lat, "params": p})
            for i, (a, lat, p) in enumerate(values)
        ],
    )
    feasible = np.flatnonzero(values[:, 1] <= 5.0)
    expected = _brute_front(values[feasible], np.array([-1.0, 1.0, 1.0]))
    got = db.pareto(study, objectives=["accuracy", "latency_ms", "params:min"])
    assert set(numbers(got)) == {int(feasible[i]) for i in expected}
    points = db.pareto_points(study, objectives=["accuracy", "latency_ms", "params:min"])
    assert len(points["ids"]) == len(feasible) and points["front"].sum() == len(got)


def test_pareto_of_an_empty_study_is_empty(db: storage.Database, study: str) -> None:
    assert db.pareto(study) == []
    assert db.best(study, 3) == []


def test_studies_and_trials_listings(db: storage.Database, filled: str) -> None:
    (listed,) = db.studies()
    assert listed.name == filled and listed.objectives == {
        "accuracy": "max",
        "latency_ms": "min",
    }
    assert listed.counts["COMPLETE"] == 7 and listed.counts["RUNNING"] == 1
    assert listed.trials == 8
    assert numbers(db.trials(filled)) == list(range(8))
    assert numbers(db.trials(filled, state="RUNNING")) == [7]
    with pytest.raises(storage.InvalidQuery, match="Trial states are"):
        db.trials(filled, state="DONE")


def test_the_readme_sql_query_runs_on_the_trial_metrics_view(
    storage_url: str, db: storage.Database, filled: str
) -> None:
    best_sql = """
        SELECT acc.trial, acc.value AS accuracy, lat.value AS latency_ms
        FROM trial_metrics AS acc
        JOIN trial_metrics AS lat ON lat.trial_id = acc.trial_id AND lat.metric = 'latency_ms'
        WHERE acc.study = 'demo' AND acc.state = 'COMPLETE' AND acc.metric = 'accuracy'
          AND lat.value < 5
        ORDER BY acc.value DESC, acc.trial
        LIMIT 1
    """
    pivot_sql = """
        SELECT trial,
               MAX(CASE WHEN metric = 'accuracy' THEN value END) AS accuracy,
               MAX(CASE WHEN metric = 'latency_ms' THEN value END) AS latency_ms
        FROM trial_metrics
        WHERE study = 'demo' AND state = 'COMPLETE'
        GROUP BY trial
        ORDER BY trial
    """
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        assert tuple(conn.execute(text(best_sql)).one()) == (3, 0.9, 4.5)
        pivot = [tuple(row) for row in conn.execute(text(pivot_sql))]
    engine.dispose()
    assert pivot == [(i, a, lat) for i, (a, lat, _) in enumerate(RESULTS)]


def test_searcher_state_round_trips_and_is_replaced(db: storage.Database, study: str) -> None:
    assert db.searcher_state(study) is None
    db.save_searcher_state(study, {"population": [[1, 2]], "rng": {"seed": 3}})
    db.save_searcher_state(study, {"population": [[4]], "rng": {"seed": 5}})
    assert db.searcher_state(study) == {"population": [[4]], "rng": {"seed": 5}}


PROFILE = {
    "device": "cpu",
    "op": "linear",
    "shape": {"m": 128, "k": 256, "n": 256},
    "dtype": "float32",
    "median_ms": 0.031,
    "spread": 0.04,
    "repeats": 50,
    "threads": 2,
    "software": {"torch": "2.13.0", "triton": None, "python": "3.11.7"},
    "hardware": {"cpu": "Xeon", "gpu": None},
    "measured_at": "2026-11-24T05:00:00Z",
}


def test_profiles_round_trip_in_the_kernels_form(db: storage.Database) -> None:
    softmax = {**PROFILE, "op": "softmax", "shape": {"rows": 8, "cols": 64}}
    gpu = {**PROFILE, "device": "cuda"}
    assert db.add_profiles([PROFILE, softmax, gpu]) == 3
    assert db.profiles("cpu") == [PROFILE, softmax]
    assert db.profiles("cpu", op="softmax") == [softmax]
    assert db.profiles("stm32f746") == []
    assert [d["name"] for d in db.devices()] == ["cpu", "cuda"]


def test_latency_models_are_versioned(db: storage.Database) -> None:
    assert db.latency_model("cpu") is None
    assert db.save_latency_model("cpu", {"scale": 1.0}, {"mape": 0.2}) == 1
    assert db.save_latency_model("cpu", {"scale": 1.1}, {"mape": 0.1}) == 2
    newest = db.latency_model("cpu")
    assert newest is not None
    assert (newest["version"], newest["params"], newest["validation"]) == (
        2,
        {"scale": 1.1},
        {"mape": 0.1},
    )


def test_artifacts_belong_to_trials(db: storage.Database, study: str) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    db.add_artifact(trial_id, "ckpt/0.pt", "ab" * 32)
    assert [(a["path"], a["sha256"]) for a in db.artifacts(trial_id)] == [("ckpt/0.pt", "ab" * 32)]
    with pytest.raises(storage.TrialNotFound):
        db.add_artifact(999, "x", "y")


def test_study_artifacts_belong_to_the_study_not_its_trials(db: storage.Database,
                                                             study: str) -> None:
    (trial_id,) = db.add_trials(study, [arch(0)])
    db.add_artifact(trial_id, "ckpt/0.pt", "ab" * 32, kind="weights")
    db.add_study_artifact(study, "supernet", "supernet/1.pt", "cd" * 32)
    db.add_study_artifact(study, "log", "run.log", "ef" * 32)
    assert [a["path"] for a in db.study_artifacts(study)] == ["supernet/1.pt", "run.log"]
    assert [a["sha256"] for a in db.study_artifacts(study, "supernet")] == ["cd" * 32]
    assert [a["kind"] for a in db.artifacts(trial_id)] == ["weights"]
    with pytest.raises(storage.StudyNotFound):
        db.add_study_artifact("nope", "supernet", "x", "y")


@pytest.mark.parametrize(
    "objectives", list(itertools.permutations(["accuracy", "latency_ms", "params:max"], 2))
)
def test_pareto_front_members_are_not_dominated(
    db: storage.Database, filled: str, objectives: tuple[str, str]
) -> None:
    points = db.pareto_points(filled, objectives)
    signs = np.array([-1.0 if d == "max" else 1.0 for d in points["directions"]])
    expected = _brute_front(points["values"], signs)
    assert set(np.flatnonzero(points["front"]).tolist()) == expected
