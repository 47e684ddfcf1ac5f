"""``nas.run``: the driver loop that joins a study's searcher, evaluator, storage and Ray.

One driver process owns a run: it asks the searcher for as many architectures as there are idle
workers, records them in the database, hands them to Ray tasks and records what comes back. The
database is the source of truth, so a killed driver loses nothing a re-run cannot recover.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import ray

import storage as storage_mod
from nas._dispatch import Outcome
from nas._dispatch import Pool
from nas._dispatch import timeout_message
from nas._errors import UserError
from nas._feasible import feasibility_check
from nas._progress import Progress
from nas._progress import log_path
from nas._progress import study_logger
from nas._pruners import BasePruner
from nas._pruners import make_pruner
from nas._ship import ray_options
from nas._ship import shippable
from nas._study import Study
from nas.searchers import BaseSearcher
from nas.searchers import make_searcher
from space import Architecture

DEFAULT_STORAGE = "sqlite:///studies.db"
FINISHED = ("COMPLETE", "FAILED", "PRUNED")
# A Ray task should run about this long: cheap trials are batched up to it, so per-task
# overhead (a few ms) stays small next to the work, and results still arrive several times a
# second for the progress line and the searcher.
TASK_SECONDS = 0.25
MAX_BATCH = 2000
# The searcher's state (its whole history) is written at most this often, and at most once per
# SAVE_SHARE of the time since the last save took, since it grows with the study; what a killed
# driver did not save is told again from the database's finished trials on resume.
SAVE_EVERY_S = 2.0
SAVE_SHARE = 20
POLL_S = 0.25


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, cluster schedulers) stops a run as cleanly as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What ``nas.run`` hands back.

    Attributes:
        study: Study name.
        storage: Database URL the trials are in.
        complete: COMPLETE trials in the study (all runs, not only this one).
        failed: FAILED trials in the study.
        pruned: PRUNED trials in the study.
        best: Best trials as storage trial dicts: the top 5 for one objective, the Pareto
            front for several.
        seconds: Wall time of this run.
    """

    study: str
    storage: str
    complete: int
    failed: int
    pruned: int
    best: list[dict[str, Any]]
    seconds: float


