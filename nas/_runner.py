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
from nas import _watchdog
from nas._artifacts import keep_supernet
from nas._dispatch import Outcome
from nas._dispatch import Pool
from nas._dispatch import timeout_message
from nas._errors import UserError
from nas._feasible import feasibility_check
from nas._ledger import LEASE_S
from nas._ledger import PATIENCE_S
from nas._ledger import Finished
from nas._ledger import Ledger
from nas._ledger import TrialResult
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
from nas.searchers._base import STATE_FORMAT
from space import Architecture

DEFAULT_STORAGE = "sqlite:///studies.db"
FINISHED = ("COMPLETE", "FAILED", "PRUNED")
# A Ray task should run about this long: cheap trials are batched up to it, so per-task
# overhead (a few ms) stays small next to the work, and results still arrive several times a
# second for the progress line and the searcher.
TASK_SECONDS = 0.25
MAX_BATCH = 2000
# The searcher's state (its extras, not its history) is written at most this often; whatever a
# killed driver did not save is only its latest extras, since the history is always told again
# from the database's finished trials on resume.
SAVE_EVERY_S = 2.0
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


@contextlib.contextmanager
def _deferred_interrupts() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while Ray starts or stops (an interrupt inside
    ``ray.shutdown`` can crash the process); one that came meanwhile is raised after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        caught.append(signum)

    signals = {signal.SIGINT, signal.SIGTERM}
    previous = {sig: signal.signal(sig, hold) for sig in signals}
    # ray.init installs its own SIGTERM handler (sys.exit(15)) early on: blocked signals wait
    # for our handlers to be back, and one that still reaches Ray's handler is taken as held.
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    # Ray's processes would inherit that mask: each then ignored shutdown's SIGTERM until the
    # SIGKILL a second later (4-5 s of every run), so they start with SIGTERM unblocked again
    # (before Ray's own preexec_fn, which blocks SIGINT in them as usual).
    services = ray._private.services
    popen = services.ConsolePopen

    class UnblockedPopen(popen):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, preexec_fn: Any = None, **kwargs: Any) -> None:
            def child() -> None:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
                if preexec_fn is not None:
                    preexec_fn()

            super().__init__(*args, preexec_fn=child, **kwargs)

    services.ConsolePopen = UnblockedPopen
    try:
        yield
    except SystemExit as exc:
        if exc.code != signal.SIGTERM:
            raise
        caught.append(signal.SIGTERM)
    finally:
        services.ConsolePopen = popen
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    if caught:
        raise KeyboardInterrupt


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What ``nas.run`` hands back.

    Attributes:
        study: Study name.
        storage: Database URL the trials are in.
        complete: COMPLETE trials in the study (all runs, not only this one).
        failed: FAILED trials in the study.
        pruned: PRUNED trials in the study.
        best: Best trials (``storage.TrialRecord``): the top 5 for one objective, the Pareto
            front for several.
        seconds: Wall time of this run.
        infeasible: When every candidate this run checked broke a device constraint, which
            constraints and the closest value seen; else None.
    """

    study: str
    storage: str
    complete: int
    failed: int
    pruned: int
    best: list[storage_mod.TrialRecord]
    seconds: float
    infeasible: str | None = None


def run(
    study: Study,
    storage: str = DEFAULT_STORAGE,
    workers: int = 2,
    seed: int = 0,
    address: str | None = None,
    resume: bool = False,
    quiet: bool = False,
    log_dir: str = "runs",
    spec_source: str | None = None,
    allow_changes: bool = False,
    lease_s: float = LEASE_S,
    patience_s: float = PATIENCE_S,
) -> RunResult:
    """Run ``study`` until it holds ``study.trials`` finished trials, on Ray.

    Args:
        study: The validated study.
        storage: Database URL; a multi-node Ray cluster needs a server database (PostgreSQL).
        workers: Trials evaluated at once. Locally, Ray starts with ``workers * cpus`` CPUs.
        seed: Seeds the searcher (a resumed study keeps the seed it was saved with).
        address: Address of an existing Ray cluster to join (``"auto"`` or ``host:port``);
            None starts a local Ray in this process, even if a cluster runs on the host.
        resume: Require the study to exist already. A study that exists is always continued.
        quiet: No live progress line.
        log_dir: Folder of the per-study log file ``<log_dir>/<study>.log``.
        spec_source: The spec file's text, stored with the study (and its sha256).
        allow_changes: Continue a stored study whose constraints or searcher differ from
            ``study``'s, recording the change; otherwise such a change is refused.
        lease_s: A RUNNING trial whose driver has not renewed its lease for this long is
            re-queued by any driver of the study.
        patience_s: How long to retry a database that cannot be reached before giving up.

    Returns:
        A :class:`RunResult` with the study's counts (every driver's trials).

    Raises:
        UserError: On a bad argument, a study that conflicts with the stored one, or SQLite
            with workers on several nodes.
        KeyboardInterrupt: After a clean stop: running trials are re-queued as interrupted.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise UserError(f"workers must be a positive integer; got {workers!r}.")
    start = time.monotonic()
    # Everything that can be checked without Ray is checked first: a bad URL or a changed
    # study costs a second, not a Ray start-up.
    with storage_mod.connect(storage) as db:
        _open_study(db, study, resume, spec_source, allow_changes)
        ledger = Ledger(db, study.name, budget=study.trials, objectives=list(study.objectives),
                        searcher=study.searcher, lease_s=lease_s, patience_s=patience_s)
        ledger.recover()
        infeasible = None
        if not _finished(ledger, study):
            with _cancelled_tasks_unreported():
                infeasible = _run_on_ray(db, ledger, study, storage, workers, seed, address,
                                         quiet, log_dir)
        ledger.verify()
        counts = ledger.counts()
        best = db.best(study.name, k=5) if len(study.objectives) == 1 else db.pareto(study.name)
    return RunResult(study.name, storage, counts["COMPLETE"], counts["FAILED"],
                     counts["PRUNED"], best, time.monotonic() - start, infeasible)


