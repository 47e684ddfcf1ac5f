"""Per-op cost of 2-party arithmetic secret sharing under CrypTen's defaults.

Counts follow ``facebookresearch/CrypTen`` (``configs/default.yaml``, ``crypten/common/functions``)
as tabulated in ../shared/reference/hardware-costs.md §1.3: a 64-bit ring with 16 fractional bits,
Beaver triples from a trusted first party (offline cost not counted), local truncation. Bytes are
what one party sends; both send at once over a full-duplex link, so time uses one party's bytes.
``elements`` counts the ring elements a party masks and reconstructs, the local work proxy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RING_BYTES = 8
EXP_ITERATIONS = 8
RECIPROCAL_ITERATIONS = 10
INV_SQRT_ITERATIONS = 3
# sigmoid (and tanh = 2·sigmoid(2x) - 1) overrides these inside its reciprocal method. Its exp
# runs before the ``exp_iterations: 9`` override takes effect (measured against CrypTen 0.4.1:
# eight squarings, as the default exp).
SIGMOID_EXP_ITERATIONS = 8
SIGMOID_RECIPROCAL_ITERATIONS = 3
# weighted_index draws its random threshold with crypten.rand, which shares 16 random bits per
# row as 16 ring elements: one more round and 16 elements per row (measured against CrypTen).
_RAND_BITS = 16
# A2B conversion (one AND), a 6-level carry-lookahead adder over 64 bits (two ANDs per level),
# then one single-bit B2A: an AND opens two 64-bit words.
_COMPARE_ROUNDS = 1 + 6 + 1
_COMPARE_WORDS = 2 + 6 * 4 + 1
# Equality: an OR tree over the 64 bits of x0 ^ x1 (one AND per level), then single-bit B2A.
_EQUAL_ROUNDS = 6 + 1
_EQUAL_WORDS = 6 * 2 + 1


@dataclass(frozen=True)
class MPCCost:
    """Online cost of a sequence of secure ops; ``+`` composes them one after another."""

    rounds: float = 0.0
    bytes: float = 0.0
    elements: float = 0.0
    macs: float = 0.0

    def __add__(self, other: MPCCost) -> MPCCost:
        return MPCCost(
            self.rounds + other.rounds,
            self.bytes + other.bytes,
            self.elements + other.elements,
            self.macs + other.macs,
        )

    def repeat(self, times: float) -> MPCCost:
        """The same cost run ``times`` times in sequence."""
        return MPCCost(
            self.rounds * times, self.bytes * times, self.elements * times, self.macs * times
        )


ZERO = MPCCost()


def total(costs: list[MPCCost]) -> MPCCost:
    out = ZERO
    for cost in costs:
        out = out + cost
    return out


def mul(n: float) -> MPCCost:
    """Elementwise product of two secret tensors: open x - a and y - b (Beaver)."""
    return MPCCost(1, 2 * RING_BYTES * n, 2 * n)


def scale(n: float, factors: float) -> MPCCost:
    """Product of n secret elements with ``factors`` secret factors broadcast over them (one per
    row, or one per column): Beaver opens both masked operands, each at its own size, in one
    batched round."""
    return MPCCost(1, RING_BYTES * (n + factors), n + factors)


def select(n: float) -> MPCCost:
    """``crypten.where(c, x, y)`` with a secret condition: c·x + (1 - c)·y, two products that the
    code issues one after the other."""
    return mul(n).repeat(2)


def square(n: float) -> MPCCost:
    """x² with a square triple (a, a²): only x - a is opened."""
    return MPCCost(1, RING_BYTES * n, n)


def matmul(b: float, m: float, k: float, n: float) -> MPCCost:
    """b products (m×k)·(k×n) of secret operands (weights are secret too): open both masks."""
    return MPCCost(1, RING_BYTES * b * (m * k + k * n), b * (m * k + k * n), b * m * k * n)


def compare(n: float) -> MPCCost:
    """[x < 0] as an arithmetic share: A2B, carry-lookahead adder, single-bit B2A."""
    return MPCCost(_COMPARE_ROUNDS, RING_BYTES * _COMPARE_WORDS * n, _COMPARE_WORDS * n)


def relu(n: float) -> MPCCost:
    """ReLU(x) = x · [x >= 0]."""
    return compare(n) + mul(n)


def exp(n: float) -> MPCCost:
    """exp(x) = (1 + x / 2^8)^(2^8): eight squarings."""
    return square(n).repeat(EXP_ITERATIONS)


def reciprocal(n: float, *, all_pos: bool) -> MPCCost:
    """1/x by Newton-Raphson from 3·exp(1 - 2x) + 0.003; without ``all_pos`` CrypTen first takes
    the sign (a comparison) and multiplies by it before and after."""
    core = exp(n) + (square(n) + mul(n)).repeat(RECIPROCAL_ITERATIONS)
    if all_pos:
        return core
    return compare(n) + mul(n) + core + mul(n)


def inv_sqrt(n: float) -> MPCCost:
    """1/sqrt(x) by Newton-Raphson from an exp-based initial value."""
    return exp(n) + (square(n) + mul(n) + mul(n)).repeat(INV_SQRT_ITERATIONS)


def equal(n: float) -> MPCCost:
    """[x == y] in 2PC: a binary equality test (an OR tree over 64 bits) and single-bit B2A."""
    return MPCCost(_EQUAL_ROUNDS, RING_BYTES * _EQUAL_WORDS * n, _EQUAL_WORDS * n)


def _tie_break(rows: float, n: int) -> MPCCost:
    """CrypTen's ``weighted_index``: random bits for a threshold per row (``crypten.rand``),
    the threshold's product, then one comparison each."""
    rand = MPCCost(1, RING_BYTES * _RAND_BITS * rows, _RAND_BITS * rows)
    return rand + mul(rows) + compare(rows * n)


