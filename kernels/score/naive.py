"""Plain-PyTorch score-function attention: ReLU-softmax, 2Quad and ScaleAttn (MPC-friendly)."""

from __future__ import annotations

import math

import torch

#: ε added to each row sum of ReLU-softmax and 2Quad (MPCViT / MPCFormer).
ROWNORM_EPS = 1e-5
#: c in 2Quad's (S + c)² (DachengLi1/MPCFormer uses 5).
QUAD_SHIFT = 5.0
SCORE_KINDS = ("relu", "quad", "scale")


def naive_score_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, score: str, causal: bool = False
) -> torch.Tensor:
    """Attention whose softmax is replaced by a polynomial-friendly score function.

    With S = QKᵀ/√d and M the causal mask (masked scores contribute nothing):

    - ``relu``:  O = rownorm(ReLU(S))·V, rownorm(A)_ij = A_ij / (Σ_j A_ij + ε), ε = 1e-5;
    - ``quad``:  O = rownorm((S + 5)²)·V (2Quad);
    - ``scale``: O = (S / L)·V (ScaleAttn). L is the sequence length also when causal: it is a
      public constant under MPC, so the division costs nothing, while dividing by i + 1 would not.

    Args:
        q, k, v: (batch, heads, seq, head_dim).
        score: one of ``SCORE_KINDS``.
        causal: keep only j ≤ i (rows are normalised over the kept entries).
    """
    n = q.shape[-2]
    s = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    if score == "relu":
        a = torch.relu(s)
    elif score == "quad":
        a = (s + QUAD_SHIFT) ** 2
    elif score == "scale":
        a = s
    else:
        raise ValueError(f"score must be one of {list(SCORE_KINDS)}; got {score!r}.")
    if causal:
        keep = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        a = a.masked_fill(~keep, 0.0)
    if score == "scale":
        return (a @ v) / n
    return (a @ v) / (a.sum(dim=-1, keepdim=True) + ROWNORM_EPS)


def scale_attention_reassociated(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> torch.Tensor:
    """Non-causal ScaleAttn as Q(KᵀV)/(√d·L): linear in L, the value of ``naive_score_attention``.

    The causal form would need prefix sums of k_jᵀv_j, seq × d × d per head, which costs more
    than the quadratic form at the lengths of the search spaces, so causal stays quadratic.
    """
    n, d = q.shape[-2], q.shape[-1]
    return (q @ (k.transpose(-1, -2) @ v)) * (1.0 / (math.sqrt(d) * n))
