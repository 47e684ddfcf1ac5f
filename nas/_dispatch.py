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

from space import Architecture

MAX_ERROR_CHARS = 4000
# The driver kills a task this long after its trials' own limits: the worker enforces the limit
# itself, so this is only for code that a signal cannot interrupt (a hung C call), and it
# leaves room for a worker process to start after a kill.
KILL_GRACE_S = 15.0


def evaluate_batch(
    evaluate: Callable[..., Any], arch_jsons: Sequence[str], timeout_s: float | None
) -> list[dict[str, Any]]:
    """Evaluate architectures one after another in this worker; never raises for a trial's error.

    Architectures travel as canonical JSON, which the driver has anyway for the database and
    which unpickles several times faster than ``Architecture`` objects.

    Returns, per architecture, ``{"metrics": dict | None, "error": str | None, "values":
    [(name, step, value), ...], "seconds": float}``. Intermediate values travel back with the
    result because workers never write to the database.
    """
    wants_report = _accepts_report(evaluate)
    out = []
    with _alarm(timeout_s) as arm:
        for text in arch_jsons:
            values: list[tuple[str, int, float]] = []
            start = time.perf_counter()
            try:
                arch = Architecture.from_json(text)
                arm(timeout_s)
                if wants_report:
                    keep = values.append
                    metrics = evaluate(arch, report=lambda n, s, v, keep=keep: keep((n, s, v)))
                else:
                    metrics = evaluate(arch)
                arm(None)
                result = {"metrics": {str(k): float(v) for k, v in dict(metrics).items()},
                          "error": None}
            except TrialTimeout:
                result = {"metrics": None, "error": timeout_message(timeout_s)}
            except Exception:
                arm(None)
                result = {"metrics": None, "error": traceback.format_exc()[-MAX_ERROR_CHARS:]}
            result["values"] = [(str(n), int(s), float(v)) for n, s, v in values]
            result["seconds"] = time.perf_counter() - start
            out.append(result)
    return out


def timeout_message(timeout_s: float | None) -> str:
    return f"timeout after {timeout_s:g} s"


class TrialTimeout(BaseException):
    """Raised inside a trial that ran past its limit; a BaseException so that an evaluate
    catching ``Exception`` cannot swallow it."""


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


def _accepts_report(evaluate: Callable[..., Any]) -> bool:
    try:
        return "report" in inspect.signature(evaluate).parameters
    except (TypeError, ValueError):
        return False


@dataclasses.dataclass
class Task:
    """One Ray task in flight: the trials it carries and when the driver kills it."""

    trial_ids: list[int | None]  # None: a batched trial, written to the database when done
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
        warm: Empty tasks to send at once, so that many worker processes import this module
            and the evaluator's (torch, typically: seconds) while the driver opens the
            database and builds the searcher.
    """

    def __init__(
        self,
        evaluate: Callable[..., Any],
        *,
        cpus: float,
        gpus: float,
        timeout_s: float | None,
        warm: int = 0,
    ) -> None:
        self._evaluate_ref = ray.put(evaluate)
        self._remote = ray.remote(evaluate_batch).options(
            num_cpus=cpus, num_gpus=gpus, max_retries=0
        )
        self._timeout_s = timeout_s
        self._tasks: dict[ray.ObjectRef, Task] = {}
        # Their results are never read: an evaluate that fails to load fails the first trial.
        self._warming = [self._remote.remote(self._evaluate_ref, [], None) for _ in range(warm)]

    def __len__(self) -> int:
        return len(self._tasks)

    def trial_ids(self) -> list[int | None]:
        """Ids of every trial in flight."""
        return [tid for task in self._tasks.values() for tid in task.trial_ids]

    def submit(self, trial_ids: list[int | None], archs: list[Any]) -> None:
        now = time.monotonic()
        deadline = None
        if self._timeout_s is not None:
            deadline = now + self._timeout_s * len(archs) + KILL_GRACE_S
        ref = self._remote.remote(self._evaluate_ref, [a.to_json() for a in archs],
                                  self._timeout_s)
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
    return {"metrics": None, "error": message, "values": [], "seconds": 0.0}
