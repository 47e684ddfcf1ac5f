"""Drivers sharing a study, leases, checked results and start-up order, on real Ray, SQLite and
PostgreSQL."""

from __future__ import annotations

import sys
import threading
from datetime import timedelta

import pytest
import ray
import ray.cloudpickle
from sqlalchemy import update

import nas
import storage
from nas import UserError
from space import Constraint
from space import Space
from space import choice

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = Space({"a": choice(*range(20)), "b": choice(*range(20))})


def bowl(arch) -> dict[str, float]:
    return {"loss": float((arch["a"] - 7) ** 2 + (arch["b"] - 3) ** 2)}


def long_name_for_odd_a(arch) -> dict[str, float]:
    extra = {"m" * 100: 1.0} if arch["a"] % 2 else {}
    return bowl(arch) | extra


def study(name: str, evaluate=bowl, **kwargs) -> nas.Study:
    options = {"searcher": "random", "trials": 12} | kwargs
    return nas.Study(name=name, space=SPACE, evaluate=evaluate, objectives={"loss": "min"},
                     **options)


# These two run first: they check that Ray was never started.
def test_a_changed_study_is_refused_before_ray_starts(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    with storage.connect(url) as db:
        db.create_study("fixed", objectives={"loss": "min"}, searcher="random",
                        space_hash=SPACE.hash,
                        constraints=[{"metric": "loss", "op": "<=", "bound": 50.0}])
    assert not ray.is_initialized()
    looser = study("fixed", constraints=[Constraint("loss", "<=", 80)])
    with pytest.raises(UserError, match=r"stored with constraints .*50\.0.*--allow-changes"):
        nas.run(looser, storage=url, quiet=True, log_dir=tmp_path)
    with pytest.raises(UserError, match="stored with searcher random.*asks for evolution"):
        nas.run(study("fixed", searcher="evolution",
                      constraints=[Constraint("loss", "<=", 50)]),
                storage=url, quiet=True, log_dir=tmp_path)
    assert not ray.is_initialized()


def test_a_finished_study_prints_its_result_without_ray(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    done = study("done", trials=3)
    with storage.connect(url) as db:
        db.create_study("done", objectives={"loss": "min"}, searcher="random",
                        space_hash=SPACE.hash)
        archs = [SPACE.sample(seed=i) for i in range(3)]
        db.add_results("done", [(a.id, a.to_json(), bowl(a)) for a in archs])
    # No Ray listens there: a run that tried to start or join one would fail.
    result = nas.run(done, storage=url, address="127.0.0.1:1", quiet=True, log_dir=tmp_path,
                     spec_source="study = ...\n", allow_changes=True)
    assert result.complete == 3 and result.best[0].metrics == min(
        (bowl(a) for a in archs), key=lambda m: m["loss"])
    assert not ray.is_initialized()
    assert storage.connect(url).get_study("done").spec_hash is not None


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _drivers(n: int, url: str, tmp_path, the_study: nas.Study) -> list[object]:
    """``n`` drivers with equal seeds started at the same instant on one study."""
    barrier = threading.Barrier(n)
    results: list[object] = []

    def drive() -> None:
        barrier.wait()
        try:
            results.append(nas.run(the_study, storage=url, workers=2, seed=0, quiet=True,
                                   log_dir=tmp_path))
        except BaseException as exc:  # noqa: BLE001 - the assertion shows it
            results.append(exc)

    threads = [threading.Thread(target=drive) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


@pytest.mark.usefixtures("local_ray")
@pytest.mark.parametrize("drivers", [2, 4])
def test_drivers_with_equal_seeds_share_a_new_study_exactly(storage_url, tmp_path, drivers):
    results = _drivers(drivers, storage_url, tmp_path, study("shared"))
    assert all(isinstance(r, nas.RunResult) for r in results), results
    # Every driver reports the study's counts, not only its own trials.
    assert [r.complete for r in results] == [12] * drivers
    with storage.connect(storage_url) as db:
        trials = db.trials("shared")
    assert [t.state for t in trials] == ["COMPLETE"] * 12
    assert len({t.arch_id for t in trials}) == 12


@pytest.mark.usefixtures("local_ray")
def test_a_metric_name_the_database_refuses_fails_its_trial_only(storage_url, tmp_path):
    result = nas.run(study("names", long_name_for_odd_a, trials=30), storage=storage_url,
                     quiet=True, log_dir=tmp_path)
    assert result.complete + result.failed == 30 and result.failed > 0
    with storage.connect(storage_url) as db:
        for t in db.trials("names"):
            if t.arch["a"] % 2:
                assert t.state == "FAILED"
                assert "Metric names must be strings of 1 to 64 characters" in t.error
            else:
                assert t.state == "COMPLETE"


@pytest.mark.usefixtures("local_ray")
def test_trials_of_a_driver_dead_on_another_host_are_taken_back(tmp_path):
    from storage._engine import transaction
    from storage._models import Trial
    from storage._time import utcnow

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    first = study("lease", trials=4)
    nas.run(first, storage=url, quiet=True, log_dir=tmp_path)
    with storage.connect(url) as db:
        # A driver on another machine took two trials and vanished a minute ago.
        taken = db.start_trials("lease", [(a.id, a.to_json()) for a in
                                          (SPACE.sample(seed=100), SPACE.sample(seed=101))],
                                worker="elsewhere:4242:dead", node="elsewhere")
        with transaction(db._engine, write=True) as conn:
            conn.execute(update(Trial).where(Trial.id.in_(list(taken.values())))
                         .values(heartbeat=utcnow() - timedelta(seconds=60)))
    result = nas.run(study("lease", trials=8), storage=url, quiet=True, log_dir=tmp_path,
                     lease_s=30)
    assert result.complete == 8
    with storage.connect(url) as db:
        trials = db.trials("lease")
    assert [t.state for t in trials] == ["COMPLETE"] * 8
    retaken = [t for t in trials if t.id in taken.values()]
    assert len(retaken) == 2 and all(t.retries == 1 for t in retaken)
