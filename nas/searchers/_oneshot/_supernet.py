"""A weight-sharing supernet over a transformer space (``nas.Supernet``): sandwich-rule
training with in-place distillation, few-shot splits along categorical decisions, scoring with
inherited weights, subnets as ordinary ``space.build`` models.

Every subnet is the ordinary ``space.build`` model of its architecture, run with
``torch.func.functional_call`` on parameters *sliced* from shared max-size tensors, so any mixer
the builder knows is elastic without a supernet version of it. A subnet parameter of shape
``(s0, s1, ...)`` is the leading block ``shared[:s0, :s1, ...]`` of the shared tensor stored
under its *share key*:

* elastic width, FFN width and Linformer/SSM/conv sizes: leading-block slicing of every tensor;
* elastic heads: the heads mixer lays its input projection out as (q/k/v, head, head_dim) and its
  output projection as (head, head_dim); those axes are sliced per block (``_head_layout``), so a
  subnet with fewer or narrower heads inherits whole heads, as in AutoFormer;
* elastic depth: layer i of every subnet shares ``blocks.i``, so depth d runs the first d layers;
* few-shot splits (``split``): one weight set per mixer type per layer, per FFN kind (SwiGLU's
  gated layout differs) and per patch size (the patch convolution and the positions depend on
  it); without a split those tensors are shared by name;
* ``rank_ratio``: low-rank linears (``.0/.1/.2`` factors) share among themselves by slicing the
  factor rank, separately from the dense linear of the same layer (the names differ).

Training (``train``): each step trains, on one batch and on the labels, a sandwich of subnets:
the step's first random subnet stretched to its largest and smallest sizes with its categorical
choices kept (``teacher="matched"``), and the random subnets themselves. With
``teacher="largest"`` the sandwich's ends are instead the space's one largest and smallest
subnet, and with ``distill`` the other subnets learn the largest's detached predictions
(in-place distillation, BigNAS). Both were the recipe until ``benchmarks/oneshot.py`` trained
each space's supernet under three seeds: on the space whose layers choose among four mixers the
one largest subnet taught every path at chance (Kendall τ 0.07 / 0.02 / 0.28 against 0.63 /
0.44 / 0.60 for the matched sandwich on labels), on the width/depth/heads space the two were
within noise (mean 0.47 against 0.53), and on the MCUFormer space both collapsed on two seeds of
three until the learning rate was scaled with the layers' width (see ``lr``).

Limits: a heterogeneous head list (several head groups) is sliced as one plain block, so its
heads do not map onto the heads of other subnets; mixer sizes that are tensor sizes (Linformer
rank, conv kernel, SSM state) are leading-block slices, whereas sizes that are no tensor size
(a window length) simply change the computation on the same weights. The shared tensors are
sized from a scan of sampled subnets and grow if a larger one turns up (its new region starts
from the random init). LayerNorm/RMSNorm keep no running statistics (the builder has no batch
norm), so no recalibration per subnet is needed; none is done.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from collections.abc import Container
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

import space as sp
from evaluators._tasks import IGNORE
from evaluators._tasks import BaseTask
from evaluators._tasks import make_task
from evaluators._train import validation_metrics
from space._nodes import Choice
from space._nodes import Const
from space._nodes import Integer
from space._nodes import Seq
from space._space import _random_value
from space._space import _rng
from space.mixers._heads import HeadsMixer

# Subnets seen while scanning the space for the shapes of the shared tensors.
SCAN_SAMPLES = 128
# Categorical decisions that can get separate weights (few-shot splits).
SPLITS = ("ffn", "mixer", "patch")
# Built subnet modules kept for reuse (they only lend their structure and buffers).
MODEL_CACHE = 512
# Layer width up to which the supernet trains at the given learning rate (see Supernet).
LR_WIDTH = 64


# Parameters of a heads mixer whose axis is laid out per head: name -> (axis, with q/k/v parts).
_PER_HEAD = {
    "inp.weight": (0, True),
    "inp.bias": (0, True),
    "inp.2.weight": (0, True),
    "inp.2.bias": (0, True),
    "out.weight": (1, False),
    "out.0.weight": (1, False),
}


def _head_layout(model: torch.nn.Module, name: str) -> tuple[int, tuple[int, ...]] | None:
    """(axis, (parts, heads, head_dim) or (heads, head_dim)) of a per-head axis, else None.

    Only a heads mixer with one head group (every uniform multi-head mixer) has one; a
    heterogeneous head list is sliced as a plain leading block.
    """
    parts = name.split(".")
    rest = ".".join(parts[3:])
    if parts[0] != "blocks" or parts[2] != "mixer" or rest not in _PER_HEAD:
        return None
    mixer = model.get_submodule(".".join(parts[:3]))
    if not isinstance(mixer, HeadsMixer) or len(mixer.groups) != 1:
        return None
    (head, heads), op = mixer.groups[0], mixer.ops[0]
    axis, with_parts = _PER_HEAD[rest]
    layout = (heads, int(head["head_dim"]))
    return axis, ((op.projections, *layout) if with_parts else layout)


def share_key(a: dict[str, Any], name: str, ndim: int, split: Container[str] = SPLITS) -> str:
    """The shared tensor a subnet parameter is sliced from (see the module docstring).

    ``split`` names the categorical decisions that get their own weights: ``"mixer"`` (per
    mixer type per layer), ``"patch"`` (per patch size), ``"ffn"`` (SwiGLU apart from plain
    FFNs). Without a split the tensors are shared by name, and by rank where the layouts differ.
    """
    parts = name.split(".")
    rest = ".".join(parts[1:])
    if parts[0] == "embed" and a["input"]["type"] == "image" and "patch" in split:
        return f"embed@patch{a['input']['patch']}.{rest}"
    if parts[0] == "blocks":
        layer = a["layers"][int(parts[1])]
        rest = ".".join(parts[3:])
        if parts[2] == "mixer" and "mixer" in split:
            mixer = layer["mixer"]
            tag = mixer["type"]
            if tag == "heads":
                tag += ":" + "+".join(sorted({h["type"] for h in mixer["heads"]}))
            return f"blocks.{parts[1]}.mixer@{tag}.{rest}"
        if parts[2] == "mixer":
            # Mixer types lay the same name out differently (per head or flat).
            return f"{name}#{ndim}"
        if parts[2] == "ffn" and "ffn" in split:
            tag = "swiglu" if layer["activation"] == "swiglu" else "plain"
            return f"blocks.{parts[1]}.ffn@{tag}.{rest}"
    return name


@dataclass
class _Plan:
    """A subnet's module and, per parameter name, (share key, shared-layout shape, shape)."""

    model: torch.nn.Module
    slots: dict[str, tuple[str, tuple[int, ...], tuple[int, ...]]]


