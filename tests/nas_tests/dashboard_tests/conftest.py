"""Studies for the dashboard tests, written through the real storage API."""

from __future__ import annotations

import pytest

import storage
from tests.nas_tests.dashboard_tests.hardware_spec import space

XSS = "<img src=x onerror=alert(1)>"


def record(db: storage.Database, study: str, seeds: range, metrics) -> list[int]:
    """COMPLETE trials of real architectures of the hardware space, with ``metrics(i)``."""
    archs = [space.sample(seed=i) for i in seeds]
    return db.add_results(study, [(a.id, a.to_json(), metrics(i)) for i, a in zip(seeds, archs,
                                                                                 strict=True)])


@pytest.fixture
def filled(storage_url: str) -> str:
    """Study ``hw``: 10 COMPLETE trials trading params against latency (3 break the SRAM bound),
    one FAILED, one RUNNING; and study ``other`` with 2 trials."""
    with storage.connect(storage_url) as db:
        db.create_study("hw", objectives={"params": "max", "latency_ms": "min"},
                        constraints=[{"metric": "sram_kb", "op": "<=", "bound": 7.0}],
                        searcher="random")
        record(db, "hw", range(10), lambda i: {"params": 100.0 * i, "latency_ms": 1.0 + i,
                                               "sram_kb": float(i)})
        failed, running = db.add_trials("hw", [(a.id, a.to_json()) for a in
                                               (space.sample(seed=20), space.sample(seed=21))])
        db.start_trial(failed, worker="w1", node="n1")
        db.fail_trial(failed, "CUDA out of memory")
        db.start_trial(running, worker="w2", node="n1")
        db.create_study("other", objectives={"params": "max"}, searcher="tpe")
        record(db, "other", range(2), lambda i: {"params": 5.0 + i})
    return storage_url
