"""BOSHNAS's three surrogates: teacher (MC dropout), student (epistemic) and NPN (aleatoric).

Architectures follow ``../shared/reference/boshnas.md`` §3.1, with ``k`` outputs (one per
modelled metric: every objective, then every constrained metric) sharing the hidden layers.
Flagged deviations, all so an update costs the same at 10 results as at 1,000:

* training is warm-started and incremental: each update takes a fixed number of AdamW steps on
  random mini-batches of all results so far (``COLD_STEPS`` for the first fit, ``WARM_STEPS``
  afterwards), instead of retraining every model for up to 200 epochs with early stopping;
  new results are always in the first mini-batch, so they are learnt at once;
* mini-batches hold up to ``BATCH_SIZE`` results; the student uses AdamW instead of SGD, and the
  NPN lr is 5e-3 instead of 5e-5 (with few steps SGD barely leaves its initialisation);
* optimiser moments are rebuilt each update (the weights are kept), so a searcher state holds
  only weights.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch
from torch import nn

from nas.searchers._boshnas._npn import NPN
from nas.searchers._boshnas._npn import npn_loss

LR = 2e-3
NPN_LR = 5e-3
BATCH_SIZE = 32
COLD_STEPS = 200
WARM_STEPS = 20
MC_PASSES = 10
NPN_ERROR_WEIGHT = 10.0


class _AdamW:
    """AdamW (torch's defaults: betas 0.9/0.999, eps 1e-8, weight decay 0.01).

    Hand-written because the first ``torch.optim`` optimiser imports ``torch._dynamo``, which
    costs seconds per process, far more than these surrogates take to train.
    """

    def __init__(self, params: Any, lr: float, weight_decay: float = 0.01) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay = lr, weight_decay
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        b1, b2 = 0.9, 0.999
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        # One call per operation over every tensor: the models are tiny, so per-tensor Python
        # overhead would dominate the step.
        torch._foreach_mul_(self.params, 1 - self.lr * self.weight_decay)
        torch._foreach_lerp_(self.m, grads, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - b2)
        denom = torch._foreach_div(self.v, 1 - b2**self.t)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, 1e-8)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-self.lr / (1 - b1**self.t))


def _teacher(d: int, k: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 64), nn.Softplus(), nn.Dropout(0.3),
        nn.Linear(64, 32), nn.Softplus(), nn.Dropout(0.3),
        nn.Linear(32, k), nn.Sigmoid(),
    )  # fmt: skip


def _student(d: int, k: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 64), nn.Softplus(),
        nn.Linear(64, 32), nn.Softplus(),
        nn.Linear(32, k), nn.Sigmoid(),
    )  # fmt: skip


class Surrogates:
    """The three models over ``d``-dimensional embeddings, ``k`` targets in (0, 1) each.

    Args:
        d: embedding dimension.
        seed: initialises the weights (without touching torch's global generator).
        k: number of modelled metrics.
    """

    def __init__(self, d: int, seed: int, k: int = 1) -> None:
        self.k = k
        self.fitted = 0
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.teacher, self.student = _teacher(d, k), _student(d, k)
            self.npn = NPN(d, k)

    def models(self) -> dict[str, nn.Module]:
        return {"teacher": self.teacher, "student": self.student, "npn": self.npn}

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int, mask: np.ndarray | None = None) -> None:
        """Update teacher, then student, then NPN on ``(x, y)`` (warm: the first fit takes
        ``COLD_STEPS`` steps per model, later ones ``WARM_STEPS``).

        Args:
            x: (n, d) embeddings; rows beyond the previous fit's count are the new results.
            y: (n,) or (n, k) targets in (0, 1).
            seed: seeds the mini-batches and dropout.
            mask: (n, k) with 1 where a target was measured (default: all).
        """
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(np.asarray(y).reshape(len(x), self.k), dtype=torch.float32)
        mt = torch.ones_like(yt) if mask is None else torch.as_tensor(mask, dtype=torch.float32)
        steps = COLD_STEPS if self.fitted == 0 else WARM_STEPS
        batches = _batches(len(xt), self.fitted, steps, np.random.default_rng(seed))
        with torch.random.fork_rng():
            torch.manual_seed(seed)

            def squared(out: torch.Tensor, target: torch.Tensor, idx: torch.Tensor):
                return (((out - target) ** 2) * mt[idx]).sum() / mt[idx].sum().clamp_min(1.0)

            self._train(self.teacher, LR, batches,
                        lambda idx: squared(self.teacher(xt[idx]), yt[idx], idx))
            self.teacher.eval()
            self._train(self.student, LR, batches,
                        lambda idx: squared(self.student(xt[idx]), self._mc_std(xt[idx]), idx))
            self._train(self.npn, NPN_LR, batches,
                        lambda idx: npn_loss(*self._npn2d(xt[idx]), yt[idx], mt[idx]))
        # fmt: skip
        self.fitted = len(xt)
        for model in self.models().values():
            model.eval()

    def _npn2d(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, var = self.npn(x)
        return mean.reshape(len(x), self.k), var.reshape(len(x), self.k)

    def _mc_std(self, x: torch.Tensor) -> torch.Tensor:
        """Epistemic uncertainty: std of MC_PASSES teacher passes with dropout on."""
        self.teacher.train()
        with torch.no_grad():
            # One pass over MC_PASSES stacked copies: dropout masks are drawn per row anyway.
            passes = self.teacher(x.repeat(MC_PASSES, 1)).view(MC_PASSES, len(x), self.k)
        self.teacher.eval()
        return passes.std(dim=0)

    @staticmethod
    def _train(model: nn.Module, lr: float, batches: list[torch.Tensor], loss) -> None:
        opt = _AdamW(model.parameters(), lr=lr)
        model.train()
        for idx in batches:
            opt.zero_grad()
            loss(idx).backward()
            opt.step()

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean (NPN), epistemic std (student) and aleatoric variance (NPN), each (n,) for one
        output or (n, k)."""
        mean, var = self.npn(x)
        # BOSHNAS's loss weighs the squared error by 10, so its optimum is var = 10 (mean - y)^2:
        # the NPN's output is ten times the noise variance.
        var = var / NPN_ERROR_WEIGHT
        epistemic = self.student(x)
        return mean, epistemic.squeeze(-1) if self.k == 1 else epistemic, var

    def state(self) -> dict[str, Any]:
        """The weights as base64 float32 (exact through JSON, a few tens of kB)."""
        return {
            "k": self.k,
            "fitted": self.fitted,
            "weights": {
                name: {
                    key: base64.b64encode(v.detach().numpy().astype("<f4").tobytes()).decode()
                    for key, v in model.state_dict().items()
                }
                for name, model in self.models().items()
            },
        }

    def load(self, state: dict[str, Any]) -> None:
        self.fitted = int(state["fitted"])
        for name, model in self.models().items():
            shapes = {k: v.shape for k, v in model.state_dict().items()}
            model.load_state_dict({
                key: torch.from_numpy(
                    np.frombuffer(base64.b64decode(text), dtype="<f4").reshape(shapes[key]).copy()
                )
                for key, text in state["weights"][name].items()
            })  # fmt: skip
            model.eval()


def _batches(n: int, seen: int, steps: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """``steps`` mini-batch index vectors over ``n`` rows; the first holds rows ``seen..n``."""
    size = min(BATCH_SIZE, n)
    out = []
    new = np.arange(seen, n)
    for step in range(steps):
        idx = rng.choice(n, size=size, replace=False)
        if step == 0 and len(new):
            rest = np.setdiff1d(idx, new)[: max(0, size - len(new))]
            idx = np.concatenate([new[:size], rest])
        out.append(torch.as_tensor(idx))
    return out