_UNHANDLED = "RAY_IGNORE_UNHANDLED_ERRORS"


@contextlib.contextmanager
def _cancelled_tasks_unreported() -> Iterator[None]:
    """Keep Ray from printing "Unhandled error: the worker died" for the tasks a run cancels.

    The pool reads every task it keeps; the only results dropped unread are those of tasks it
    killed itself (Ctrl-C, SIGTERM, a trial past its timeout), and Ray reported each of those
    on the console after the run had already said "interrupted". The setting is Ray's own
    switch, read when a dropped result is reported, and is put back after the run.
    """
    before = os.environ.get(_UNHANDLED)
    os.environ[_UNHANDLED] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_UNHANDLED, None)
        else:
            os.environ[_UNHANDLED] = before


def _finished(ledger: Ledger, study: Study) -> bool:
    counts = ledger.counts()
    return sum(counts[s] for s in FINISHED) >= study.trials and not counts["RUNNING"]


def _run_on_ray(db: Any, ledger: Ledger, study: Study, storage: str, workers: int, seed: int,
                address: str | None, quiet: bool, log_dir: str) -> str | None:
    """Run the study's trials; returns the driver's infeasibility summary (or None)."""
    started_ray = False
    watchdog = None
    was_up = ray.is_initialized()
    try:
        with _deferred_interrupts():
            started_ray = _start_ray(address, math.ceil(workers * study.cpus) or 1, quiet)
            if started_ray and address is None:
                _stop_autoscaler()
                # A local Ray dies with its driver, even one killed by SIGKILL.
                watchdog = _watchdog.start(ray._private.worker.global_worker.node.session_name)
        _refuse_sqlite_on_cluster(storage)
        pool = Pool(shippable(study.evaluate), cpus=study.cpus, gpus=study.gpus,
                    timeout_s=study.timeout_s, workers=workers)
        with study_logger(log_path(log_dir, study.name)) as logger:
            driver = _Driver(db, ledger, study, pool, storage, workers, seed, quiet, logger,
                             log_dir)
            driver.loop()
            return None if driver.feasible is None else driver.feasible.summary()
    finally:
        # A start-up cut short by an interrupt may have left Ray half up: shut that down too.
        if started_ray or (not was_up and ray.is_initialized()):
            with _deferred_interrupts():
                ray.shutdown()
        if watchdog is not None:
            _watchdog.stop(watchdog)


def _start_ray(address: str | None, cpus: int, quiet: bool) -> bool:
    """Start or join Ray unless the caller already did; True if this call must shut it down."""
    if ray.is_initialized():
        return False
    options = ray_options(quiet)
    if address is None:
        # "local" starts a new Ray even where RAY_ADDRESS or a `ray start --head` on this host
        # would make a bare ray.init() join that cluster (which refuses num_cpus). Ray runs
        # its workers at nice 15 by default, so on a busy machine the trials (all the work)
        # got a fortieth of a core beside any ordinary process: 100 archs/s instead of 1,300
        # beside two CPU burners. They keep the driver's priority instead (`nice nas run`
        # still lowers it all).
        ray.init(address="local", num_cpus=cpus, _system_config={"worker_niceness": 0},
                 **options)
    else:
        ray.init(address=address, **options)
    return True


