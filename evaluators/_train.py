"""Train an architecture on a task with a step or time budget; the training evaluator."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import space
from evaluators._base import BaseEvaluator
from evaluators._base import Metrics
from evaluators._base import Report
from evaluators._errors import EvaluatorError
from evaluators._export import artifact_root as artifact_root_path
from evaluators._export import save_weights
from evaluators._latency import fast_dict
from evaluators._tasks import IGNORE
from evaluators._tasks import TASKS
from evaluators._tasks import BaseTask
from evaluators._tasks import make_task

# Quick mode: a budget that trains a 2-layer model in well under 30 s on one core; the time cap
# holds even for long sequences.
QUICK_STEPS = 150
QUICK_SECONDS = 20.0


@dataclass
class TrainResult:
    """Metrics of one training run and the trained weights (for warm starts)."""

    metrics: dict[str, float]
    state_dict: dict[str, torch.Tensor]
    #: The architecture trained: the task's adaptation of the one asked for.
    arch: dict[str, Any] | None = None


def warm_start(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> float:
    """Copy every tensor of ``state`` whose name and shape match ``model``'s.

    Returns:
        The fraction of the model's parameter elements copied (0..1).
    """
    own = model.state_dict()
    copied = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(copied, strict=False)
    params = dict(model.named_parameters())
    total = sum(p.numel() for p in params.values())
    done = sum(params[k].numel() for k in copied if k in params)
    return done / total if total else 0.0


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.dim() == 3:
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)
    return F.cross_entropy(logits, y)


@torch.no_grad()
def validation_metrics(forward: Callable[[torch.Tensor], torch.Tensor],
                       task: BaseTask) -> dict[str, float]:
    """Mean loss (nats per scored target) and accuracy of ``forward`` over the task's
    validation batches (and perplexity for language modelling)."""
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in task.validation():
        logits = forward(x)
        if logits.dim() == 3:
            logits, y = logits.flatten(0, 1), y.flatten()
        keep = y != IGNORE
        logits, y = logits[keep], y[keep]
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(-1) == y).sum())
        count += int(y.numel())
    loss = loss_sum / max(count, 1)
    out = {"loss": loss, "accuracy": correct / max(count, 1)}
    if task.kind == "lm":
        out["perplexity"] = math.exp(min(loss, 50.0))
    return out


def evaluate(model: torch.nn.Module, task: BaseTask) -> dict[str, float]:
    """``validation_metrics`` of a model, in eval mode."""
    model.eval()
    try:
        return validation_metrics(model, task)
    finally:
        model.train()


def train(
    arch: Any,
    task: str | BaseTask,
    *,
    steps: int | None = None,
    seconds: float | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    eval_every: int | None = None,
    seed: int = 0,
    init: Mapping[str, torch.Tensor] | None = None,
    report: Report | None = None,
    task_options: Mapping[str, Any] | None = None,
    adapt: bool = False,
) -> TrainResult:
    """Train ``arch`` on ``task`` and score it on validation.

    Seeded and deterministic on the CPU for a step budget (a time budget stops wherever the
    clock says). AdamW with a linear warm-up over the first 5 % of steps and cosine decay.

    Args:
        steps / seconds: the budget; at least one is needed, the first reached stops training.
        eval_every: steps between validation scores passed to ``report`` (default: 4 per run).
        init: a state dict to warm-start from; tensors whose names and shapes match are copied.
        report: ``report(name, step, value)`` with the validation ``accuracy`` (classification)
            or ``loss`` (language modelling).
        adapt: train the architecture's layers on the task's own input and head; without it,
            an architecture built for another input or class count is an error.

    Returns:
        ``TrainResult``; metrics: ``accuracy``, ``loss``, ``perplexity`` (LM tasks),
        ``train_s``, ``steps``, ``warm_start_fraction`` (with ``init``).

    Raises:
        EvaluatorError: no budget, or (without ``adapt``) an architecture whose input, task or
            class count is not the task's.
    """
    if steps is None and seconds is None:
        raise EvaluatorError("train needs a budget: pass steps=N or seconds=S (or both).")
    task = make_task(task, **dict(task_options or {}))
    a = fast_dict(arch)
    if not adapt:
        task.check(a)
    a = task.adapt(a)
    torch.manual_seed(seed)
    model = space.build(a, seed=seed)
    metrics: dict[str, float] = {}
    if init is not None:
        metrics["warm_start_fraction"] = warm_start(model, init)
    total = steps if steps is not None else 10**9
    every = eval_every or max(1, (steps or 200) // 4)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    warmup = max(1, (steps or 200) // 20)
    rng = np.random.default_rng(seed)
    model.train()
    start = time.perf_counter()
    step = 0
    while step < total and (seconds is None or time.perf_counter() - start < seconds):
        frac = step / total if steps is not None else 0.0
        scale = min(1.0, (step + 1) / warmup) * (0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        x, y = task.batch(rng, batch_size)
        loss = _loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if report is not None and step % every == 0 and step < total:
            scores = evaluate(model, task)
            name = "accuracy" if task.kind == "classify" else "loss"
            report(name, step, scores[name])
    train_s = time.perf_counter() - start
    metrics.update(evaluate(model, task))
    metrics.update(train_s=train_s, steps=float(step))
    return TrainResult(metrics, {k: v.detach().clone() for k, v in model.state_dict().items()},
                       a)


class TrainEvaluator(BaseEvaluator):
    """Trains each architecture on a task and returns its validation metrics.

    Args:
        task: ``"digits"``, ``"listops"``, ``"mqar"``, ``"stdlib-lm"`` or a ``BaseTask``.
        steps / seconds: training budget (``quick`` caps it at ``QUICK_STEPS`` steps and
            ``QUICK_SECONDS``).
        quick: a short run for smoke tests and ``nas run --quick``.
        task_options: keyword arguments of the task's constructor (e.g. ``max_len``).
        adapt: train each architecture's layers on the task's input and head even when the
            space declares another (``check_space`` then accepts any space); the spec that
            says so is the record of it.
        keep_weights: write each trained state dict (with the architecture trained) as a
            weights file under ``artifact_root`` (default ``$NAS_ARTIFACTS``, else
            ``./artifacts``), recorded with its sha256 in the trial's ``artifacts``; ``nas
            export TRIAL --weights`` reads it back.
        Other arguments as ``train``.

    A study refuses a space whose input, task or class count differ from the task's unless
    ``adapt=True``: ``TrainEvaluator("digits")`` on a ``patches(32, 4, 3)``, 100-class space
    would train an 8×8, 10-class model while a cost evaluator prices the 32×32×3 one.
    """

    def __init__(
        self,
        task: str | BaseTask = "digits",
        *,
        steps: int | None = 500,
        seconds: float | None = None,
        batch_size: int = 64,
        lr: float = 1e-3,
        seed: int = 0,
        quick: bool = False,
        task_options: Mapping[str, Any] | None = None,
        adapt: bool = False,
        keep_weights: bool = False,
        artifact_root: str | None = None,
    ) -> None:
        self.task = task
        self.steps = steps
        self.seconds = seconds
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.quick = quick
        self.task_options = task_options
        self.adapt = adapt
        self.keep_weights = keep_weights
        # Resolved here, in the driver: workers may run in another directory.
        self.artifact_root = str(artifact_root_path(artifact_root)) if keep_weights else None

    @property
    def metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        kind = self.task.kind if isinstance(self.task, BaseTask) else TASKS[self.task].kind
        extra = ("perplexity",) if kind == "lm" else ()
        return ("accuracy", "loss", *extra, "train_s")

    def check_space(self, space: Any) -> None:
        """Refuse a space whose architectures this task cannot train as they are (16
        samples are checked; ``train`` checks every trial's architecture again)."""
        if self.adapt:
            return
        task = make_task(self.task, **dict(self.task_options or {}))
        seen = set()
        for seed in range(16):
            arch = fast_dict(space.sample(seed=seed))
            key = json.dumps([arch.get(k) for k in ("input", "task", "num_classes")],
                             sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                task.check(arch)

    def __call__(self, arch: Any, report: Report | None = None,
                 init: Mapping[str, torch.Tensor] | None = None) -> dict[str, float]:
        steps, seconds = self.steps, self.seconds
        if self.quick:
            steps = min(steps or QUICK_STEPS, QUICK_STEPS)
            seconds = min(seconds or QUICK_SECONDS, QUICK_SECONDS)
        result = train(arch, self.task, steps=steps, seconds=seconds,
                       batch_size=self.batch_size, lr=self.lr, seed=self.seed, init=init,
                       report=report, task_options=self.task_options, adapt=self.adapt)
        if not self.keep_weights:
            return result.metrics
        saved = save_weights(result.arch, result.state_dict, self.artifact_root)
        return Metrics(result.metrics, [saved])
