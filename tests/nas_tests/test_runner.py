"""The study runner on real Ray with a real database: local runs, clusters, failures, resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import ray
import ray.cloudpickle

import nas
import storage
from evaluators import BaseEvaluator
from nas import UserError
from space import Constraint
from space import Space
from space import choice
from space import count_params

# Ray workers cannot import this test module by name; ship its functions by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPACE = Space({"a": choice(*range(20)), "b": choice(*range(20))})
MARKERS = "HETNAS_TEST_MARKERS"


def bowl(arch) -> dict[str, float]:
    return {"loss": float((arch["a"] - 7) ** 2 + (arch["b"] - 3) ** 2)}


def study(name: str, evaluate=bowl, **kwargs) -> nas.Study:
    options = {"searcher": "random", "trials": 8} | kwargs
    return nas.Study(name=name, space=SPACE, evaluate=evaluate, objectives={"loss": "min"},
                     **options)


def dies_once(arch, marker_dir: str) -> dict[str, float]:
    """Kills its own worker process on the first call of the study, then evaluates normally."""
    marker = Path(marker_dir) / "died"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return bowl(arch)


def always_dies(arch) -> dict[str, float]:
    os.kill(os.getpid(), signal.SIGKILL)
    return {}


def slow_or_broken(arch) -> dict[str, float]:
    if arch["a"] % 2:
        time.sleep(60)
    if arch["b"] % 2:
        raise ValueError(f"odd b={arch['b']}")
    return bowl(arch)


def nan_for_odd_a(arch) -> dict[str, float]:
    return {"loss": math.nan if arch["a"] % 2 else bowl(arch)["loss"]}


class PricedInBatches(BaseEvaluator):
    """Prices a list at once, notes each batch size in ``folder``, and refuses a = 13."""

    metrics = ("loss",)

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def __call__(self, arch, report=None) -> dict[str, float]:
        if arch["a"] == 13:
            raise ValueError("a = 13 has no price")
        return bowl(arch)

    def evaluate_many(self, archs):
        (Path(self.folder) / f"batch-{len(archs)}-{os.getpid()}-{time.time_ns()}").touch()
        return [self(arch) for arch in archs]


def on_which_node(arch, marker_dir: str) -> dict[str, float]:
    node = ray.get_runtime_context().get_node_id()
    (Path(marker_dir) / node).touch()
    time.sleep(0.5)
    return bowl(arch)


def states(url: str, name: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in storage.connect(url).trials(name):
        counts[t.state] = counts.get(t.state, 0) + 1
    return counts


@pytest.fixture(scope="class")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.mark.usefixtures("local_ray")
class TestLocal:
    def test_two_workers_end_to_end_and_continue(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        baseline = {"a": 7, "b": 3}
        result = nas.run(study("local", initial=[baseline]), storage=url, workers=2, quiet=True,
                         log_dir=tmp_path)
        assert (result.complete, result.failed) == (8, 0)
        assert result.best[0].arch == baseline and result.best[0].searcher == "initial"
        assert result.best[0].metrics["loss"] == min(
            t.metrics["loss"] for t in storage.connect(url).trials("local"))
        first = {t.id: t for t in storage.connect(url).trials("local")}
        assert "ended" in (tmp_path / "local.log").read_text()
        # The checkpoint holds the searcher's extras; the history stays in the trials table.
        saved = storage.connect(url).searcher_state("local")
        assert saved["told"] == 8 and "history" not in saved

        # The same spec again with a larger budget continues the study: nothing re-run.
        result = nas.run(study("local", trials=12, initial=[baseline]), storage=url, workers=2,
                         quiet=True, log_dir=tmp_path)
        trials = storage.connect(url).trials("local")
        assert result.complete == len(trials) == 12
        assert len({t.arch_id for t in trials}) == 12
        assert [t for t in trials if t.id in first] == list(first.values())

    def test_worker_killed_mid_trial_is_retried(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        evaluate = _partial(dies_once, str(tmp_path))
        result = nas.run(study("killed", evaluate, trials=6), storage=url, workers=2, quiet=True,
                     log_dir=tmp_path)
        assert (tmp_path / "died").exists()
        trials = storage.connect(url).trials("killed")
        assert result.complete == 6 and [t.state for t in trials] == ["COMPLETE"] * 6
        assert sorted(t.retries for t in trials) == [0] * 5 + [1]

    def test_worker_that_always_dies_fails_with_error_kept(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        result = nas.run(study("doomed", always_dies, trials=2, retries=1), storage=url,
                     workers=2, quiet=True, log_dir=tmp_path)
        trials = storage.connect(url).trials("doomed")
        assert result.failed == 2 and all(t.state == "FAILED" for t in trials)
        assert all("worker died 2 times" in t.error for t in trials)

    def test_timeout_and_errors_fail_trials(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        start = time.monotonic()
        nas.run(study("flaky", slow_or_broken, trials=6, timeout_s=2), storage=url, workers=2,
            quiet=True, log_dir=tmp_path)
        assert time.monotonic() - start < 45
        for t in storage.connect(url).trials("flaky"):
            a, b = t.arch["a"], t.arch["b"]
            if a % 2:
                assert (t.state, t.error) == ("FAILED", "timeout after 2 s")
            elif b % 2:
                assert t.state == "FAILED" and f"ValueError: odd b={b}" in t.error
            else:
                assert t.state == "COMPLETE"

    def test_device_constraints_filter_before_any_trial(self, tmp_path):
        from evaluators import CostEvaluator
        from space import head
        from space import heads
        from space import layer
        from space import patches
        from space import repeat
        from space import transformer

        tiny = Space(transformer(
            repeat(layer(choice(16, 32, 64), heads(head(choice("softmax", "relu")), count=2),
                         ffn=[choice(32, 128)]), depth=choice(1, 2)),
            input=patches(8, 2, 1), num_classes=10))
        bound = sorted(count_params(tiny.sample(i)) for i in range(40))[20]
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        mcu = nas.Study(name="mcu", space=tiny, evaluate=CostEvaluator("stm32f746"),
                        objectives={"sram_kb": "min"}, searcher="random", trials=10,
                        constraints=[Constraint("params", "<=", bound, device="stm32f746")])
        nas.run(mcu, storage=url, workers=2, quiet=True, log_dir=tmp_path)
        trials = storage.connect(url).trials("mcu")
        assert len(trials) == 10
        assert all(t.metrics["params"] <= bound for t in trials)

    def test_cheap_trials_are_batched(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        result = nas.run(study("cheap", trials=400), storage=url, workers=2, quiet=True,
                     log_dir=tmp_path)
        assert result.complete == 400 == len({t.arch_id for t in
                                              storage.connect(url).trials("cheap")})

    def test_batches_go_to_evaluate_many_and_errors_stay_with_their_trial(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        folder = tmp_path / "batches"
        folder.mkdir()
        # Every architecture of the space, so the 20 with a = 13 are among them.
        result = nas.run(study("many", PricedInBatches(str(folder)), trials=400), storage=url,
                         workers=2, quiet=True, log_dir=tmp_path)
        assert max(int(p.name.split("-")[1]) for p in folder.iterdir()) > 1
        trials = storage.connect(url).trials("many")
        assert (result.complete, result.failed) == (380, 20)
        for t in trials:
            if t.arch["a"] == 13:
                assert t.state == "FAILED" and "ValueError: a = 13 has no price" in t.error
            else:
                assert t.state == "COMPLETE" and t.metrics == bowl(t.arch)

    def test_a_non_finite_metric_fails_its_trial(self, tmp_path):
        url = f"sqlite:///{tmp_path / 'studies.db'}"
        result = nas.run(study("nan", nan_for_odd_a, trials=60), storage=url, workers=2,
                         quiet=True, log_dir=tmp_path)
        assert result.complete + result.failed == 60
        for t in storage.connect(url).trials("nan"):
            if t.arch["a"] % 2:
                assert t.state == "FAILED"
                assert t.error.startswith("evaluate returned loss=nan; metrics must be finite")
            else:
                assert t.state == "COMPLETE"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_node_cluster_needs_postgres(tmp_path, postgres_url):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        sqlite = f"sqlite:///{tmp_path / 'studies.db'}"
        evaluate = _partial(on_which_node, str(tmp_path))
        with pytest.raises(UserError, match="needs a server database"):
            nas.run(study("cluster", evaluate), storage=sqlite, quiet=True, log_dir=tmp_path)
        result = nas.run(study("cluster", evaluate, trials=8), storage=postgres_url, workers=2,
                     quiet=True, log_dir=tmp_path)
        assert result.complete == 8
        assert len([p for p in tmp_path.iterdir() if p.suffix == ""]) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


SPEC = """
import os
import time
import nas
from space import Space, choice