def _stop_autoscaler() -> None:
    """Stop the autoscaler monitor of the local Ray this run started: a local Ray of fixed size
    has nothing to scale, and the monitor took CPU from the first trials while it started and a
    second of every shutdown (Ray's grace period for SIGTERM, which it outlasts);
    ``ray.shutdown`` skips a process that is already gone.
    """
    node = ray._private.worker.global_worker.node
    for info in node.all_processes.get(ray._private.ray_constants.PROCESS_TYPE_MONITOR, []):
        info.process.kill()
        info.process.wait()


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


def _open_study(db: Any, study: Study, resume: bool, spec_source: str | None,
                allow_changes: bool) -> None:
    """Create or join the study in one step, then check that the stored one is this search."""
    if resume:
        try:
            db.get_study(study.name)
        except storage_mod.StudyNotFound:
            raise UserError(
                f"Cannot resume study {study.name!r}: it is not in the database. Run it "
                "without --resume to start it, or check --storage."
            ) from None
    constraints = [c.to_dict() for c in study.constraints]
    try:
        stored = db.create_study(
            study.name, objectives=dict(study.objectives), constraints=constraints,
            searcher=study.searcher, space_hash=study.space.hash, spec_source=spec_source,
            settings={"trials": study.trials, "retries": study.retries,
                      "timeout_s": study.timeout_s, "resources": dict(study.resources or {}),
                      "pruner": study.pruner,
                      "pruner_options": dict(study.pruner_options or {})},
            exist_ok=True,
        )
    except storage_mod.StudyExists:
        stored = db.get_study(study.name)
        raise UserError(
            f"Study {study.name!r} is stored with objectives {stored.objectives}, but the "
            f"spec asks for {dict(study.objectives)}. Give the changed search a new name."
        ) from None
    if stored.space_hash not in (None, study.space.hash):
        raise UserError(
            f"Study {study.name!r} is stored with another search space (hash "
            f"{stored.space_hash}, spec {study.space.hash}). Give the changed search a "
            "new name."
        )
    changes = {}
    if _comparable(stored.constraints) != _comparable(constraints):
        changes["constraints"] = (stored.constraints, constraints)
    if stored.searcher not in (None, study.searcher):
        changes["searcher"] = (stored.searcher, study.searcher)
    if changes and not allow_changes:
        what, (old, new) = next(iter(changes.items()))
        raise UserError(
            f"Study {study.name!r} is stored with {what} {old}, but the spec (or the command "
            f"line) asks for {new}. Give the changed search a new name, or continue the "
            "stored study with the change using --allow-changes."
        )
    if changes or (spec_source is not None and stored.spec_source != spec_source):
        db.update_study(study.name, constraints=constraints, searcher=study.searcher,
                        spec_source=spec_source, change=dict(changes) or None)


def _comparable(constraints: Any) -> list[str]:
    import json

    # Stored bounds are floats (the spec may have written an int); an unset field is None.
    return sorted(json.dumps({**{k: v for k, v in c.items() if v is not None},
                              "bound": float(c["bound"])}, sort_keys=True)
                  for c in constraints)


