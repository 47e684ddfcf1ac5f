"""BOSHNAS's three surrogates: teacher (MC dropout), student (epistemic) and NPN (aleatoric).

Architectures follow ``../shared/reference/boshnas.md`` §3.1. Flagged deviations, all for speed
or for training that actually moves the weights within the epoch budget:

* mini-batches of 4 instead of batch size 1 (boshnas.md §4, item 10). Not larger: with the
  few results of a search, a batch of 32 gives one step per epoch, early stopping ends training
  after a dozen steps, and the NPN's ranking of unseen candidates stays near chance (rank
  correlation ~0 with held-out accuracy on the FlexiBERT QNLI table, 0.3-0.6 at batch 4);
* the student uses AdamW instead of SGD at lr 2e-3 (with mini-batches SGD barely leaves its
  initialisation), and the NPN lr is 5e-3 instead of 5e-5 for the same reason;
* optimisers are rebuilt each round (the weights are still warm-started), so a searcher state
  holds only weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from nas.searchers._boshnas._npn import NPN
from nas.searchers._boshnas._npn import npn_loss

MAX_EPOCHS = 200
NPN_LR = 5e-3
BATCH_SIZE = 4
MC_PASSES = 10
# Early stop once past this many epochs, when validation loss has not improved in PATIENCE.
MIN_EPOCHS = 10
PATIENCE = 7


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
        grads = [p.grad for p in self.params]
        # One call per operation over every tensor: the models are tiny, so per-tensor Python
        # overhead would dominate the step (every parameter gets a gradient from each loss).
        torch._foreach_mul_(self.params, 1 - self.lr * self.weight_decay)
        torch._foreach_lerp_(self.m, grads, 1 - b1)
        torch._foreach_mul_(self.v, b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - b2)
        denom = torch._foreach_div(self.v, 1 - b2**self.t)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, 1e-8)
        torch._foreach_addcdiv_(self.params, self.m, denom, value=-self.lr / (1 - b1**self.t))


def _teacher(d: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 64), nn.Softplus(), nn.Dropout(0.3),
        nn.Linear(64, 32), nn.Softplus(), nn.Dropout(0.3),
        nn.Linear(32, 1), nn.Sigmoid(),
    )  # fmt: skip


def _student(d: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 64), nn.Softplus(),
        nn.Linear(64, 32), nn.Softplus(),
        nn.Linear(32, 1), nn.Sigmoid(),
    )  # fmt: skip


class Surrogates:
    """The three models over ``d``-dimensional embeddings, trained on targets in (0, 1).

    Args:
        d: embedding dimension.
        seed: initialises the weights (without touching torch's global generator).
    """

    def __init__(self, d: int, seed: int) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.teacher, self.student, self.npn = _teacher(d), _student(d), NPN(d)

    def models(self) -> dict[str, nn.Module]:
        return {"teacher": self.teacher, "student": self.student, "npn": self.npn}

    def fit(self, x: np.ndarray, y: np.ndarray, seed: int) -> None:
        """Train teacher, then student, then NPN on ``(x, y)``, warm-starting each."""
        xt = torch.as_tensor(x, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            gen = np.random.default_rng(seed)
            self._train(
                self.teacher,
                _AdamW(self.teacher.parameters(), lr=2e-3),
                lambda idx: ((self.teacher(xt[idx]).squeeze(-1) - yt[idx]) ** 2).mean(),
                len(xt),
                gen,
            )
            self._train(
                self.student,
                _AdamW(self.student.parameters(), lr=2e-3),
                lambda idx: (
                    (self.student(xt[idx]).squeeze(-1) - self._mc_std(xt[idx])) ** 2
                ).mean(),
                len(xt),
                gen,
            )
            self._train(
                self.npn,
                _AdamW(self.npn.parameters(), lr=NPN_LR),
                lambda idx: npn_loss(*self.npn(xt[idx]), yt[idx]),
                len(xt),
                gen,
            )
        for model in self.models().values():
            model.eval()

    def _mc_std(self, x: torch.Tensor) -> torch.Tensor:
        """Epistemic uncertainty: std of MC_PASSES teacher passes with dropout on."""
        self.teacher.train()
        with torch.no_grad():
            # One pass over MC_PASSES stacked copies: dropout masks are drawn per row anyway.
            passes = self.teacher(x.repeat(MC_PASSES, 1)).view(MC_PASSES, len(x))
        return passes.std(dim=0)

    @staticmethod
    def _train(model: nn.Module, opt: _AdamW, loss, n: int, gen) -> None:
        history: list[float] = []
        for epoch in range(MAX_EPOCHS):
            # A fresh 80/20 split every epoch, as in the reference.
            order = gen.permutation(n)
            cut = max(1, int(round(0.8 * n))) if n > 1 else 1
            train, val = order[:cut], order[cut:] if n > 1 else order
            model.train()
            for start in range(0, len(train), BATCH_SIZE):
                opt.zero_grad()
                loss(torch.as_tensor(train[start : start + BATCH_SIZE])).backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                history.append(float(loss(torch.as_tensor(val))) if len(val) else 0.0)
            if epoch > MIN_EPOCHS and min(history[-PATIENCE:]) >= min(history[:-PATIENCE]):
                break

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean (NPN), epistemic term (student) and aleatoric term (NPN variance)."""
        mean, var = self.npn(x)
        return mean, self.student(x).squeeze(-1), var

    def state(self) -> dict[str, Any]:
        """The weights as nested lists (JSON; float32 survives the float64 round trip)."""
        return {
            name: {k: v.tolist() for k, v in model.state_dict().items()}
            for name, model in self.models().items()
        }

    def load(self, state: dict[str, Any]) -> None:
        for name, model in self.models().items():
            model.load_state_dict({k: torch.tensor(v) for k, v in state[name].items()})
            model.eval()