class Supernet:
    """A weight-sharing supernet over a transformer space, trained on one task.

    ``Supernet(space, task, **recipe).train(steps=...)`` trains it; ``score(archs)`` ranks any
    architectures of the space by validation accuracy with inherited weights; ``subnet(arch)``
    is the ``space.build`` model of ``arch`` carrying those weights; ``save``/``load`` keep it.

    Args:
        space: a ``space.Space`` of transformer architectures (``space.transformer``).
        task: a task name or ``BaseTask`` whose ``adapt`` fixes input and head.
        seed: seeds the initial weights, the data order and the sampled subnets.
        batch_size: training batch size.
        lr: peak AdamW learning rate (warm-up, then cosine decay) for layers up to
            ``LR_WIDTH`` wide; a space with wider layers trains at ``lr * LR_WIDTH / width``.
        random_subnets: random subnets per sandwich step, beside the largest and smallest.
        distill: in-place distillation: every subnet but the largest learns the largest's
            (detached) predictions instead of the labels (off: see the module docstring).
        split: categorical decisions given separate weights (few-shot splits): any of
            ``"mixer"``, ``"patch"``, ``"ffn"``.
        sandwich: train the largest and smallest subnets every step (else only random ones).
        teacher: ``"matched"``: the largest and smallest subnets of a step take the
            categorical choices (mixer types, patch size, ρ on/off, ...) of that step's first
            random subnet and stretch only its size decisions, so every few-shot split gets its
            own ends of the sandwich; ``"largest"``: the one largest and smallest subnet of the
            space (by parameters).
        feasible: ``feasible(arch) -> bool``; training samples only subnets it accepts (the
            ones a constrained search will score).
        scan: subnets sampled to size the shared tensors and find the extremes.
    """

    def __init__(
        self,
        space: Any,
        task: str | BaseTask = "digits",
        *,
        seed: int = 0,
        batch_size: int = 64,
        lr: float = 5e-3,
        random_subnets: int = 2,
        distill: bool = False,
        split: Iterable[str] = SPLITS,
        sandwich: bool = True,
        teacher: str = "matched",
        feasible: Callable[[Any], bool] | None = None,
        scan: int = SCAN_SAMPLES,
    ) -> None:
        if teacher not in ("matched", "largest"):
            raise ValueError(f"Supernet teacher is 'matched' or 'largest'; got {teacher!r}.")
        unknown = sorted(set(split) - set(SPLITS))
        if unknown:
            raise ValueError(f"Supernet split takes {list(SPLITS)}; got {unknown}.")
        self.space = space
        self.task_spec = task
        self.task = make_task(task)
        self.seed = seed
        self.recipe = {
            "batch_size": batch_size, "lr": lr, "random_subnets": random_subnets,
            "distill": distill, "split": sorted(split), "sandwich": sandwich, "teacher": teacher,
            "scan": scan,
        }
        self.split = frozenset(split)
        self.feasible = feasible
        self.steps_trained = 0
        self._plans: dict[str, _Plan] = {}
        self._opt: torch.optim.Optimizer | None = None
        archs = self._sample_many(np.random.default_rng([seed, 0]), scan)
        self.largest, self.smallest = extremes(self, archs)
        # Adam's largest stable step falls as layers widen (the muP observation): at 5e-3 a
        # 192-wide MCUFormer subnet trained alone for 400 steps stayed at chance, and so did
        # whole supernets of that space, while 1e-3 cut the 48-wide mixed-mixer space's
        # ranking from tau 0.55 to 0.33. So ``lr`` holds up to LR_WIDTH and is scaled by
        # LR_WIDTH / width above it.
        widest = max((layer["width"] for a in archs for layer in a["layers"]), default=LR_WIDTH)
        self.lr_scale = min(1.0, LR_WIDTH / widest)
        shapes: dict[str, tuple[int, ...]] = {}
        donors: dict[str, tuple[int, _Plan, str]] = {}
        for arch in archs:
            plan = self._plan(arch)
            for name, (key, full, _) in plan.slots.items():
                old = shapes.get(key, full)
                shapes[key] = tuple(max(x, y) for x, y in zip(old, full, strict=True))
                if key not in donors or math.prod(full) > donors[key][0]:
                    donors[key] = (math.prod(full), plan, name)
        gen = torch.Generator().manual_seed(seed)
        self.weights: dict[str, torch.nn.Parameter] = {}
        for key, shape in shapes.items():
            # Random fill only matters where no single subnet reaches the largest shape.
            tensor = torch.randn(shape, generator=gen) * 0.02
            _, plan, name = donors[key]
            full = plan.slots[name][1]
            donor = dict(plan.model.named_parameters())[name].detach()
            tensor[tuple(slice(0, n) for n in full)] = donor.reshape(full)
            self.weights[key] = torch.nn.Parameter(tensor)

    def _sample(self, rng: np.random.Generator) -> Any:
        """A random subnet (a feasible one, when ``feasible`` accepts any of 64 draws)."""
        arch = self.space.sample(rng)
        for _ in range(63):
            if self.feasible is None or self.feasible(arch):
                break
            arch = self.space.sample(rng)
        return arch

    def _sample_many(self, rng: np.random.Generator, n: int) -> list[Any]:
        return [self._sample(rng) for _ in range(n)]

    def adapt(self, arch: Any) -> dict[str, Any]:
        """The architecture dict with the task's input and head."""
        return self.task.adapt(arch.to_dict() if hasattr(arch, "to_dict") else dict(arch))

    def _plan(self, arch: Any) -> _Plan:
        """The (cached) module of a subnet and where each parameter lies in the shared weights.

        The module is the standalone ``space.build`` model; only its structure and buffers are
        used, its own parameters are replaced by slices.
        """
        a = self.adapt(arch)
        cache = repr(a)
        plan = self._plans.get(cache)
        if plan is None:
            if len(self._plans) >= MODEL_CACHE:
                self._plans.clear()
            model = sp.build(a, seed=self.seed)
            slots = {}
            for name, p in model.named_parameters():
                shape = tuple(p.shape)
                layout = _head_layout(model, name)
                full = shape
                if layout is not None:
                    axis, split = layout
                    full = (*shape[:axis], *split, *shape[axis + 1 :])
                slots[name] = (share_key(a, name, len(full), self.split), full, shape)
            plan = self._plans[cache] = _Plan(model, slots)
        return plan

    def params(self, arch: Any) -> dict[str, torch.Tensor]:
        """The subnet's parameters, sliced from the shared weights (gradients flow back)."""
        slots = self._plan(arch).slots.values()
        # Grow first: a slice taken before its tensor grows would no longer match its grad.
        for key, full, _ in slots:
            self._fit(key, full)
        return {
            name: self.weights[key][tuple(slice(0, n) for n in full)].reshape(shape)
            for name, (key, full, shape) in self._plan(arch).slots.items()
        }

    def _fit(self, key: str, full: tuple[int, ...]) -> None:
        """Grow a shared tensor (and its optimiser state) for a subnet larger than the scan saw.

        The scan sizes the tensors from sampled subnets, which can miss a combination (say one
        head of the widest width in the last layer); the new region starts at the random init.
        """
        # Seeded per key, so the grown weights do not depend on the order of growth.
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + zlib.crc32(key.encode()))
        if key not in self.weights:
            self.weights[key] = torch.nn.Parameter(torch.randn(full, generator=gen) * 0.02)
            if self._opt is not None:
                self._opt.add_param_group({"params": [self.weights[key]]})
            return
        p = self.weights[key]
        if len(full) != p.dim() or all(n <= m for n, m in zip(full, p.shape, strict=True)):
            return
        shape = tuple(max(n, m) for n, m in zip(full, p.shape, strict=True))
        old = tuple(slice(0, m) for m in p.shape)
        with torch.no_grad():
            grown = torch.randn(shape, generator=gen) * 0.02
            grown[old] = p.data
        # A new Parameter, not p.data resized: autograd keeps the old shape in p's gradient
        # accumulator for as long as anything holds it, and the next backward through the
        # grown tensor then fails ("SliceBackward0 returned an invalid gradient").
        new = torch.nn.Parameter(grown)
        if p.grad is not None:
            new.grad = _padded(p.grad, shape, old)
        self.weights[key] = new
        if self._opt is not None:
            for group in self._opt.param_groups:
                group["params"] = [new if q is p else q for q in group["params"]]
            state = self._opt.state.pop(p, {})
            self._opt.state[new] = {
                name: _padded(value, shape, old)
                if torch.is_tensor(value) and value.shape == p.shape else value
                for name, value in state.items()
            }

    def forward(self, arch: Any, x: torch.Tensor) -> torch.Tensor:
        """Logits of subnet ``arch`` with inherited weights."""
        return torch.func.functional_call(self._plan(arch).model, self.params(arch), (x,))

    def subnet(self, arch: Any) -> torch.nn.Module:
        """The ``space.build`` model of ``arch`` (task-adapted) holding copies of its inherited
        weights; its ``state_dict`` loads into ``space.build`` of the same architecture."""
        model = sp.build(self.adapt(arch), seed=self.seed)
        own = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in self.params(arch).items():
                own[name].copy_(value)
        return model

    def train(self, steps: int | None = None, seconds: float | None = None) -> Supernet:
        """Sandwich-rule training for ``steps`` steps or ``seconds`` (the first reached).

        Each step sums, on one batch, the losses of the largest subnet (on the labels), the
        smallest and ``random_subnets`` random subnets (on the largest's predictions with
        ``distill``, else on the labels). AdamW, warm-up, cosine decay over the budget. A
        second call trains on with a fresh schedule and its own seeded data.
        """
        if steps is None and seconds is None:
            raise ValueError("Supernet.train needs a budget: steps=N or seconds=S.")
        r = self.recipe
        lr = r["lr"] * self.lr_scale
        opt = self._opt = torch.optim.AdamW(self.weights.values(), lr=lr, weight_decay=0.01)
        rng = np.random.default_rng([self.seed, 1, self.steps_trained])
        total = steps if steps is not None else 10**9
        warmup = max(1, (steps or 200) // 20)
        start = time.perf_counter()
        step = 0
        while step < total:
            elapsed = time.perf_counter() - start
            if seconds is not None and elapsed >= seconds:
                break
            frac = step / total if steps is not None else elapsed / seconds  # type: ignore[operator]
            scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * frac))
            for group in opt.param_groups:
                group["lr"] = lr * scale
            x, y = self.task.batch(rng, r["batch_size"])
            opt.zero_grad(set_to_none=True)
            others = self._sample_many(rng, r["random_subnets"])
            largest, smallest = self.largest, self.smallest
            if r["sandwich"] and r["teacher"] == "matched" and others:
                largest = self._stretched(others[0], rng, True) or largest
                smallest = self._stretched(others[0], rng, False) or smallest
            # Any growth before the first forward: autograd keeps a parameter's old shape while
            # a graph that used it is alive.
            for arch in [largest, smallest, *others]:
                for key, full, _ in self._plan(arch).slots.values():
                    self._fit(key, full)
            teacher = None
            if r["sandwich"]:
                logits = self.forward(largest, x)
                _loss(logits, y).backward()
                teacher = logits.detach() if r["distill"] else None
                others.append(smallest)
            for arch in others:
                logits = self.forward(arch, x)
                loss = _loss(logits, y) if teacher is None else _distill(logits, teacher, y)
                loss.backward()
            torch.nn.utils.clip_grad_norm_(list(self.weights.values()), 1.0)
            opt.step()
            step += 1
        opt.zero_grad(set_to_none=True)
        self._opt = None
        self.steps_trained += step
        return self

    def _stretched(self, arch: Any, rng: np.random.Generator, largest: bool) -> Any | None:
        """``arch`` with every size decision (numeric choices but the patch size, integers)
        at its largest or smallest value and its categorical decisions kept (decisions it did
        not take, e.g. of deeper layers, drawn at random); None if ``feasible`` rejects it."""
        taken = self.space.decisions(arch)
        pick = max if largest else min
        draws = _rng(rng)

        def choose(key: str, decision: Any) -> Any:
            if isinstance(decision, Choice) and not key.endswith("patch"):
                sizes = [_magnitude(option) for option in decision.options]
                if None not in sizes:
                    return pick(range(len(sizes)), key=sizes.__getitem__)
            if isinstance(decision, Integer):
                return pick(decision.values())
            if key in taken:
                return taken[key]
            return _random_value(draws, decision)

        out = self.space.draw(choose)
        return out if self.feasible is None or self.feasible(out) else None

    @torch.no_grad()
    def evaluate(self, arch: Any) -> dict[str, float]:
        """Validation ``accuracy`` and ``loss`` of a subnet with inherited weights."""
        metrics = validation_metrics(lambda x: self.forward(arch, x), self.task)
        return {"accuracy": metrics["accuracy"], "loss": metrics["loss"]}

    def score(self, archs: Iterable[Any]) -> list[float]:
        """Validation accuracy of each architecture with inherited weights (deterministic)."""
        return [self.evaluate(arch)["accuracy"] for arch in archs]

    def save(self, path: str | Path) -> None:
        """Write the shared weights, the recipe, the space and the task to ``path`` (not
        ``feasible``, which may hold a database connection: a loaded supernet trains on without
        it)."""
        # By value: a study's space holds lambdas (derived sizes) pickle cannot name.
        from ray import cloudpickle

        torch.save(
            {
                "format": "hetnas-supernet/1",
                "space": cloudpickle.dumps(self.space),
                "task": cloudpickle.dumps(self.task_spec),
                "seed": self.seed,
                "recipe": self.recipe,
                "steps_trained": self.steps_trained,
                "weights": {k: v.detach().clone() for k, v in self.weights.items()},
            },
            path,
        )

    @classmethod
    def load(cls, path: str | Path) -> Supernet:
        """The supernet ``save`` wrote (same scores, same subnets)."""
        from ray import cloudpickle

        state = torch.load(path, weights_only=False)
        recipe = dict(state["recipe"])
        supernet = cls(
            cloudpickle.loads(state["space"]),
            cloudpickle.loads(state["task"]),
            seed=state["seed"],
            **recipe,
        )
        supernet.weights = {k: torch.nn.Parameter(v) for k, v in state["weights"].items()}
        supernet.steps_trained = state["steps_trained"]
        return supernet


