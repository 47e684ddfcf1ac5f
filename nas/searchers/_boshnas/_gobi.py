"""GOBI: gradient-based optimisation of the acquisition over the input embedding.

The surrogates are frozen; the embedding is optimised with AdaHessian (Yao et al. 2021): Adam
whose second moment is the square of a Hutchinson estimate of the Hessian diagonal,
``diag(H) ~ z * (H z)`` with Rademacher ``z``. Settings follow boshnas.md §3.3.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

LR = 0.5
BETAS = (0.9, 0.999)
EPS = 1e-4
HESSIAN_POWER = 1.0
T_MAX = 2
MAX_ITERS = 200
TOL = 1e-5
# Stop after more than this many consecutive steps with |delta a| < TOL.
STALL = 5
# Deviation (flagged): also stop once every start has snapped to the same candidate for this
# many consecutive steps; only the snapped candidates are used, so later steps rarely matter,
# and the cyclic T_max = 2 schedule otherwise keeps |delta a| above TOL for all 200 steps.
STABLE_SNAPS = 10


def gobi(
    acquisition: Callable[[torch.Tensor], torch.Tensor],
    starts: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    seed: int,
    snap: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_iters: int = MAX_ITERS,
) -> torch.Tensor:
    """Minimise ``acquisition`` (one value per row) from each row of ``starts``.

    Args:
        acquisition: maps (k, d) embeddings to (k,) values to minimise; twice differentiable.
        starts: (k, d) initial embeddings; rows are optimised independently.
        low, high: (d,) box the iterates are clamped to (the pool's range).
        seed: seeds the Rademacher probes.
        snap: maps (k, d) embeddings to the (k,) candidates they snap to (for early stopping).
        max_iters: the most AdaHessian steps.

    Returns:
        (k, d) optimised embeddings.
    """
    gen = torch.Generator().manual_seed(seed)
    x = starts.clone().requires_grad_(True)
    m, v = torch.zeros_like(x), torch.zeros_like(x)
    previous, stalled, snapped, stable = None, 0, None, 0
    for step in range(1, max_iters + 1):
        value = acquisition(x)
        (grad,) = torch.autograd.grad(value.sum(), x, create_graph=True)
        z = torch.randint(0, 2, x.shape, generator=gen).to(x.dtype) * 2 - 1
        (hz,) = torch.autograd.grad(grad, x, grad_outputs=z)
        hess = (z * hz).abs()
        grad = grad.detach()
        m = BETAS[0] * m + (1 - BETAS[0]) * grad
        v = BETAS[1] * v + (1 - BETAS[1]) * hess**2
        m_hat = m / (1 - BETAS[0] ** step)
        v_hat = v / (1 - BETAS[1] ** step)
        # Cosine annealing with T_max = 2 (per step, restarting), as in the reference.
        lr = 0.5 * LR * (1 + math.cos(math.pi * (step - 1) / T_MAX))
        with torch.no_grad():
            x -= lr * m_hat / (v_hat ** (HESSIAN_POWER / 2) + EPS)
            x.copy_(torch.maximum(torch.minimum(x, high), low))
        total = float(value.detach().sum())
        stalled = stalled + 1 if previous is not None and abs(total - previous) < TOL else 0
        previous = total
        if snap is not None:
            now = snap(x.detach())
            stable = stable + 1 if snapped is not None and torch.equal(now, snapped) else 0
            snapped = now
        if stalled > STALL or stable >= STABLE_SNAPS:
            break
    return x.detach()
