"""Secure two-party inference cost: rounds, traffic and time of a transformer under CrypTen.

time = rounds·RTT + bytes/bandwidth + s_per_element·elements + s_per_mac·MACs, summed over the
ops of one forward pass in order (ops of one layer depend on each other, so rounds add up,
except between the independent head groups of one mixer, whose messages share rounds).
Per-op counts live in ``_mpc_ops``; network presets and their calibration are documented in
``MPC_NETWORKS`` and checked by ``benchmarks/mpc.py``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluators import _mpc_ops as ops
from evaluators._errors import EvaluatorError
from evaluators._schema import arch_dict
from evaluators._schema import has_class_token
from evaluators._schema import head_groups
from evaluators._schema import linear_shapes
from evaluators._schema import low_rank
from evaluators._schema import mixer_inner_width
from evaluators._schema import out_dim
from evaluators._schema import seq_len

MPCCost = ops.MPCCost


@dataclass(frozen=True)
class MPCNetwork:
    """A deployment: time per round (the link's round trips plus the protocol's local work per
    exchange), per-direction bandwidth and local compute speed."""

    name: str
    rtt_s: float
    bandwidth_bytes_s: float
    s_per_element: float
    s_per_mac: float

    def time_s(self, cost: MPCCost) -> tuple[float, float]:
        """(communication seconds, compute seconds) of ``cost`` on this deployment."""
        comm = cost.rounds * self.rtt_s + cost.bytes / self.bandwidth_bytes_s
        return comm, cost.elements * self.s_per_element + cost.macs * self.s_per_mac


# Both presets come from fit_mpc_network (benchmarks/mpc.py reruns the fits and the checks).
# mpc-lan: MPCFormer's BERT-Base (sequence 512, CrypTen on GPUs): local compute from Softmax's
# 5.9 s non-communication share; RTT and bandwidth fitted to Softmax : 2ReLU : 2Quad =
# 40 : 14.7 : 3.2 s; GeLU = 11 s, Quad = 0.5 s and two ratios of the IMDb speed-ups are the
# checks. mpc-wan: MPCViT's CIFAR-10 ViT: RTT and bandwidth fitted to the all-ScaleAttn base
# (44.63 s), the Softmax head (2.414 s) and the RSAttn head (0.971 s), since the first two alone
# spend the same time per round and so leave bandwidth free; MPCViT's four searched models are
# the check. MACs at an assumed 10 GMAC/s (no anchor isolates it).
# mpc-crypten-lan/-wan: measured, not published. CrypTen 0.4.1 on one CPU thread per party (gloo
# over TCP) of a 2-core host, between two network namespaces joined by an emulated link of
# 1 ms / 1 Gbit/s and 20 ms / 50 Mbit/s; fitted by benchmarks/mpc_crypten.py (fit_mpc_compute
# over an unpaced link for the local constants, then fit_mpc_network) on every op family and 5
# MPCViT-space architectures, within 15 % on 5 others. rtt_s is the time of one round: gloo's
# all_reduce of two ranks, which every CrypTen reveal is, takes two link round trips, and CrypTen
# spends about 2.7 ms of Python per round.
MPC_NETWORKS: dict[str, MPCNetwork] = {
    "mpc-lan": MPCNetwork("mpc-lan", 4.005e-3, 0.898e9, 1.88e-9, 1e-10),
    "mpc-wan": MPCNetwork("mpc-wan", 82.5e-3, 196e6, 1.88e-9, 1e-10),
    "mpc-crypten-lan": MPCNetwork("mpc-crypten-lan", 4.294e-3, 166.7e6, 7.39e-9, 0.0),
    "mpc-crypten-wan": MPCNetwork("mpc-crypten-wan", 43.56e-3, 6.05e6, 7.39e-9, 0.0),
}

_QKV_MIXERS = ("softmax", "wma", "window", "linear", "relu", "scale", "quad", "lowrank", "dynconv")


def _linear(m: float, d_in: int, d_out: int, k: int | None) -> MPCCost:
    return ops.total([ops.matmul(1, m, a, b) for a, b in linear_shapes(d_in, d_out, k)])


class _Ledger(dict):
    """Costs by op class, in the order the forward pass runs them."""

    def add(self, key: str, cost: MPCCost) -> None:
        self[key] = self.get(key, ops.ZERO) + cost


def _score_attention(out: _Ledger, kind: str, bh: float, s: int, d: int, span: int) -> None:
    """Q·Kᵀ (under ``matmul``), the score function over ``span`` keys per row (under
    ``attention:<kind>``), then A·V."""
    rows = bh * s
    scores = MPCCost(1, ops.RING_BYTES * bh * 2 * s * d, bh * 2 * s * d, bh * s * span * d)
    if kind == "wma":
        scores = ops.matmul(bh, s, d, d) + scores
    out.add("matmul", scores)
    if kind in ("softmax", "wma", "window"):
        out.add(f"attention:{kind}", ops.softmax(rows, span))
    elif kind == "relu":
        out.add("attention:relu", ops.relu_softmax(rows, span))
    elif kind == "quad":
        out.add("attention:quad", ops.quad_softmax(rows, span))
    out.add("matmul", MPCCost(1, ops.RING_BYTES * bh * (s * span + s * d),
                              bh * (s * span + s * d), bh * s * span * d))


def _linear_attention(bh: float, s: int, d: int, feature_map: str, causal: bool) -> MPCCost:
    n = bh * s * d
    phi = ops.relu(2 * n) if feature_map == "relu" else ops.compare(2 * n) + ops.exp(2 * n)
    if causal:
        # Prefix sums are local; the per-step outer products and read-outs are products.
        body = ops.mul(bh * s * d * d) + ops.mul(bh * s * d * d)
    else:
        body = ops.matmul(bh, d, s, d) + ops.matmul(bh, s, d, d)
    normaliser = ops.mul(n) + ops.reciprocal(bh * s, all_pos=False) + ops.scale(n, bh * s)
    return phi + body + normaliser


def _group_cost(out: _Ledger, kind: str, b: int, h: int, d: int, s: int, p: Mapping,
                causal: bool) -> None:
    bh = b * h
    key = f"attention:{kind}"
    if kind in ("softmax", "wma", "relu", "quad", "scale"):
        _score_attention(out, kind, bh, s, d, s)
    elif kind == "window":
        w = int(p["window"])
        _score_attention(out, kind, bh, s, d, min(s, w + 1 if causal else 2 * w + 1))
    elif kind == "linear":
        out.add(key, _linear_attention(bh, s, d, p.get("feature_map", "elu"), causal))
    elif kind in ("dft", "dct"):
        # A public transform of secret values is local.
        out.add(key, ops.ZERO)
    elif kind == "conv":
        c, k = h * d, int(p["kernel"])
        out.add(key, MPCCost(1, ops.RING_BYTES * (b * s * c + k * c), b * s * c + k * c,
                             b * s * c * k))
    elif kind == "dynconv":
        k = int(p["kernel"])
        out.add(key, ops.matmul(1, b * s, h * d, h * k) + ops.softmax(b * s * h, k)
                + ops.mul(b * s * h * d * k))
    elif kind == "lowrank":
        r = int(p["rank"])
        out.add("matmul", ops.matmul(b, r, s, h * d).repeat(2) + ops.matmul(bh, s, d, r))
        out.add(key, ops.softmax(bh * s, r))
        out.add("matmul", ops.matmul(bh, s, r, d))
    else:
        raise EvaluatorError(
            f"The MPC cost model has no rule for mixer {kind!r}. Known: softmax, wma, window, "
            "linear, relu, scale, quad, lowrank, dft, dct, conv, dynconv, pool, ssm, shsa."
        )


def _mixer_cost(out: _Ledger, mixer: Mapping, width: int, b: int, s: int, causal: bool,
                rho: float | None, heads_share_rounds: bool = True) -> None:
    kind = mixer["type"]
    m = b * s
    if kind == "ssm":
        n_state = int(mixer["state"])
        states = b * s * width * n_state
        steps = max(1, math.ceil(math.log2(max(s, 2))))
        selective = bool(mixer.get("selective"))
        out.add("linear", _linear(m, width, 2 * width, None))
        # Discretisation exp(ΔA) per token when Δ depends on the input, once otherwise; the
        # parallel scan takes two products per doubling step.
        gates = ops.silu(m * width) + ops.exp(states) if selective else ops.exp(width * n_state)
        out.add("attention:ssm", gates + ops.mul(states) + ops.mul(states).repeat(2 * steps)
                + ops.mul(states))
        out.add("linear", _linear(m, width, width, None))
        return
    if kind == "shsa":
        qk, part = int(mixer["qk_dim"]), max(1, math.floor(float(mixer["partial"]) * width))
        out.add("norm", ops.norm(m, part))
        out.add("linear", _linear(m, part, 2 * qk + part, None))
        _score_attention(out, "softmax", b, s, qk, s)
        out.add("linear", _linear(m, width, width, None))
        return
    if kind == "pool":
        out.add("attention:pool", ops.ZERO)
        return
    inner = mixer_inner_width(mixer, width)
    projected = kind == "heads" or kind in _QKV_MIXERS
    if projected:
        out.add("linear", _linear(m, width, 3 * inner, low_rank(width, 3 * inner, rho, ffn=False)))
    groups = []
    for group_kind, h, d, p in head_groups(mixer, width):
        groups.append(_Ledger())
        _group_cost(groups[-1], group_kind, b, h, d, s, p, causal)
    # Head groups of one layer do not depend on each other, so their messages travel in the
    # same rounds: the layer waits for its slowest group and pays everyone's traffic.
    slowest = max(groups, key=lambda g: sum(c.rounds for c in g.values()), default=None)
    for group in groups:
        for key, cost in group.items():
            alone = group is slowest or not heads_share_rounds
            out.add(key, cost if alone else dataclasses.replace(cost, rounds=0.0))
    if projected:
        out.add("linear", _linear(m, inner, width, low_rank(inner, width, rho, ffn=False)))


def mpc_breakdown(arch: Any, batch_size: int = 1, *,
                  heads_share_rounds: bool = True) -> dict[str, MPCCost]:
    """Secure-inference cost of one forward pass, by op class.

    Classes: ``embedding``, ``linear`` (projections, FFN, width changes), ``matmul`` (scores
    and mixing of attention-like mixers), ``attention:<kind>`` (the rest of a mixer of that kind,
    e.g. the score function), ``activation:<name>``, ``norm``, ``head``.

    ``heads_share_rounds=False`` counts the head groups of a mixer one after another, as a plain
    CrypTen forward (one group's ops, then the next's) runs them.
    """
    a = arch_dict(arch)
    b, s, causal = batch_size, seq_len(a), bool(a.get("causal", False))
    out = _Ledger()
    add = out.add

    inp, layers = a["input"], a["layers"]
    d0 = int(layers[0]["width"])
    if inp["type"] == "tokens":
        add("embedding", ops.matmul(1, b * s, int(inp["vocab"]), d0))
    else:
        patch_in = int(inp["patch"]) ** 2 * int(inp["channels"])
        add("embedding", ops.matmul(1, b * (s - int(has_class_token(a))), patch_in, d0))
    for i, layer in enumerate(layers):
        d, rho = int(layer["width"]), layer.get("rank_ratio")
        mixer = layer["mixer"]
        add("norm", ops.norm(b * s, d))
        _mixer_cost(out, mixer, d, b, s, causal, rho, heads_share_rounds)
        if layer["ffn"]:
            add("norm", ops.norm(b * s, d))
            act = layer["activation"]
            prev = d
            for f in layer["ffn"]:
                f_out = 2 * f if act == "swiglu" else f
                add("linear", _linear(b * s, prev, f_out, low_rank(prev, f, rho, ffn=True)))
                if act == "swiglu":
                    add("activation:swiglu", ops.silu(b * s * f) + ops.mul(b * s * f))
                else:
                    add(f"activation:{act}", ops.ACTIVATIONS[act](b * s * f))
                prev = f
            add("linear", _linear(b * s, prev, d, low_rank(prev, d, rho, ffn=True)))
        if i + 1 < len(layers) and int(layers[i + 1]["width"]) != d:
            add("linear", _linear(b * s, d, int(layers[i + 1]["width"]), None))
    d_last = int(layers[-1]["width"])
    add("norm", ops.norm(b * s, d_last))
    rows = b * s if a.get("task", "classify") == "lm" else b
    add("head", ops.matmul(1, rows, d_last, out_dim(a)))
    return dict(out)


class MPCCostModel:
    """Secure two-party inference cost of an architecture on a named deployment.

    Args:
        network: a name of ``MPC_NETWORKS`` (``"mpc-lan"``, ``"mpc-wan"``: published anchors;
            ``"mpc-crypten-lan"``, ``"mpc-crypten-wan"``: measured CrypTen) or an ``MPCNetwork``.
        batch_size: inputs per forward pass (ops are batched, so rounds do not grow with it).

    Returns from ``__call__``: ``mpc_ms`` (online time), ``mpc_rounds``, ``mpc_mb`` (megabytes
    one party sends, 1 MB = 10^6 bytes).
    """

    metrics = ("mpc_ms", "mpc_rounds", "mpc_mb")

    def __init__(self, network: str | MPCNetwork = "mpc-lan", batch_size: int = 1) -> None:
        self.network = network
        self.batch_size = batch_size

    def _network(self) -> MPCNetwork:
        if isinstance(self.network, MPCNetwork):
            return self.network
        if self.network not in MPC_NETWORKS:
            raise EvaluatorError(
                f"Unknown MPC network {self.network!r}. Must be one of {sorted(MPC_NETWORKS)}."
            )
        return MPC_NETWORKS[self.network]

    def __call__(self, arch: Any) -> dict[str, float]:
        net = self._network()
        cost = ops.total(list(mpc_breakdown(arch, self.batch_size).values()))
        comm, compute = net.time_s(cost)
        return {
            "mpc_ms": 1e3 * (comm + compute),
            "mpc_rounds": float(cost.rounds),
            "mpc_mb": cost.bytes / 1e6,
        }


def fit_mpc_compute(name: str, costs: Sequence[MPCCost], seconds: Sequence[float]) -> MPCNetwork:
    """A deployment without a link, fitted to runs whose parties talk at no delay and no rate
    limit: seconds per round (the protocol's own work per exchange: CrypTen's Python, the
    transport's system calls), per ring element and per MAC.

    Least squares on relative error with every constant non-negative; bandwidth is infinite, so
    the returned network's ``rtt_s`` is that per-round local time. Pass its ``s_per_element`` and
    ``s_per_mac`` to ``fit_mpc_network`` for runs over a real or emulated link: the RTT fitted
    there then includes the per-round local time.
    """
    _check_records(costs, seconds)
    target = np.asarray(seconds, dtype=float)
    design = np.array([[c.rounds, c.elements, c.macs] for c in costs]) / target[:, None]
    # Imported on use: the Ray workers of a cost-model study load this package for every run,
    # and scipy would add half a second to each worker's start.
    from scipy.optimize import nnls

    (per_round, per_element, per_mac), _ = nnls(design, np.ones(len(target)))
    return MPCNetwork(name, float(per_round), math.inf, float(per_element), float(per_mac))


def _check_records(costs: Sequence[MPCCost], seconds: Sequence[float]) -> None:
    if len(costs) != len(seconds) or len(costs) < 3:
        raise EvaluatorError(
            "An MPC fit needs one measured time per cost and at least 3 records; got "
            f"{len(costs)} costs and {len(seconds)} times. Measure more runs."
        )
    bad = [t for t in seconds if not t > 0]
    if bad:
        raise EvaluatorError(
            f"Measured MPC times must be positive seconds; got {bad[0]!r}. Drop that record."
        )


def fit_mpc_network(
    name: str,
    costs: Sequence[MPCCost],
    seconds: Sequence[float],
    *,
    s_per_element: float,
    s_per_mac: float,
) -> MPCNetwork:
    """RTT and bandwidth that best reproduce measured times (least squares on log time).

    Local compute constants are given, not fitted: elements scale with bytes in every op, so
    the data cannot separate them from bandwidth.
    """
    _check_records(costs, seconds)
    rounds = np.array([c.rounds for c in costs])
    gbytes = np.array([c.bytes / 1e9 for c in costs])
    local = np.array([c.elements * s_per_element + c.macs * s_per_mac for c in costs])
    target = np.asarray(seconds, dtype=float)

    def residual(log_p: np.ndarray) -> np.ndarray:
        rtt, s_per_gb = np.exp(log_p)
        return np.log((rounds * rtt + gbytes * s_per_gb + local) / target)

    from scipy.optimize import least_squares

    fit = least_squares(residual, np.log([1e-3, 1.0]))
    rtt, s_per_gb = np.exp(fit.x)
    return MPCNetwork(name, float(rtt), float(1e9 / s_per_gb), s_per_element, s_per_mac)
