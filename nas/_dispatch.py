"""The Ray side of the runner: plain tasks that evaluate batches of architectures.

Plain Ray tasks instead of Ray Tune: Tune's per-trial bookkeeping (experiment checkpoints, result
logging, trial actors) costs seconds per trial on small machines, while a task costs
milliseconds and Ray's worker pool keeps the processes (and their imports) warm between trials.
The study database, not Tune's files, is the source of truth, so nothing of Tune is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import signal
import threading
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import ray
from ray.exceptions import RayError
from ray.exceptions import RayTaskError

from nas._pruners import Cutoffs
from space import Architecture

MAX_ERROR_CHARS = 4000
# The driver kills a task this long after its trials' own limits: the worker enforces the limit
# itself, so this is only for code that a signal cannot interrupt (a hung C call), and it
# leaves room for a worker process to start after a kill.
KILL_GRACE_S = 15.0


def evaluate_batch(
    evaluate: Callable[..., Any],
    arch_jsons: Sequence[str],
    timeout_s: float | None,
    cutoffs: Cutoffs | None = None,
) -> list[dict[str, Any]]:
    """Evaluate architectures in this worker; never raises for a trial's error.

    Architectures travel as canonical JSON, which the driver has anyway for the database and
    which unpickles several times faster than ``Architecture`` objects. A batch goes to the
    evaluator's ``evaluate_many`` in one call where it has one (cost models price a list at
    once); if that call fails, each trial runs alone so the error lands on the trial that
    caused it.

    Returns, per architecture, ``{"metrics": dict | None, "error": str | None, "pruned":
    bool, "values": [(name, step, value), ...], "seconds": float}``. Intermediate values
    travel back with the result because workers never write to the database; ``cutoffs``
    stops a trial (``pruned``) at the first reported value that falls behind them.
    """
    with _alarm(timeout_s) as arm:
        if len(arch_jsons) > 1 and hasattr(evaluate, "evaluate_many"):
            many = _evaluate_many(evaluate, arch_jsons, timeout_s, arm)
            if many is not None:
                return many
        wants_report = accepts_report(evaluate)
        return [_evaluate_one(evaluate, text, timeout_s, arm, wants_report, cutoffs)
                for text in arch_jsons]


def _evaluate_one(
    evaluate: Callable[..., Any],
    text: str,
    timeout_s: float | None,
    arm: Callable[[float | None], None],
    wants_report: bool,
    cutoffs: Cutoffs | None,
) -> dict[str, Any]:
    values: list[tuple[str, int, float]] = []
    prunes = None if cutoffs is None else cutoffs.judge()

    def report(name: str, step: int, value: float) -> None:
        value = float(value)
        # The database keeps finite values only; a NaN still stops the trial below.
        if math.isfinite(value):
            values.append((str(name), int(step), value))
        if prunes is not None and prunes(str(name), int(step), value):
            raise TrialPruned

    start = time.perf_counter()
    result: dict[str, Any] = {"metrics": None, "error": None, "pruned": False}
    try:
        arch = Architecture.from_json(text)
        arm(timeout_s)
        metrics = evaluate(arch, report=report) if wants_report else evaluate(arch)
        arm(None)
        result["metrics"], result["error"] = _checked(metrics)
        # Files the evaluator wrote (trained weights): the driver records them.
        result["artifacts"] = [dict(a) for a in getattr(metrics, "artifacts", ())]
    except TrialTimeout:
        result["error"] = timeout_message(timeout_s)
    except TrialPruned:
        arm(None)
        result["pruned"] = True
    except Exception:
        arm(None)
        result["error"] = traceback.format_exc()[-MAX_ERROR_CHARS:]
    result["values"] = values
    result["seconds"] = time.perf_counter() - start
    return result


def _evaluate_many(
    evaluate: Any,
    arch_jsons: Sequence[str],
    timeout_s: float | None,
    arm: Callable[[float | None], None],
) -> list[dict[str, Any]] | None:
    """The whole batch in one ``evaluate_many`` call, or None if that call failed."""
    start = time.perf_counter()
    try:
        archs = [Architecture.from_json(text) for text in arch_jsons]
        # One limit for the batch; over it, each trial runs again under its own limit.
        arm(None if timeout_s is None else timeout_s * len(archs))
        many = list(evaluate.evaluate_many(archs))
        arm(None)
    except (TrialTimeout, Exception):
        arm(None)
        return None
    if len(many) != len(archs):
        return None
    seconds = (time.perf_counter() - start) / len(archs)
    out = []
    for metrics in many:
        try:
            checked, error = _checked(metrics)
        except Exception:
            checked, error = None, traceback.format_exc()[-MAX_ERROR_CHARS:]
        out.append({"metrics": checked, "error": error, "pruned": False, "values": [],
                    "seconds": seconds,
                    "artifacts": [dict(a) for a in getattr(metrics, "artifacts", ())]})
    return out


def _checked(metrics: Any) -> tuple[dict[str, float] | None, str | None]:
    """Metrics as ``{str: float}``, or an error naming a value the database cannot keep."""
    out = {str(k): float(v) for k, v in dict(metrics).items()}
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        return None, (f"evaluate returned {bad[0]}={out[bad[0]]}; metrics must be finite "
                      "numbers (drop the metric, or raise to fail the trial).")
    return out, None


def timeout_message(timeout_s: float | None) -> str:
    return f"timeout after {timeout_s:g} s"


class TrialTimeout(BaseException):
    """Raised inside a trial that ran past its limit; a BaseException so that an evaluate
    catching ``Exception`` cannot swallow it."""


class TrialPruned(BaseException):
    """Raised from ``report`` in a trial that fell behind the pruner's cutoffs; a
    BaseException for the same reason as ``TrialTimeout``."""


@contextlib.contextmanager
def _alarm(timeout_s: float | None) -> Iterator[Callable[[float | None], None]]:
    """Yield ``arm(seconds | None)``, which (re)sets or clears a timer raising TrialTimeout.

    Each trial is timed from its own start, not from when its task was queued. Signals reach
    only the main thread; elsewhere ``arm`` does nothing and the driver's hard deadline applies.
    """
    if timeout_s is None or threading.current_thread() is not threading.main_thread():
        yield lambda seconds: None
        return

    def expire(signum: int, frame: Any) -> None:
        raise TrialTimeout

    def arm(seconds: float | None) -> None:
        signal.setitimer(signal.ITIMER_REAL, seconds or 0)

    previous = signal.signal(signal.SIGALRM, expire)
    try:
        yield arm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def accepts_report(evaluate: Callable[..., Any]) -> bool:
    try:
        return "report" in inspect.signature(evaluate).parameters
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass
class Task:
    """One Ray task in flight: the trials it carries and when the driver kills it."""

    trial_ids: list[int]  # RUNNING in the database before the task starts
    archs: list[Any]
    deadline: float | None


@dataclasses.dataclass
class Outcome:
    """What came back for one task: per-trial results, or why the task as a whole failed."""

    task: Task
    results: list[dict[str, Any]] | None = None
    crashed: str | None = None  # the worker process or its node died: worth a retry
    timed_out: bool = False


class Pool:
    """Submits tasks with per-trial resources and collects them as they finish or time out.

    Args:
        evaluate: The study's evaluate callable; put in the object store once.
        cpus: CPUs per task.
        gpus: GPUs (or a fraction) per task.
        timeout_s: Per-trial limit, enforced in the worker; the driver kills a task only when
            it overruns its trials' limits by ``KILL_GRACE_S``.
        workers: Tasks that run at once. As many empty tasks go out at once, so that the worker
            processes import this module and the evaluator's (torch, typically: seconds) while
            the driver opens the database and builds the searcher.
    """

    def __init__(
        self,
        evaluate: Callable[..., Any],
        *,
        cpus: float,
        gpus: float,
        timeout_s: float | None,
        workers: int,
    ) -> None:
        self._evaluate_ref = ray.put(evaluate)
        self._remote = ray.remote(evaluate_batch).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=0
        )
        self._timeout_s = timeout_s
        self._workers = workers
        self._tasks: dict[ray.ObjectRef, Task] = {}
        # Their results are never read: an evaluate that fails to load fails the first trial.
        self._warming = [self._remote.remote(self._evaluate_ref, [], None)
                         for _ in range(workers)]

    def __len__(self) -> int:
        return len(self._tasks)

    @property
    def trials(self) -> int:
        """Trials in flight."""
        return sum(len(task.archs) for task in self._tasks.values())

    def submit(self, trial_ids: list[int], archs: list[Any],
               cutoffs: Cutoffs | None = None) -> None:
        """Send one task; beyond ``workers`` tasks it waits in Ray's queue for a free worker."""
        deadline = None
        if self._timeout_s is not None:
            # A queued task may first wait for every trial in flight, each up to its limit.
            waits = self.trials if len(self._tasks) >= self._workers else 0
            deadline = time.monotonic() + self._timeout_s * (len(archs) + waits) + KILL_GRACE_S
        ref = self._remote.remote(self._evaluate_ref, [a.to_json() for a in archs],
                                  self._timeout_s, cutoffs)
        self._tasks[ref] = Task(trial_ids, archs, deadline)

    def wait(self, timeout: float) -> list[Outcome]:
        """Outcomes of every task finished within ``timeout`` seconds (may be none)."""
        if not self._tasks:
            return []
        deadlines = [t.deadline for t in self._tasks.values() if t.deadline is not None]
        if deadlines:
            timeout = max(0.0, min(timeout, min(deadlines) - time.monotonic()))
        refs = list(self._tasks)
        ready, rest = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and rest:
            # Collect everything else already finished too: one DB batch instead of several.
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        outcomes = [self._collect(ref) for ref in ready]
        now = time.monotonic()
        for ref, task in list(self._tasks.items()):
            if task.deadline is not None and now >= task.deadline:
                # force=True kills the worker process: a hung trial cannot hold its slot.
                ray.cancel(ref, force=True)
                del self._tasks[ref]
                outcomes.append(Outcome(task, timed_out=True))
        return outcomes

    def cancel_all(self) -> list[Task]:
        """Kill every task in flight and return them (for Ctrl-C)."""
        tasks = list(self._tasks.values())
        for ref in self._tasks:
            ray.cancel(ref, force=True)
        self._tasks.clear()
        return tasks

    def _collect(self, ref: ray.ObjectRef) -> Outcome:
        task = self._tasks.pop(ref)
        try:
            return Outcome(task, results=ray.get(ref, timeout=0))
        except RayTaskError as exc:
            # evaluate_batch catches the trial's own errors, so this is Ray failing to run it at
            # all (e.g. an evaluate that cannot be unpickled in the worker): the same every time.
            message = f"{type(exc).__name__}: {exc}"[-MAX_ERROR_CHARS:]
            return Outcome(task, results=[_failure(message)] * len(task.archs))
        except RayError as exc:
            return Outcome(task, crashed=f"{type(exc).__name__}: {exc}"[-MAX_ERROR_CHARS:])


def _failure(message: str) -> dict[str, Any]:
    return {"metrics": None, "error": message, "pruned": False, "values": [], "seconds": 0.0}
