"""Early stopping: the pruning rules, their options, and PRUNED trials through real Ray and SQL."""

from __future__ import annotations

import math
import sys
import time

import pytest
import ray
import ray.cloudpickle
import sqlalchemy as sa

import nas
import storage
from nas import UserError
from nas._pruners import Cutoffs
from nas._pruners import HalvingPruner
from nas._pruners import MedianPruner
from nas._pruners import make_pruner
from space import Space
from space import choice

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = Space({"a": choice(*range(10)), "b": choice(0, 1)})
STEPS = (1, 2, 3, 4)


def curve(arch, report=None) -> dict[str, float]:
    """A learning curve whose value at every step is proportional to ``a``."""
    for step in STEPS:
        time.sleep(0.02)
        report("score", step, float(arch["a"] * step))
    return {"score": float(arch["a"] * STEPS[-1]), "other": 1.0}


def no_report(arch) -> dict[str, float]:
    return {"score": 1.0}


def finished(pruner, *curves, state="COMPLETE"):
    for values in curves:
        pruner.observe([("score", step, v) for step, v in zip(STEPS, values, strict=False)],
                       state)


def test_cutoffs_compare_by_direction_at_known_steps_only():
    high = Cutoffs("acc", "max", {2: 0.5}).judge()
    assert high("acc", 2, 0.4) and not high("acc", 2, 0.5)
    assert not high("acc", 3, 0.0) and not high("loss", 2, 0.0)
    assert high("acc", 2, math.nan)
    low = Cutoffs("loss", "min", {2: 1.0}).judge()
    assert low("loss", 2, 1.5) and not low("loss", 2, 0.5)


def test_cutoffs_can_judge_the_best_value_so_far():
    at_step = Cutoffs("loss", "min", {2: 1.0}).judge()
    best = Cutoffs("loss", "min", {2: 1.0}, best_so_far=True).judge()
    for judge in (at_step, best):
        assert not judge("loss", 1, 0.5)
    assert at_step("loss", 2, 1.5) and not best("loss", 2, 1.5)


def test_median_rule_waits_for_min_trials_and_skips_warmup_and_pruned_trials():
    pruner = MedianPruner("score", "max", min_trials=3, warmup_steps=1)
    finished(pruner, [1, 2], [3, 6])
    assert pruner.cutoffs() is None
    # PRUNED trials stopped early for being bad; the median counts completed ones only.
    finished(pruner, [0, 0], state="PRUNED")
    finished(pruner, [5, 10], state="FAILED")
    assert pruner.cutoffs() is None
    finished(pruner, [2, 4, 6])
    cutoffs = pruner.cutoffs()
    assert cutoffs is not None and dict(cutoffs.bounds) == {2: 4}
    assert cutoffs.best_so_far
    assert cutoffs.judge()("score", 2, 3.9) and not cutoffs.judge()("score", 1, -100)


def test_halving_keeps_the_best_fraction_at_geometric_rungs():
    pruner = HalvingPruner("score", "min", min_trials=2, reduction_factor=2)
    finished(pruner, [8, 4, 2, 1], [6, 3, 2, 1])
    finished(pruner, [9], state="PRUNED")
    cutoffs = pruner.cutoffs()
    assert cutoffs is not None and not cutoffs.best_so_far
    # Rungs at steps 1, 2 and 4 (the first step, then doubling); step 3 is no rung.
    assert cutoffs is not None and set(cutoffs.bounds) == {1, 2, 4}
    # Step 1 has 3 values: with the judged trial's own, 4 // 2 = 2 go on.
    assert cutoffs.bounds[1] == 8
    assert cutoffs.bounds[2] == 3 and cutoffs.bounds[4] == 1


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("medain", None, "Unknown pruner 'medain'. Must be one of ['halving', 'median']"),
        ("median", {"reduction_factor": 2}, "Unknown option 'reduction_factor' of pruner"),
        ("median", {"min_trials": 0}, "pruner_options['min_trials'] must be an integer >= 1"),
        ("halving", {"reduction_factor": 1}, "'reduction_factor'] must be an integer >= 2"),
        ("median", {"metric": "val_acc"}, "needs pruner_options['direction'] 'min' or 'max'"),
    ],
)
def test_bad_pruner_settings_are_user_errors(name, options, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        make_pruner(name, {"score": "max"}, options)


def test_study_checks_its_pruner():
    def study(**kwargs):
        return nas.Study(name="s", space=SPACE, evaluate=curve, objectives={"score": "max"},
                         **kwargs)

    assert make_pruner("median", {"score": "max"}, {"metric": "loss", "direction": "min"})
    with pytest.raises(UserError, match="evaluate takes no `report` argument"):
        nas.Study(name="s", space=SPACE, evaluate=no_report, objectives={"score": "max"},
                  pruner="median")
    with pytest.raises(UserError, match="pruner_options are given but pruner is None"):
        study(pruner_options={"min_trials": 2})
    with pytest.raises(UserError, match="Unknown pruner"):
        study(pruner="asha")
    assert study(pruner="halving", pruner_options={"reduction_factor": 2}).pruner == "halving"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _intermediate(url: str, trial_id: int) -> list[tuple[int, float]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT step, value FROM intermediate_values WHERE trial_id = :t AND "
                "name = 'score' ORDER BY step"), {"t": trial_id}).all()
    finally:
        engine.dispose()
    return [(int(s), float(v)) for s, v in rows]