def evaluate(arch):
    time.sleep(1.0)
    # A test holds every trial here while the file exists.
    while os.path.exists(HOLD):
        time.sleep(0.05)
    return {"loss": float(arch["a"] * 20 + arch["b"])}

study = nas.Study(name="resumable", space=Space({"a": choice(*range(20)),
                  "b": choice(*range(20))}), evaluate=evaluate, objectives={"loss": "min"},
                  searcher="random", trials=10)
"""


@pytest.mark.slow
def test_a_driver_killed_three_times_and_resumed_each_time_ends_exact(tmp_path):
    command, url = _driver_command(tmp_path)
    kept: dict[int, storage.TrialRecord] = {}
    for kill, complete in enumerate((2, 4, 6)):
        # Its own session, so the Ray processes it started go down with it.
        driver = subprocess.Popen(command + (["--resume"] if kill else []), cwd=tmp_path,
                                  start_new_session=True)
        try:
            _wait_for(tmp_path, driver, complete)
        finally:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        finished = {t.id: t for t in storage.connect(url).trials("resumable", "COMPLETE")}
        # A kill never loses nor changes a finished trial.
        assert all(finished.get(i) == t for i, t in kept.items())
        kept = finished
        assert states(url, "resumable").get("RUNNING", 0) > 0

    done = subprocess.run(command + ["--resume"], cwd=tmp_path, timeout=120)
    assert done.returncode == 0
    trials = storage.connect(url).trials("resumable")
    assert [t.state for t in trials] == ["COMPLETE"] * 10
    assert len({t.arch_id for t in trials}) == len({t.number for t in trials}) == 10
    assert all(t == kept[t.id] for t in trials if t.id in kept)


def _driver_command(tmp_path: Path, *extra: str) -> tuple[list[str], str]:
    """``nas run`` of the resumable study in a fresh process, and the study's URL."""
    spec = tmp_path / "spec.py"
    spec.write_text(textwrap.dedent(SPEC).replace("HOLD", repr(str(tmp_path / "hold"))))
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    return [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())",
            "run", str(spec), "--storage", url, "--quiet", *extra], url