def _distill(logits: torch.Tensor, teacher: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the teacher's soft predictions (KL up to a constant)."""
    if logits.dim() == 3:
        keep = y.flatten() != IGNORE
        logits, teacher = logits.flatten(0, 1)[keep], teacher.flatten(0, 1)[keep]
    return -(F.softmax(teacher, -1) * F.log_softmax(logits, -1)).sum(-1).mean()


def _magnitude(node: Any) -> float | None:
    """The size a choice option stands for: a number, or the sum of a list of numbers."""
    items = node.items if isinstance(node, Seq) else [node]
    if not items or not all(
        isinstance(n, Const) and isinstance(n.value, int | float) and not isinstance(n.value, bool)
        for n in items
    ):
        return None
    return float(sum(n.value for n in items))


def _padded(value: torch.Tensor, shape: tuple[int, ...], old: tuple[slice, ...]) -> torch.Tensor:
    """``value`` zero-padded to ``shape`` (optimiser moments and gradients of a grown tensor)."""
    out = value.new_zeros(shape)
    out[old] = value
    return out


def _loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if logits.dim() == 3:
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)
    return F.cross_entropy(logits, y)


def extremes(supernet: Supernet, archs: Iterable[Any]) -> tuple[Any, Any]:
    """The subnets with the most and the fewest parameters among ``archs``."""
    ranked = sorted(archs, key=lambda arch: (sp.count_params(supernet.adapt(arch)), arch.id))
    return ranked[-1], ranked[0]