class _Driver:
    """The state of one run: searcher, Ray pool and what is in flight; every trial's state
    change goes through the :class:`Ledger`."""

    def __init__(
        self,
        db: Any,
        ledger: Ledger,
        study: Study,
        pool: Pool,
        url: str,
        workers: int,
        seed: int,
        quiet: bool,
        logger: Any,
        log_dir: str = "runs",
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.log_dir = log_dir
        self._kept_supernet: Any = None
        self.study = study
        self.workers = workers
        self.log = logger
        self._requeue_dead_here()
        trials = db.trials(study.name)
        self.finished = {s: sum(t.state == s for t in trials) for s in FINISHED}
        self._queue_initial({t.arch_id for t in trials})
        self.searcher = self._searcher(seed, url, [t for t in trials if t.state in FINISHED])
        self.pruner: BasePruner | None = None
        if study.pruner is not None:
            self.pruner = make_pruner(study.pruner, study.objectives, study.pruner_options)
            # Resumed: the finished trials' curves set the cutoffs again.
            curves = db.intermediate_values(study.name)
            for t in trials:
                if t.id in curves and t.state in FINISHED:
                    self.pruner.observe(curves[t.id], t.state)
        self.pool = pool
        self.retry: list[tuple[int, Architecture]] = []
        self.queued_left = True
        self.exhausted = False
        self.batch = 1
        self.saved_at = time.monotonic()
        self.progress = Progress(study.name, study.trials, sum(self.finished.values()),
                                 dict(study.objectives), quiet)
        for t in trials:
            if t.state == "COMPLETE":
                self.progress.observe(t.metrics)

    def loop(self) -> None:
        self.log.info("run %s: %d workers, target %d trials, %d finished already, driver %s",
                      self.study.name, self.workers, self.study.trials,
                      sum(self.finished.values()), self.ledger.me)
        with self.progress, _sigterm_as_interrupt():
            try:
                while True:
                    self._fill()
                    if not len(self.pool):
                        if not self._others_running():
                            break
                        time.sleep(POLL_S)
                    self._handle(self.pool.wait(POLL_S))
                    if self.ledger.keep_leases():
                        self.queued_left = True
                    self._save_state(force=False)
                    self._show()
            except KeyboardInterrupt:
                self._interrupt()
                raise
            self._save_state(force=True)
            self._show()
        self.log.info("run %s ended: %s", self.study.name, self.ledger.counts())

    def _others_running(self) -> bool:
        """Whether other drivers still run trials of this study that may come back to the
        queue (their driver dies, or their lease lapses): this one waits for them instead of
        ending short of the budget. Nothing of theirs can be taken while the budget is spent
        anyway."""
        counts = self.ledger.counts()
        if counts["QUEUED"] and sum(counts[s] for s in FINISHED) < self.study.trials:
            self.queued_left = True
        return bool(counts["RUNNING"]) and sum(
            counts[s] for s in FINISHED) < self.study.trials

    def _searcher(self, seed: int, url: str,
                  finished: list[storage_mod.TrialRecord]) -> BaseSearcher:
        study = self.study
        self.feasible = feasibility_check(study.constraints, url)
        searcher = make_searcher(
            study.searcher, space=study.space, objectives=dict(study.objectives),
            constraints=study.constraints, seed=seed,
            feasible=self.feasible,
            **dict(study.searcher_options or {}),
        )
        state = self.db.searcher_state(study.name)
        # A study continued with another searcher (--searcher), or saved in an older format,
        # starts it from the trials alone.
        if (state is not None and state.get("searcher") == searcher.name
                and state.get("format") == STATE_FORMAT):
            searcher.load_state_dict(state)
        searcher.warm_start(finished)
        return searcher

    def _requeue_dead_here(self) -> None:
        """Trials of a driver on this host whose process is gone are taken back at once; on
        other hosts (or for a live process) only their lease lapsing tells."""
        host = socket.gethostname()
        dead = set()
        for t in self.db.trials(self.study.name, "RUNNING"):
            owner = (t.worker or "").split(":")
            if len(owner) >= 2 and owner[0] == host and owner[1].isdigit() and (
                    not _watchdog.alive(int(owner[1]))):
                dead.add(t.worker)
        if dead:
            self.db.recover(self.study.name, workers=sorted(dead), requeue=True,
                            error="interrupted: its driver died")

    def _queue_initial(self, known: set[str]) -> None:
        """Queue the study's initial architectures that it has not seen yet (once per study)."""
        new = [a for a in self.study.initial if a.id not in known]
        if new:
            self.db.add_trials(self.study.name, new, searcher="initial")

    def _need(self) -> int:
        # Read from the database, so that every driver of the study counts against the budget;
        # the claim itself checks the budget again, atomically.
        counts = self.ledger.counts()
        return self.study.trials - sum(counts[s] for s in (*FINISHED, "RUNNING"))

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

    def _next_batch(self) -> list[tuple[int, Architecture]]:
        """Trials for one task, all RUNNING in the database before they start: retries first,
        then queued ones, then the searcher's (a whole batch claimed in one transaction)."""
        if self.retry:
            return [self.retry.pop(0)]
        need = self._need()
        if need <= 0:
            return []
        if self.queued_left:
            claimed = self.ledger.claim_queued()
            if claimed is not None:
                return [claimed]
            self.queued_left = False
        while not self.exhausted:
            asked = self.searcher.ask(min(self.batch, need))
            if not asked:
                # "Not now" while results are pending: a searcher may wait for them (a
                # generation); it is exhausted only if it has nothing with nothing in flight.
                self.exhausted = not len(self.pool)
                return []
            started = self.ledger.start(asked)
            if started:
                return started
            # Every one was taken by another driver (or the budget is spent): ask again.
            if self._need() <= 0:
                return []
        return []

    def _handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            task = outcome.task
            pairs = list(zip(task.trial_ids, task.archs, strict=True))
            if outcome.timed_out and len(pairs) > 1:
                # Only a lone trial is judged by its own clock; a batch is split and re-run.
                self.retry.extend(pairs)
            elif outcome.timed_out:
                self._told([self.ledger.fail(*pairs[0], timeout_message(self.study.timeout_s))])
            elif outcome.crashed is not None:
                for tid, arch in pairs:
                    self._crashed(tid, arch, outcome.crashed)
            else:
                results = [self._with_trial_metrics(arch, TrialResult.from_worker(r))
                           for arch, r in zip(task.archs, outcome.results or [], strict=True)]
                metric = None if self.pruner is None else self.pruner.metric
                self._told(self.ledger.finish(pairs, results, metric))
                self._adapt_batch(results)

    def _with_trial_metrics(self, arch: Architecture, result: TrialResult) -> TrialResult:
        """Add what the searcher knows of the trial (a one-shot supernet's score); the worker's
        own metrics win a name clash."""
        if result.metrics is None:
            return result
        extra = self.searcher.trial_metrics(arch)
        if not extra:
            return result
        return dataclasses.replace(result, metrics={**extra, **result.metrics})

    def _told(self, finished: list[Finished]) -> None:
        """Hand what the ledger recorded to the searcher, the pruner and the progress line."""
        for f in finished:
            self.finished[f.state] += 1
            if f.state == "COMPLETE":
                self.searcher.tell(f.arch, f.metrics)
                self.progress.observe(f.metrics)
            elif f.state == "PRUNED":
                # As on resume, where any state but COMPLETE is told as a failure.
                self.searcher.tell_failure(f.arch, "pruned")
                self.log.info("trial %d PRUNED", f.trial_id)
            else:
                self.searcher.tell_failure(f.arch, f.error or "failed")
                self.log.warning("trial %d FAILED: %s", f.trial_id,
                                 (f.error or "").strip().splitlines()[-1:])
            if self.pruner is not None and f.state != "FAILED":
                self.pruner.observe(list(f.values), f.state)

    def _crashed(self, tid: int, arch: Architecture, error: str) -> None:
        """A worker died under the trial: re-run it ``study.retries`` times, then fail it."""
        failed = self.ledger.crashed(tid, arch, error, self.study.retries)
        if failed is not None:
            self._told([failed])
            return
        self.log.warning("trial %s: worker died (%s); re-queued", tid, error.splitlines()[0])
        self.queued_left = True

    def _adapt_batch(self, results: list[TrialResult]) -> None:
        if any(r.values or r.pruned for r in results):
            # Trials that report intermediate values (training) run one per task: the database
            # shows them RUNNING, and the pruner judges each against the latest cutoffs.
            self.batch = 1
            return
        # Failures say nothing about how long a trial takes (they often fail at once).
        times = [r.seconds for r in results if r.error is None]
        if times:
            per_trial = sum(times) / len(times)
            self.batch = max(1, min(MAX_BATCH, int(TASK_SECONDS / max(per_trial, 1e-6))))

    def _save_state(self, *, force: bool) -> None:
        since = time.monotonic() - self.saved_at
        if force or since >= SAVE_EVERY_S:
            state = self.searcher.state_dict()
            self.ledger.call(lambda: self.db.save_searcher_state(self.study.name, state))
            self._keep_supernet()
            self.saved_at = time.monotonic()

    def _keep_supernet(self) -> None:
        """A one-shot searcher's trained supernet becomes a study artifact (once per build), so
        `nas export --weights` and later extractions need no retraining."""
        supernet = getattr(self.searcher, "supernet", None)
        if supernet is None or supernet is self._kept_supernet:
            return
        path = self.ledger.call(
            lambda: keep_supernet(self.db, self.study.name, supernet, self.log_dir))
        self._kept_supernet = supernet
        if path is not None:
            self.log.info("supernet checkpoint kept at %s", path)

    def _show(self) -> None:
        running = self.pool.trials + len(self.retry)
        self.progress.update(self.finished["COMPLETE"], running, self.finished["FAILED"],
                             self.finished["PRUNED"])

    def _interrupt(self) -> None:
        """Ctrl-C: kill running tasks and put their trials back in the queue."""
        tasks = self.pool.cancel_all()
        ids = [tid for task in tasks for tid in task.trial_ids] + [tid for tid, _ in self.retry]
        self.ledger.requeue(ids, "interrupted")
        self._save_state(force=True)
        self.log.warning("run %s interrupted: %d running trials re-queued", self.study.name,
                         len(ids))