def _wait_for(tmp_path: Path, driver: subprocess.Popen, complete: int) -> None:
    deadline = time.monotonic() + 90
    while _complete(tmp_path / "studies.db") < complete:
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.2)


def _complete(db: Path) -> int:
    """COMPLETE trials of the resumable study, 0 before the driver has created it."""
    if not db.exists():
        return 0
    try:
        return states(f"sqlite:///{db}", "resumable").get("COMPLETE", 0)
    except storage.StudyNotFound:
        return 0


def priority(arch) -> dict[str, float]:
    return {"loss": float(os.nice(0))}


def test_trials_run_at_the_drivers_priority(tmp_path):
    # Ray's default runs workers at nice 15: beside ordinary processes they got almost no CPU.
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    nas.run(study("nice", priority, trials=2), storage=url, workers=2, quiet=True,
            log_dir=tmp_path)
    assert {t.metrics["loss"] for t in storage.connect(url).trials("nice")} == {
        float(os.nice(0))}


def test_study_rejects_bad_arguments():
    with pytest.raises(UserError, match="must be 'min' or 'max'; got 'up'"):
        nas.Study(name="s", space=SPACE, evaluate=bowl, objectives={"loss": "up"})
    with pytest.raises(UserError, match=r"Unknown searcher 'tpee'. Must be one of \["):
        nas.Study(name="s", space=SPACE, evaluate=bowl, objectives={"loss": "min"},
                  searcher="tpee")
    with pytest.raises(UserError, match="trials must be a positive integer"):
        study("s", trials=0)


def test_constraint_on_a_metric_nothing_makes_is_refused():
    class Evaluator:
        metrics = ("loss",)

        def __call__(self, arch):
            return bowl(arch)

    with pytest.raises(UserError, match="constraint on 'sram_kb' can never be checked"):
        study("s", Evaluator(), constraints=[Constraint("sram_kb", "<=", 100)])
    with pytest.raises(UserError, match="the 'mpc-lan' cost model makes"):
        study("s", constraints=[Constraint("sram_kb", "<=", 100, device="mpc-lan")])
    with pytest.raises(UserError, match="unknown device 'stm32'. Must be one of"):
        study("s", constraints=[Constraint("sram_kb", "<=", 100, device="stm32")])
    study("s", Evaluator(), constraints=[Constraint("sram_kb", "<=", 100, device="stm32f746")])


def _partial(fn, marker_dir: str):
    def evaluate(arch):
        return fn(arch, marker_dir)

    return evaluate


@pytest.mark.slow
def test_a_second_driver_shares_the_budget(tmp_path):
    command, url = _driver_command(tmp_path, "--workers", "1")
    first = subprocess.Popen(command, cwd=tmp_path, start_new_session=True)
    second = None
    try:
        _wait_for(tmp_path, first, 3)
        # Trials wait until the second driver, however slow its Ray start, runs one too.
        (tmp_path / "hold").touch()
        second = subprocess.Popen(command, cwd=tmp_path, start_new_session=True)
        deadline = time.monotonic() + 120
        while len({t.worker for t in storage.connect(url).trials("resumable", "RUNNING")}) < 2:
            assert time.monotonic() < deadline and second.poll() is None
            time.sleep(0.2)
        (tmp_path / "hold").unlink()
        # It joins with 3 finished; counting only those and its own, it would run 7 more.
        assert second.wait(timeout=120) == 0 and first.wait(timeout=60) == 0
    finally:
        for driver in (first, second):
            if driver is not None and driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
    trials = storage.connect(url).trials("resumable")
    assert [t.state for t in trials] == ["COMPLETE"] * 10
    assert len({t.arch_id for t in trials}) == 10
    assert len({t.worker for t in trials}) == 2