def run(
    study: Study,
    storage: str = DEFAULT_STORAGE,
    workers: int = 2,
    seed: int = 0,
    address: str | None = None,
    resume: bool = False,
    quiet: bool = False,
    log_dir: str = "runs",
) -> RunResult:
    """Run ``study`` until it holds ``study.trials`` finished trials, on Ray.

    Args:
        study: The validated study.
        storage: Database URL; a multi-node Ray cluster needs a server database (PostgreSQL).
        workers: Trials evaluated at once. Locally, Ray starts with ``workers * cpus`` CPUs.
        seed: Seeds the searcher (a resumed study keeps the seed it was saved with).
        address: Address of an existing Ray cluster to join (``"auto"`` or ``host:port``);
            None starts Ray in this process.
        resume: Require the study to exist already. A study that exists is always continued.
        quiet: No live progress line.
        log_dir: Folder of the per-study log file ``<log_dir>/<study>.log``.

    Returns:
        A :class:`RunResult`.

    Raises:
        UserError: On a bad argument, a study that conflicts with the stored one, or SQLite
            with workers on several nodes.
        KeyboardInterrupt: After a clean stop: running trials are re-queued as interrupted.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise UserError(f"workers must be a positive integer; got {workers!r}.")
    start = time.monotonic()
    started_ray = _start_ray(address, math.ceil(workers * study.cpus) or 1, quiet)
    try:
        _refuse_sqlite_on_cluster(storage)
        pool = Pool(shippable(study.evaluate), cpus=study.cpus, gpus=study.gpus,
                    timeout_s=study.timeout_s, workers=workers)
        with storage_mod.connect(storage) as db, \
                study_logger(log_path(log_dir, study.name)) as logger:
            _open_study(db, study, resume)
            driver = _Driver(db, study, pool, storage, workers, seed, quiet, logger)
            driver.loop()
            counts = driver.counts()
            if len(study.objectives) == 1:
                best = db.best(study.name, k=5)
            else:
                best = db.pareto(study.name)
        return RunResult(
            study.name, storage, counts["COMPLETE"], counts["FAILED"], counts["PRUNED"], best,
            time.monotonic() - start,
        )
    finally:
        if started_ray:
            ray.shutdown()


def _start_ray(address: str | None, cpus: int, quiet: bool) -> bool:
    """Start or join Ray unless the caller already did; True if this call must shut it down."""
    if ray.is_initialized():
        return False
    options = ray_options(quiet)
    if address is None:
        ray.init(num_cpus=cpus, **options)
    else:
        ray.init(address=address, **options)
    return True


def _refuse_sqlite_on_cluster(url: str) -> None:
    # Nodes that can run a trial; a head node with no CPUs or GPUs only hosts the driver.
    nodes = [n for n in ray.nodes() if n.get("Alive") and (
        n["Resources"].get("CPU", 0) > 0 or n["Resources"].get("GPU", 0) > 0)]
    if url.startswith("sqlite") and len(nodes) > 1:
        raise UserError(
            f"A study on {len(nodes)} Ray nodes needs a server database, but --storage is "
            f"SQLite ({url}), which only processes on one machine can share. Use PostgreSQL: "
            "--storage postgresql+psycopg://USER@HOST/DB."
        )


def _open_study(db: Any, study: Study, resume: bool) -> None:
    """Create the study, or check that the stored one is the same search."""
    try:
        stored = db.get_study(study.name)
    except storage_mod.StudyNotFound:
        if resume:
            raise UserError(
                f"Cannot resume study {study.name!r}: it is not in the database. Run it "
                "without --resume to start it, or check --storage."
            ) from None
        db.create_study(
            study.name,
            objectives=dict(study.objectives),
            constraints=[c.to_dict() for c in study.constraints],
            searcher=study.searcher,
            space_hash=study.space.hash,
            settings={"trials": study.trials, "retries": study.retries,
                      "timeout_s": study.timeout_s, "resources": dict(study.resources or {}),
                      "pruner": study.pruner,
                      "pruner_options": dict(study.pruner_options or {})},
        )
        return
    if dict(stored["objectives"]) != dict(study.objectives):
        raise UserError(
            f"Study {study.name!r} is stored with objectives {stored['objectives']}, but the "
            f"spec asks for {dict(study.objectives)}. Give the changed search a new name."
        )
    if stored.get("space_hash") not in (None, study.space.hash):
        raise UserError(
            f"Study {study.name!r} is stored with another search space (hash "
            f"{stored['space_hash']}, spec {study.space.hash}). Give the changed search a "
            "new name."
        )


class _Driver:
    """The state of one run: searcher, Ray pool, budget and what is in flight."""

    def __init__(
        self,
        db: Any,
        study: Study,
        pool: Pool,
        url: str,
        workers: int,
        seed: int,
        quiet: bool,
        logger: Any,
    ) -> None:
        self.db = db
        self.study = study
        self.workers = workers
        self.log = logger
        self.me = f"{socket.gethostname()}:{os.getpid()}"
        self.node = socket.gethostname()
        trials = db.trials(study.name)
        self._requeue_orphans(trials)
        self.finished = {s: sum(t["state"] == s for t in trials) for s in FINISHED}
        self.known = {t["arch_id"] for t in trials}
        self._queue_initial()
        self.searcher = self._searcher(seed, url, [t for t in trials if t["state"] in FINISHED])
        self.pruner: BasePruner | None = None
        if study.pruner is not None:
            self.pruner = make_pruner(study.pruner, study.objectives, study.pruner_options)
            # Resumed: the finished trials' curves set the cutoffs again.
            curves = db.intermediate_values(study.name)
            for t in trials:
                if t["id"] in curves and t["state"] in FINISHED:
                    self.pruner.observe(curves[t["id"]], t["state"])
        self.pool = pool
        self.retry: list[tuple[int | None, Architecture]] = []
        self.attempts: dict[str, int] = {}
        self.queued_left = True
        self.exhausted = False
        self.batch = 1
        self.saved_at = time.monotonic()
        self.save_s = 0.0
        self.progress = Progress(study.name, study.trials, sum(self.finished.values()),
                                 dict(study.objectives), quiet)
        for t in trials:
            if t["state"] == "COMPLETE":
                self.progress.observe(t["metrics"])

    def counts(self) -> dict[str, int]:
        return dict(self.finished)

    def loop(self) -> None:
        self.log.info("run %s: %d workers, target %d trials, %d finished already, driver %s",
                      self.study.name, self.workers, self.study.trials,
                      sum(self.finished.values()), self.me)
        with self.progress, _sigterm_as_interrupt():
            try:
                while True:
                    self._fill()
                    if not len(self.pool):
                        break
                    self._handle(self.pool.wait(POLL_S))
                    self._save_state(force=False)
                    self._show()
            except KeyboardInterrupt:
                self._interrupt()
                raise
            self._save_state(force=True)
            self._show()
        self.log.info("run %s ended: %s", self.study.name, self.finished)

    def _searcher(self, seed: int, url: str, finished: list[dict[str, Any]]) -> BaseSearcher:
        study = self.study
        searcher = make_searcher(
            study.searcher, space=study.space, objectives=dict(study.objectives),
            constraints=study.constraints, seed=seed,
            feasible=feasibility_check(study.constraints, url),
            **dict(study.searcher_options or {}),
        )
        state = self.db.searcher_state(study.name)
        # A study continued with another searcher (--searcher) starts it from the trials alone.
        if state is not None and state.get("searcher") == searcher.name:
            searcher.load_state_dict(state)
        told = {record.arch for record in searcher.history}
        # Trials finished after the last saved state (or all of them, without one).
        searcher.warm_start(t for t in finished if Architecture(t["arch"]) not in told)
        return searcher

    def _requeue_orphans(self, trials: list[dict[str, Any]]) -> None:
        """Re-queue RUNNING trials left by a dead driver on this host, or by an earlier run in
        this process (interrupted with Ctrl-C). Drivers on other hosts may still be running
        theirs, so their trials are left alone."""
        host = socket.gethostname()
        for t in trials:
            if t["state"] != "RUNNING":
                continue
            owner_host, _, pid = (t.get("worker") or "").rpartition(":")
            mine = t.get("worker") == self.me
            if mine or (owner_host == host and pid.isdigit() and not _alive(int(pid))):
                self.db.fail_trial(t["id"], f"interrupted: driver {t['worker']} died",
                                   requeue=True)
                t["state"] = "QUEUED"

    def _queue_initial(self) -> None:
        """Queue the study's initial architectures that it has not seen yet (once per study)."""
        new = [a for a in self.study.initial if a.id not in self.known]
        if new:
            self.db.add_trials(self.study.name, [(a.id, a.to_json()) for a in new],
                               searcher="initial")
            self.known.update(a.id for a in new)

    def _need(self) -> int:
        # Read from the database, so that every driver of the study counts against the budget,
        # not only this one: a driver that joins a running study must not run it twice.
        counts = self.db.trial_counts(self.study.name)
        recorded = sum(counts[state] for state in (*FINISHED, "RUNNING"))
        unrecorded = self.pool.unrecorded + sum(tid is None for tid, _ in self.retry)
        return self.study.trials - recorded - unrecorded

    def _fill(self) -> None:
        # Batches of cheap trials queue a second task per worker, so that a worker starts its
        # next batch at once while the driver records the last one and asks for more.
        slots = self.workers * (2 if self.batch > 1 else 1)
        while len(self.pool) < slots:
            batch = self._next_batch()
            if not batch:
                return
            ids, archs = zip(*batch, strict=True)
            cutoffs = None if self.pruner is None else self.pruner.cutoffs()
            self.pool.submit(list(ids), list(archs), cutoffs)

    def _next_batch(self) -> list[tuple[int | None, Architecture]]:
        """Trials for one task: retries first, then queued ones, then the searcher's.

        A lone trial is recorded RUNNING before it starts, so the database shows it while it
        runs; the trials of a batch (cheap ones, done in well under a second) get an id of
        None and are written when they come back, in one transaction for the whole batch.
        """
        if self.retry:
            tid, arch = self.retry.pop(0)
            return [(self._start(arch) if tid is None else tid, arch)]
        need = self._need()
        if need <= 0:
            return []
        if self.queued_left:
            claimed = self.db.claim_trial(self.study.name, worker=self.me, node=self.node)
            if claimed is not None:
                return [(claimed["id"], Architecture(claimed["arch"]))]
            self.queued_left = False
        while not self.exhausted:
            asked = self.searcher.ask(min(self.batch, need))
            # After a resume the searcher may propose what an earlier run already queued.
            archs = [a for a in asked if a.id not in self.known]
            self.known.update(a.id for a in archs)
            # A searcher with nothing left to propose has exhausted the space.
            self.exhausted = not asked
            if archs and self.batch == 1:
                return [(self._start(a), a) for a in archs]
            if archs:
                return [(None, a) for a in archs]
        return []

    def _start(self, arch: Architecture) -> int:
        """Record a new trial and mark it RUNNING under this driver."""
        (tid,) = self.db.add_trials(self.study.name, [(arch.id, arch.to_json())],
                                    searcher=self.study.searcher)
        self.db.start_trial(tid, worker=self.me, node=self.node)
        return tid

    def _handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            task = outcome.task
            pairs = list(zip(task.trial_ids, task.archs, strict=True))
            if outcome.timed_out and len(pairs) > 1:
                # Only a lone trial is judged by its own clock; a batch is split and re-run.
                self.retry.extend(pairs)
            elif outcome.timed_out:
                self._fail(*pairs[0], timeout_message(self.study.timeout_s))
            elif outcome.crashed is not None:
                for tid, arch in pairs:
                    self._crashed(tid, arch, outcome.crashed)
            else:
                self._record_all(pairs, outcome.results or [])
                self._adapt_batch(outcome)

    def _record_all(
        self, pairs: list[tuple[int | None, Architecture]], results: list[dict[str, Any]]
    ) -> None:
        plain = []
        for (tid, arch), result in zip(pairs, results, strict=True):
            pruned, values = result["pruned"], result["values"]
            error = None if pruned else (
                result["error"] or self._missing_objective(result["metrics"]))
            files = result.get("artifacts") or []
            if tid is None and error is None and not pruned and not values and not files:
                plain.append((arch, result["metrics"]))
                continue
            tid = self._start(arch) if tid is None else tid
            for name, step, value in values:
                self.db.report(tid, name, step, value)
            if pruned:
                self._prune(tid, arch, values)
            elif error is None:
                for a in files:
                    self.db.add_artifact(tid, a["path"], a["sha256"])
                self.db.finish_trial(tid, result["metrics"], state="COMPLETE")
                self._complete(arch, result["metrics"])
            else:
                self._fail(tid, arch, error)
            if self.pruner is not None and error is None:
                self.pruner.observe(values, "PRUNED" if pruned else "COMPLETE")
        if plain:
            # Batched cheap trials: one transaction for all of them.
            self.db.add_results(self.study.name,
                                [(a.id, a.to_json(), metrics) for a, metrics in plain],
                                searcher=self.study.searcher)
            for arch, metrics in plain:
                self._complete(arch, metrics)

    def _prune(self, tid: int, arch: Architecture, values: list[tuple[str, int, float]]) -> None:
        """Record a trial the pruner stopped, keeping its last value of the watched metric."""
        assert self.pruner is not None
        watched = [(step, value) for name, step, value in values if name == self.pruner.metric]
        last = {self.pruner.metric: watched[-1][1]} if watched else {}
        self.db.finish_trial(tid, last, state="PRUNED")
        self.finished["PRUNED"] += 1
        # As on resume, where any state but COMPLETE is told as a failure.
        where = f"at step {watched[-1][0]}" if watched else "before any value"
        self.searcher.tell_failure(arch, f"pruned {where}")
        self.log.info("trial %d PRUNED %s", tid, where)

    def _missing_objective(self, metrics: dict[str, float] | None) -> str | None:
        missing = [m for m in self.study.objectives if m not in (metrics or {})]
        if metrics is None or not missing:
            return None
        return f"evaluate returned no {missing[0]!r}; it returned {sorted(metrics)}"

    def _complete(self, arch: Architecture, metrics: dict[str, float]) -> None:
        self.finished["COMPLETE"] += 1
        self.searcher.tell(arch, metrics)
        self.progress.observe(metrics)

    def _fail(self, tid: int | None, arch: Architecture, error: str) -> None:
        tid = self._start(arch) if tid is None else tid
        self.db.fail_trial(tid, error)
        self.finished["FAILED"] += 1
        self.searcher.tell_failure(arch, error)
        self.log.warning("trial %d FAILED: %s", tid, error.strip().splitlines()[-1])

    def _crashed(self, tid: int | None, arch: Architecture, error: str) -> None:
        """A worker died under the trial: re-run it ``study.retries`` times, then fail it."""
        self.attempts[arch.id] = self.attempts.get(arch.id, 0) + 1
        if self.attempts[arch.id] > self.study.retries:
            self._fail(tid, arch, f"worker died {self.attempts[arch.id]} times; last: {error}")
            return
        self.log.warning("trial %s: worker died (%s); retrying", tid, error.splitlines()[0])
        if tid is not None:
            self.db.fail_trial(tid, error, requeue=True)
            self.db.start_trial(tid, worker=self.me, node=self.node)
        self.retry.append((tid, arch))

    def _adapt_batch(self, outcome: Outcome) -> None:
        results = outcome.results or []
        if any(r["values"] or r["pruned"] for r in results):
            # Trials that report intermediate values (training) run one per task: the database
            # shows them RUNNING, and the pruner judges each against the latest cutoffs.
            self.batch = 1
            return
        # Failures say nothing about how long a trial takes (they often fail at once).
        times = [r["seconds"] for r in results if r["error"] is None]
        if times:
            per_trial = sum(times) / len(times)
            self.batch = max(1, min(MAX_BATCH, int(TASK_SECONDS / max(per_trial, 1e-6))))

    def _save_state(self, *, force: bool) -> None:
        since = time.monotonic() - self.saved_at
        if force or since >= max(SAVE_EVERY_S, SAVE_SHARE * self.save_s):
            start = time.monotonic()
            self.db.save_searcher_state(self.study.name, self.searcher.state_dict())
            self.saved_at = time.monotonic()
            self.save_s = self.saved_at - start

    def _show(self) -> None:
        running = self.pool.trials + len(self.retry)
        self.progress.update(self.finished["COMPLETE"], running, self.finished["FAILED"],
                             self.finished["PRUNED"])

    def _interrupt(self) -> None:
        """Ctrl-C: kill running tasks and put their trials back in the queue."""
        tasks = self.pool.cancel_all()
        ids = [tid for task in tasks for tid in task.trial_ids] + [tid for tid, _ in self.retry]
        # Trials of a batch (id None) were never written; the searcher may ask for them again.
        ids = [tid for tid in ids if tid is not None]
        for tid in ids:
            self.db.fail_trial(tid, "interrupted", requeue=True)
        self._save_state(force=True)
        self.log.warning("run %s interrupted: %d running trials re-queued", self.study.name,
                         len(ids))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