def max_rows(rows: float, n: int) -> MPCCost:
    """Row max as CrypTen's ``max(dim)`` runs it with ``max_method="log_reduction"``.

    ⌊ln n⌋ halving steps of a comparison and a ``where``; a pairwise argmax over the remainder
    (all-pairs comparison, a product tree, a tie break, a select); then, because ``max(dim)``
    also returns the one-hot argmax that softmax discards, an equality test and a tie break over
    all n.
    """
    steps = int(math.log(n)) if n > 1 else 0
    cost = ZERO
    width = n
    for _ in range(steps):
        half = width // 2
        cost = cost + compare(rows * half) + select(rows * half)
        width = half + width % 2
    if width > 1:
        cost = cost + compare(rows * width * (width - 1))
        factors = width - 1
        while factors > 1:
            cost = cost + mul(rows * width * (factors // 2))
            factors = factors // 2 + factors % 2
        cost = cost + _tie_break(rows, width) + mul(rows * width)
    return cost + equal(rows * n) + _tie_break(rows, n)


def softmax(rows: float, n: int) -> MPCCost:
    """CrypTen softmax: max, subtract, exp, sum, reciprocal (declared positive), multiply."""
    normalise = reciprocal(rows, all_pos=True) + scale(rows * n, rows)
    return max_rows(rows, n) + exp(rows * n) + normalise


def relu_softmax(rows: float, n: int, *, all_pos: bool = False) -> MPCCost:
    """2ReLU / RSAttn: ReLU(x) / Σ ReLU(x); a plain division does not declare positivity."""
    return relu(rows * n) + reciprocal(rows, all_pos=all_pos) + scale(rows * n, rows)


def quad_softmax(rows: float, n: int, *, all_pos: bool = False) -> MPCCost:
    """2Quad: (x + c)² / Σ (x + c)²; MPCFormer writes the square as a product (x + c)·(x + c)."""
    return mul(rows * n) + reciprocal(rows, all_pos=all_pos) + scale(rows * n, rows)


def gelu(n: float) -> MPCCost:
    """0.5x(1 + tanh(√(2/π)(x + 0.044715x³))), the tanh form of BERT's GeLU, with CrypTen's
    default tanh: x³ as a square and a product, one sigmoid (the scalings are public), a product.

    CrypTen has no GeLU. MPCFormer's utils.py writes this form with hardtanh for tanh, a ReLU
    over 2n elements: at BERT-Base sizes exactly the ReLU of its 2ReLU attention, yet its
    published GeLU time is below 2ReLU - 2Quad, what that ReLU less a product costs
    (benchmarks/mpc.py prints both). CrypTen's tanh compares once per element and fits.
    """
    return square(n) + mul(n) + sigmoid(n) + mul(n)


def quad(n: float) -> MPCCost:
    """Quad = 0.125x² + 0.5x + 0.25: one product x·x (as MPCFormer writes it), the rest is public
    scaling."""
    return mul(n)


def sigmoid(n: float) -> MPCCost:
    """CrypTen's default ("reciprocal") sigmoid: s = [x < 0], |x| = x·(1 - 2s),
    1 / (1 + exp(-|x|)) with its own overrides (3 Newton steps from the public guess 0.75, so
    the first step is local; its exp keeps 8 squarings, see ``SIGMOID_EXP_ITERATIONS``), then
    ``where`` picks σ or 1 - σ."""
    newton = (square(n) + mul(n)).repeat(SIGMOID_RECIPROCAL_ITERATIONS - 1)
    return compare(n) + mul(n) + square(n).repeat(SIGMOID_EXP_ITERATIONS) + newton + select(n)


def silu(n: float) -> MPCCost:
    return sigmoid(n) + mul(n)


def norm(rows: float, cols: int) -> MPCCost:
    """LayerNorm or RMSNorm: mean and centring are local; variance, 1/sqrt per row, scale by the
    inverse (one per row) and by the secret gain (one per column)."""
    n = rows * cols
    return square(n) + inv_sqrt(rows) + scale(n, rows) + scale(n, cols)


ACTIVATIONS = {"gelu": gelu, "relu": relu, "quad": quad}