# One worker runs the queued baselines in order, so each is judged against all before it.
@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize(
    ("pruner", "options", "archs", "pruned"),
    [
        ("median", {"min_trials": 3},
         [(9, 0), (8, 0), (7, 0), (1, 0), (9, 1), (6, 0)], {3: 1, 5: 1}),
        ("halving", {"min_trials": 2, "reduction_factor": 2},
         [(9, 0), (1, 0), (2, 0), (7, 0), (9, 1)], {2: 1, 3: 2}),
    ],
    ids=["median", "halving"],
)
def test_trials_behind_the_finished_ones_end_pruned(storage_url, tmp_path, pruner, options,
                                                    archs, pruned):
    initial = [{"a": a, "b": b} for a, b in archs]
    study = nas.Study(name=f"prune-{pruner}", space=SPACE, evaluate=curve,
                      objectives={"score": "max"}, searcher="random", trials=len(archs),
                      initial=initial, pruner=pruner, pruner_options=options)
    result = nas.run(study, storage=storage_url, workers=1, quiet=True, log_dir=tmp_path)
    trials = storage.connect(storage_url).trials(study.name)
    assert [t.arch for t in trials] == initial
    assert {t.number: t.state for t in trials} == {
        i: "PRUNED" if i in pruned else "COMPLETE" for i in range(len(archs))}
    assert (result.complete, result.pruned) == (len(archs) - len(pruned), len(pruned))
    for number, step in pruned.items():
        trial = trials[number]
        values = _intermediate(storage_url, trial.id)
        # Stopped at the value that fell behind, which is kept as its metric.
        assert values == [(s, float(trial.arch["a"] * s)) for s in STEPS[:step]]
        assert trial.metrics == {"score": values[-1][1]}
    complete = [t for t in trials if t.state == "COMPLETE"]
    assert all(len(_intermediate(storage_url, t.id)) == len(STEPS) for t in complete)
    assert all(t.metrics["other"] == 1.0 for t in complete)
    # Only completed trials rank; a resumed run counts the pruned ones as finished.
    assert {t.number for t in result.best} <= {t.number for t in complete}
    again = nas.run(study, storage=storage_url, workers=1, quiet=True, log_dir=tmp_path)
    assert again.pruned == len(pruned)
    assert len(storage.connect(storage_url).trials(study.name)) == len(archs)


@pytest.mark.usefixtures("local_ray")
def test_a_resumed_run_prunes_against_the_curves_in_the_database(storage_url, tmp_path):
    done = [{"a": a, "b": 0} for a in (9, 8, 7)]

    def study(initial, trials):
        return nas.Study(name="prune-resume", space=SPACE, evaluate=curve,
                         objectives={"score": "max"}, searcher="random", trials=trials,
                         initial=initial, pruner="median", pruner_options={"min_trials": 3})

    nas.run(study(done, 3), storage=storage_url, workers=1, quiet=True, log_dir=tmp_path)
    # A fresh driver: only the stored curves of the three finished trials can stop this one.
    result = nas.run(study([*done, {"a": 1, "b": 0}], 4), storage=storage_url, workers=1,
                     quiet=True, log_dir=tmp_path)
    trials = storage.connect(storage_url).trials("prune-resume")
    assert [t.state for t in trials] == ["COMPLETE"] * 3 + ["PRUNED"]
    assert result.pruned == 1
