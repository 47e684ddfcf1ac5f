"""Natural-parameter network layers (Wang et al. 2016), as used by BOSHNAS's NPN surrogate.

Every layer maps a Gaussian (mean, variance) per unit to the moments of its output, so the
network predicts a mean and a heteroscedastic (aleatoric) variance.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

_SQRT2 = math.sqrt(2.0)
# Constants of the probit approximation of the logistic sigmoid (Wang et al. 2016, eq. 12).
_ALPHA = 4.0 - 2.0 * math.sqrt(2.0)
_BETA = -math.log(math.sqrt(2.0) + 1.0)


class NPNLinear(nn.Module):
    """Linear layer with Gaussian weights: mean ``W_m`` and variance ``softplus(M_s)``.

    ``o_m = x_m W_m + b_m``, ``o_s = x_s (W_m^2 + W_s) + x_m^2 W_s + b_s``.
    """

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        self.w_m = nn.Parameter(torch.empty(d_in, d_out).uniform_(-bound, bound))
        self.w_s = nn.Parameter(torch.full((d_in, d_out), -6.0))
        self.b_m = nn.Parameter(torch.zeros(d_out))
        self.b_s = nn.Parameter(torch.full((d_out,), -6.0))

    def forward(self, m: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w_s, b_s = F.softplus(self.w_s), F.softplus(self.b_s)
        out_m = m @ self.w_m + self.b_m
        out_s = s @ (self.w_m**2 + w_s) + (m**2) @ w_s + b_s
        return out_m, out_s


def npn_relu(m: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact first two moments of ReLU(x) for x ~ N(m, s)."""
    sd = torch.sqrt(s.clamp_min(1e-12))
    z = m / sd
    cdf = 0.5 * (1.0 + torch.erf(z / _SQRT2))
    pdf = torch.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    mean = m * cdf + sd * pdf
    second = (m**2 + s) * cdf + m * sd * pdf
    return mean, (second - mean**2).clamp_min(1e-12)


def npn_sigmoid(m: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Probit approximation of the moments of sigmoid(x) for x ~ N(m, s)."""
    mean = torch.sigmoid(m / torch.sqrt(1.0 + math.pi * s / 8.0))
    second = torch.sigmoid(_ALPHA * (m + _BETA) / torch.sqrt(1.0 + math.pi * _ALPHA**2 * s / 8.0))
    return mean, (second - mean**2).clamp_min(1e-8)


class NPN(nn.Module):
    """NPNLinear(d,32) -> ReLU -> NPNLinear(32,32) -> ReLU -> NPNLinear(32,k) -> Sigmoid.

    ``k`` outputs (one per modelled metric) share the hidden layers; ``k = 1`` returns
    vectors of shape (n,), otherwise (n, k).
    """

    def __init__(self, d: int, k: int = 1) -> None:
        super().__init__()
        self.k = k
        self.l1, self.l2, self.l3 = NPNLinear(d, 32), NPNLinear(32, 32), NPNLinear(32, k)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m, s = npn_relu(*self.l1(x, torch.zeros_like(x)))
        m, s = npn_relu(*self.l2(m, s))
        m, s = npn_sigmoid(*self.l3(m, s))
        if self.k == 1:
            return m.squeeze(-1), s.squeeze(-1)
        return m, s


def npn_loss(
    mean: torch.Tensor, var: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """BOSHNAS's heteroscedastic loss, ``0.5 * sum(10 (mean - y)^2 / var + log var)``, averaged
    over the batch (and the entries ``mask`` keeps) so the learning rate does not depend on
    the batch size."""
    terms = 0.5 * (10.0 * (mean - y) ** 2 / var + torch.log(var))
    if mask is None:
        return terms.mean()
    return (terms * mask).sum() / mask.sum().clamp_min(1.0)
