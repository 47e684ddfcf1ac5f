"""The ledger: the one path from a trial's result to the study database.

Every state change of a trial a driver runs goes through here, lone trials and batches alike:
claiming (new architectures and queued trials, within the study's budget, in one transaction),
finishing (metrics and every intermediate value in one transaction), re-queueing, leases. A
result the database would refuse fails its own trial with the reason instead of raising in the
driver. A database that cannot be reached is retried with backoff for ``patience_s``; then the
run ends with one line naming the storage.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
import uuid
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import TypeVar

import storage as storage_mod
from nas._errors import UserError
from space import Architecture

T = TypeVar("T")
# A RUNNING trial whose lease was not renewed for this long is taken back by any driver.
LEASE_S = 60.0
# How long a driver keeps retrying a database it cannot reach before it gives up.
PATIENCE_S = 300.0
_FIRST_BACKOFF_S = 0.5
_MAX_BACKOFF_S = 10.0


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """What a worker hands back for one trial.

    Attributes:
        metrics: name -> number, or None when the trial raised or was pruned.
        error: the traceback or reason of a failure, else None.
        pruned: the pruner stopped it.
        values: intermediate ``(name, step, value)`` triples it reported.
        seconds: how long it ran.
        artifacts: files the evaluator wrote (dicts with ``path`` and ``sha256``).
    """

    metrics: dict[str, float] | None = None
    error: str | None = None
    pruned: bool = False
    values: tuple[tuple[str, int, float], ...] = ()
    seconds: float = 0.0
    artifacts: tuple[dict[str, str], ...] = ()

    @classmethod
    def from_worker(cls, raw: dict[str, Any]) -> TrialResult:
        return cls(raw["metrics"], raw["error"], raw["pruned"],
                   tuple(tuple(v) for v in raw["values"]), raw["seconds"],
                   tuple(dict(a) for a in raw.get("artifacts") or ()))


@dataclasses.dataclass(frozen=True)
class Finished:
    """A trial the ledger recorded, for the searcher, pruner and progress line."""

    trial_id: int
    arch: Architecture
    state: str
    metrics: dict[str, float]
    values: tuple[tuple[str, int, float], ...]
    error: str | None


def driver_id() -> str:
    """``host:pid:token``: unique per run, even for several runs in one process."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Ledger:
    """One driver's view of a study's trials in the database."""

    def __init__(
        self,
        db: storage_mod.Database,
        study: str,
        *,
        budget: int,
        objectives: Sequence[str],
        searcher: str,
        lease_s: float = LEASE_S,
        patience_s: float = PATIENCE_S,
    ) -> None:
        self.db = db
        self.study = study
        self.budget = budget
        self.objectives = tuple(objectives)
        self.searcher = searcher
        self.lease_s = lease_s
        self.patience_s = patience_s
        self.me = driver_id()
        self.node = socket.gethostname()
        self.renewed = time.monotonic()
        self.transactions = 0

    # -- claims ------------------------------------------------------------------------------

    def claim_queued(self) -> tuple[int, Architecture] | None:
        claimed = self.call(lambda: self.db.claim_trial(
            self.study, worker=self.me, node=self.node, budget=self.budget))
        if claimed is None:
            return None
        return claimed.id, Architecture(claimed.arch)

    def start(self, archs: Sequence[Architecture]) -> list[tuple[int, Architecture]]:
        """New RUNNING trials for the architectures no driver has taken, within the budget."""
        by_id = {a.id: a for a in archs}
        taken = self.call(lambda: self.db.start_trials(
            self.study, archs, worker=self.me, node=self.node,
            searcher=self.searcher, budget=self.budget))
        return [(tid, by_id[arch_id]) for arch_id, tid in taken.items()]

    def counts(self) -> dict[str, int]:
        return self.call(lambda: self.db.trial_counts(self.study))

    # -- results -----------------------------------------------------------------------------

    def finish(self, pairs: Sequence[tuple[int, Architecture]],
               results: Sequence[TrialResult], pruned_metric: str | None) -> list[Finished]:
        """Record a task's results in one transaction; returns what was recorded."""
        done = [self._judge(tid, arch, r, pruned_metric)
                for (tid, arch), r in zip(pairs, results, strict=True)]
        outcomes = [storage_mod.TrialOutcome(f.trial_id, f.state, f.metrics, f.values, f.error)
                    for f in done]
        lost = set(self.call(lambda: self.db.finish_trials(outcomes)))
        for f, r in zip(done, results, strict=True):
            if f.state == "COMPLETE" and f.trial_id not in lost:
                for a in r.artifacts:
                    self.call(lambda a=a, tid=f.trial_id: self.db.add_artifact(
                        tid, a["path"], a["sha256"]))
        return [f for f in done if f.trial_id not in lost]

    def fail(self, tid: int, arch: Architecture, error: str) -> Finished:
        finished = Finished(tid, arch, "FAILED", {}, (), error)
        self.call(lambda: self.db.finish_trials(
            [storage_mod.TrialOutcome(tid, "FAILED", error=error)]))
        return finished

    def crashed(self, tid: int, arch: Architecture, error: str,
                retries: int) -> Finished | None:
        """A worker died under the trial: re-queue it (the database counts the retry) or,
        after ``retries`` re-runs, fail it; returns the failure, if it failed."""
        done = self.call(lambda: self.db.trial(tid)).retries
        if done >= retries:
            return self.fail(tid, arch, f"worker died {done + 1} times; last: {error}")
        self.requeue([tid], error)
        return None

    def requeue(self, ids: Sequence[int], error: str) -> None:
        for tid in ids:
            self.call(lambda tid=tid: self._requeue_one(tid, error))

    def _requeue_one(self, tid: int, error: str) -> None:
        try:
            self.db.fail_trial(tid, error, requeue=True)
        except storage_mod.InvalidTransition:
            # Already finished, or taken back by another driver after a lapsed lease.
            pass

    def _judge(self, tid: int, arch: Architecture, r: TrialResult,
               pruned_metric: str | None) -> Finished:
        if r.pruned:
            watched = [v for v in r.values if v[0] == pruned_metric]
            last = {pruned_metric: watched[-1][2]} if watched and pruned_metric else {}
            state, metrics, error = "PRUNED", last, None
        elif r.error is not None:
            state, metrics, error = "FAILED", {}, r.error
        else:
            metrics = dict(r.metrics or {})
            missing = [m for m in self.objectives if m not in metrics]
            error = (f"evaluate returned no {missing[0]!r}; it returned {sorted(metrics)}"
                     if missing else None)
            state = "FAILED" if error else "COMPLETE"
        values = r.values
        # What the database would refuse fails this trial with the reason, not the driver.
        problem = storage_mod.result_problem(metrics, values)
        if problem is not None:
            state, metrics, values, error = "FAILED", {}, (), f"evaluate returned {problem}"
        return Finished(tid, arch, state, metrics if state != "FAILED" else {}, values, error)

    # -- leases ------------------------------------------------------------------------------

    def keep_leases(self) -> list[int]:
        """Renew this driver's leases and take back expired ones (any host); returns the ids
        taken back. Cheap enough to call every loop turn: it writes every lease_s / 4."""
        if time.monotonic() - self.renewed < self.lease_s / 4:
            return []
        self.verify()
        self.call(lambda: self.db.renew_leases(self.me))
        self.renewed = time.monotonic()
        return self.recover()

    def verify(self) -> None:
        """Refuse to go on (or to report success) once the SQLite file is gone: open
        connections would keep writing to the deleted file, and every result would be lost."""
        path = storage_mod.sqlite_file(self.db.url)
        if path is not None and not path.exists():
            raise UserError(
                f"The study database file {path} was removed during the run, so results "
                "written since are lost. Keep the file (and its folder) while a run uses it, "
                "then run again to redo the lost trials."
            )

    def recover(self) -> list[int]:
        return self.call(lambda: self.db.recover(
            self.study, lease_s=self.lease_s, requeue=True,
            error="interrupted: its driver's lease expired"))

    # -- the database going away ------------------------------------------------------------

    def call(self, call: Callable[[], T]) -> T:
        """Run ``call``; while the database cannot be reached, retry with backoff."""
        deadline = time.monotonic() + self.patience_s
        backoff = _FIRST_BACKOFF_S
        while True:
            try:
                self.transactions += 1
                return call()
            except storage_mod.StorageUnavailable as exc:
                self.verify()
                if time.monotonic() + backoff > deadline:
                    raise UserError(
                        f"The study database {storage_mod.safe_url(self.db.url)} could not be "
                        f"reached for {self.patience_s:g} s ({_first_line(exc)}); what was "
                        "recorded is kept. Check the database, then run again to resume."
                    ) from exc
                time.sleep(backoff)
                backoff = min(_MAX_BACKOFF_S, backoff * 2)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
