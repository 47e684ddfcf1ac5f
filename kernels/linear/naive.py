"""Plain-PyTorch linear attention: the quadratic oracle and a chunked form linear in length."""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: ε in the denominator φ(q)·Σφ(k) + ε; a ReLU feature map can make the sum exactly zero.
LINEAR_EPS = 1e-6
FEATURE_MAPS = ("elu", "relu")


def feature_map(x: torch.Tensor, name: str) -> torch.Tensor:
    """φ(x): ``elu`` is elu(x) + 1 (Katharopoulos et al.), ``relu`` is max(x, 0)."""
    if name == "elu":
        return F.elu(x) + 1.0
    if name == "relu":
        return torch.relu(x)
    raise ValueError(f"feature_map must be one of {list(FEATURE_MAPS)}; got {name!r}.")


def naive_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    feature_map_name: str = "elu",
) -> torch.Tensor:
    """O_i = Σ_j (φ(q_i)·φ(k_j)) v_j / (Σ_j φ(q_i)·φ(k_j) + ε), j ≤ i when causal.

    The score matrix is materialised, which makes this the oracle, not the fast path.
    No 1/√d scaling: the normalisation by the row sum makes it cancel.
    """
    fq, fk = feature_map(q, feature_map_name), feature_map(k, feature_map_name)
    a = fq @ fk.transpose(-1, -2)
    if causal:
        n = q.shape[-2]
        keep = torch.ones(n, n, dtype=torch.bool, device=q.device).tril()
        a = a.masked_fill(~keep, 0.0)
    return (a @ v) / (a.sum(dim=-1, keepdim=True) + LINEAR_EPS)


def chunk_linear_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    feature_map_name: str = "elu",
    chunk: int = 64,
) -> torch.Tensor:
    """The same value as ``naive_linear_attention`` at cost linear in length (torch ops only).

    Non-causal: O = φ(Q)(φ(K)ᵀV) / (φ(Q)·Σφ(K) + ε). Causal (Lightning Attention): inside a
    chunk the masked quadratic form, across chunks the state Σφ(k)ᵀ[v, 1] of earlier chunks,
    built with an exclusive prefix sum over chunks.
    """
    fq, fk = feature_map(q, feature_map_name), feature_map(k, feature_map_name)
    ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
    # The appended ones column carries the denominator through the same products as V.
    v1 = torch.cat([v, ones], dim=-1)
    if not causal:
        out = fq @ (fk.transpose(-1, -2) @ v1)
        return out[..., :-1] / (out[..., -1:] + LINEAR_EPS)
    b, h, n, d = q.shape
    pad = (-n) % chunk
    if pad:
        fq, fk, v1 = (F.pad(t, (0, 0, 0, pad)) for t in (fq, fk, v1))
    c = (n + pad) // chunk
    fq, fk, v1 = (t.reshape(b, h, c, chunk, t.shape[-1]) for t in (fq, fk, v1))
    states = fk.transpose(-1, -2) @ v1  # (b, h, c, d, d_v + 1)
    carried = torch.cumsum(states, dim=2) - states
    keep = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    intra = (fq @ fk.transpose(-1, -2)).masked_fill(~keep, 0.0) @ v1
    out = (intra + fq @ carried).reshape(b, h, c * chunk, -1)[:, :, :n]
    return out[..., :-1] / (out[..., -1:] + LINEAR_EPS)
