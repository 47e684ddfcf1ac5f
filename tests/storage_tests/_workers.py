"""Code that runs in child processes of the concurrency tests (spawned, or run with -m)."""

from __future__ import annotations

import os
import sys
import time

from sqlalchemy import create_engine
from sqlalchemy import text

import storage

METRICS = ("accuracy", "latency_ms", "params", "flops", "loss")


def claim_and_complete(url: str, study: str, worker: str, n: int) -> list[int]:
    """Claim and complete ``n`` trials with 5 metrics each; returns the claimed trial ids."""
    claimed = []
    with storage.connect(url) as db:
        for _ in range(n):
            trial = db.claim_trial(study, worker=worker, node=f"pid{os.getpid()}")
            if trial is None:
                break
            claimed.append(trial.id)
            db.finish_trial(trial.id, {m: trial.id + i for i, m in enumerate(METRICS)})
    return claimed


def die_mid_write(url: str, study: str) -> None:
    """Claim a trial, then write its result in a transaction that never commits: prints
    ``ready <trial id>`` while the transaction is open and waits to be killed."""
    with storage.connect(url) as db:
        trial = db.claim_trial(study, worker="doomed", node="node0")
        assert trial is not None
        db.report(trial.id, "loss", 0, 1.5)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO metrics (trial_id, name, value) VALUES (:t, 'accuracy', 0.99)"),
            {"t": trial.id},
        )
        conn.execute(
            text("UPDATE trials SET state = 'COMPLETE' WHERE id = :t"), {"t": trial.id}
        )
        print(f"ready {trial.id}", flush=True)
        time.sleep(120)


if __name__ == "__main__":
    die_mid_write(sys.argv[1], sys.argv[2])
