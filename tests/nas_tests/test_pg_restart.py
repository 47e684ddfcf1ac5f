"""A PostgreSQL restart during a run, on a cluster of the test's own (never the shared server)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator

import pytest
import ray
import ray.cloudpickle

import nas
import storage
from space import Space
from space import choice

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def slow_bowl(arch) -> dict[str, float]:
    time.sleep(0.5)
    return {"loss": float((arch["a"] - 7) ** 2 + (arch["b"] - 3) ** 2)}


def _as_postgres(*command: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Callable[[], None]]]:
    """A throwaway cluster on a free port; yields its URL and a function that restarts it."""
    if not BINARIES:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    bin_dir = BINARIES[-1]
    data = tempfile.mkdtemp(prefix="hetnas-pg-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = [f"{bin_dir}/pg_ctl", "-D", data, "-w", "-o", f"-p {port} -k {data} -h 127.0.0.1"]
    _as_postgres(f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres")
    _as_postgres(*ctl, "start", "-l", f"{data}/log")
    try:
        yield (f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
               lambda: _as_postgres(*ctl, "restart", "-m", "fast", "-l", f"{data}/log"))
    finally:
        _as_postgres(f"{bin_dir}/pg_ctl", "-D", data, "-w", "stop", "-m", "immediate")
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_run_survives_two_postgresql_restarts(own_postgres, tmp_path):
    url, restart = own_postgres
    space = Space({"a": choice(*range(20)), "b": choice(*range(20))})
    study = nas.Study(name="restarts", space=space, evaluate=slow_bowl,
                      objectives={"loss": "min"}, searcher="random", trials=20)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    outcome: list[object] = []

    def drive() -> None:
        try:
            outcome.append(nas.run(study, storage=url, workers=2, quiet=True,
                                   log_dir=tmp_path))
        except BaseException as exc:  # noqa: BLE001 - the assertion shows it
            outcome.append(exc)

    try:
        driver = threading.Thread(target=drive)
        driver.start()
        for target in (4, 10):
            deadline = time.monotonic() + 120
            while _complete(url) < target:
                assert time.monotonic() < deadline and driver.is_alive(), outcome
                time.sleep(0.1)
            restart()
        driver.join(timeout=240)
    finally:
        ray.shutdown()
    assert len(outcome) == 1 and isinstance(outcome[0], nas.RunResult), outcome
    assert outcome[0].complete == 20
    with storage.connect(url) as db:
        trials = db.trials("restarts")
    assert [t.state for t in trials] == ["COMPLETE"] * 20
    assert len({t.arch_id for t in trials}) == 20


def _complete(url: str) -> int:
    try:
        with storage.connect(url) as db:
            return db.trial_counts("restarts")["COMPLETE"]
    except (storage.StudyNotFound, storage.StorageError):
        return 0
