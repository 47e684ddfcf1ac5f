from __future__ import annotations

import math

import pytest

from evaluators import MPC_NETWORKS
from evaluators import EvaluatorError
from evaluators import MPCCostModel
from evaluators import MPCNetwork
from evaluators import _mpc_ops as ops
from evaluators import fit_mpc_compute
from evaluators import fit_mpc_network
from evaluators import mpc_breakdown

from ._archs import MIXERS
from ._archs import layer
from ._archs import text
from ._archs import vit


def _bert(attention: str, activation: str = "gelu") -> dict:
    lay = {"width": 768, "mixer": {"type": attention, "heads": 12, "head_dim": 64},
           "ffn": [3072], "activation": activation, "norm": "layernorm", "rank_ratio": None}
    return {"family": "transformer", "task": "classify", "causal": False,
            "input": {"type": "tokens", "vocab": 28996, "seq_len": 512}, "num_classes": 2,
            "pool": "cls", "layers": [lay] * 12}


def _seconds(arch: dict, key: str, network: str = "mpc-lan") -> float:
    return sum(MPC_NETWORKS[network].time_s(mpc_breakdown(arch)[key]))


def test_crypten_primitive_counts() -> None:
    assert ops.mul(10) == ops.MPCCost(1, 160, 20)
    assert ops.square(10).bytes == 80
    assert ops.matmul(1, 4, 8, 2).bytes == 8 * (32 + 16)
    # A broadcast product opens each masked operand at its own size, in one batched round.
    assert ops.scale(100, 10) == ops.MPCCost(1, 8 * 110, 110)
    assert ops.select(10) == ops.mul(10).repeat(2)
    assert ops.exp(1).rounds == 8
    assert ops.reciprocal(1, all_pos=True).rounds == 28
    # Sign, |x|, exp by 8 squarings (CrypTen 0.4.1 runs it before its exp_iterations: 9
    # override), 2 non-local Newton steps, where.
    assert ops.sigmoid(1).rounds == 8 + 1 + 8 + 2 * 2 + 2
    # weighted_index's random bits: one round and 16 ring elements per row, twice per max.
    assert ops._tie_break(5, 7) == (ops.MPCCost(1, 16 * 5 * 8, 16 * 5) + ops.mul(5)
                                    + ops.compare(35))
    # Row max over 512: 6 halving steps (comparison, where), a pairwise max over the 8 left
    # (comparison, 3-level product tree, tie break, select), then the one-hot argmax; each tie
    # break draws random bits (1 round), takes a product (1) and compares (8).
    halving = 6 * (8 + 2)
    pairwise = 8 + 3 + (1 + 1 + 8) + 1
    argmax = 7 + (1 + 1 + 8)
    assert ops.max_rows(1, 512).rounds == halving + pairwise + argmax


def test_softmax_family_divides_by_one_secret_factor_per_row() -> None:
    rows, n = 64, 512
    division = ops.relu_softmax(rows, n).bytes - ops.relu(rows * n).bytes
    assert division == ops.reciprocal(rows, all_pos=False).bytes + 8 * (rows * n + rows)


def test_gelu_compares_each_element_once() -> None:
    # CrypTen's tanh goes through one sigmoid; a hardtanh clamp would compare twice per element.
    n = 1000
    assert ops.gelu(n).bytes < ops.relu(2 * n).bytes
    assert ops.gelu(n).bytes - ops.sigmoid(n).bytes == 8 * (1 + 2 + 2) * n


def test_softmax_costs_more_rounds_than_relu_softmax_than_2quad() -> None:
    s, r, q = (ops.softmax(512, 512), ops.relu_softmax(512, 512), ops.quad_softmax(512, 512))
    assert s.rounds > r.rounds > q.rounds
    assert s.bytes > r.bytes > 5 * q.bytes


def test_mpcformer_attention_anchor_within_15_percent() -> None:
    published = {"softmax": 40.0, "relu": 14.7, "quad": 3.2}
    for kind, seconds in published.items():
        ours = _seconds(_bert(kind), f"attention:{kind}")
        assert ours == pytest.approx(seconds, rel=0.15), kind


def test_mpcformer_activation_checks_within_15_percent() -> None:
    assert _seconds(_bert("softmax", "gelu"), "activation:gelu") == pytest.approx(11.0, rel=0.15)
    assert _seconds(_bert("softmax", "quad"), "activation:quad") == pytest.approx(0.5, rel=0.15)


def test_mpcvit_heads_and_searched_models() -> None:
    def total(kind: str) -> float:
        breakdown = mpc_breakdown(vit(256, 7, 4, 32, mixer={"type": kind, "heads": 4,
                                                               "head_dim": 64}))
        return sum(sum(MPC_NETWORKS["mpc-wan"].time_s(c)) for c in breakdown.values())

    base = total("scale")
    rs_head = (total("relu") - base) / 28
    assert base == pytest.approx(44.63, rel=0.15)
    assert (total("softmax") - base) / 28 == pytest.approx(2.414, rel=0.15)
    assert rs_head == pytest.approx(0.971, rel=0.15)
    # The searched models (3, 9, 14, 20 RSAttn heads) were not fitted.
    for n_rs, seconds in zip((3, 9, 14, 20), (48.03, 52.88, 58.66, 63.56), strict=True):
        assert base + n_rs * rs_head == pytest.approx(seconds, rel=0.05)


def test_fit_recovers_known_network() -> None:
    truth = MPCNetwork("t", 2e-3, 1e9, 0.0, 0.0)
    costs = [ops.softmax(4096, 64), ops.relu(10**6), ops.quad(10**7)]
    seconds = [sum(truth.time_s(c)) for c in costs]
    fit = fit_mpc_network("t", costs, seconds, s_per_element=0.0, s_per_mac=0.0)
    assert fit.rtt_s == pytest.approx(2e-3, rel=1e-3)
    assert fit.bandwidth_bytes_s == pytest.approx(1e9, rel=1e-3)


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_every_mixer_is_priced(name: str) -> None:
    out = MPCCostModel("mpc-lan")(text([layer(32, MIXERS[name])]))
    assert set(out) == {"mpc_ms", "mpc_rounds", "mpc_mb"}
    assert all(math.isfinite(v) and v > 0 for v in out.values())


@pytest.mark.parametrize("activation", ["gelu", "relu", "quad", "swiglu"])
def test_every_activation_is_priced(activation: str) -> None:
    breakdown = mpc_breakdown(text([layer(activation=activation)]))
    assert breakdown[f"activation:{activation}"].bytes > 0


def test_mpc_friendly_choices_are_cheaper() -> None:
    model = MPCCostModel("mpc-wan")
    soft = model(text([layer(mixer=MIXERS["softmax"])] * 2))["mpc_ms"]
    scale = model(text([layer(mixer=MIXERS["scale"], activation="quad")] * 2))["mpc_ms"]
    assert scale < soft / 2


def test_batch_adds_bytes_not_rounds() -> None:
    arch = text()
    one, eight = MPCCostModel(batch_size=1)(arch), MPCCostModel(batch_size=8)(arch)
    assert one["mpc_rounds"] == eight["mpc_rounds"]
    assert eight["mpc_mb"] > 4 * one["mpc_mb"]


def test_wan_is_slower_than_lan() -> None:
    arch = text()
    assert MPCCostModel("mpc-wan")(arch)["mpc_ms"] > 10 * MPCCostModel("mpc-lan")(arch)["mpc_ms"]


def test_unknown_network_names_the_presets() -> None:
    with pytest.raises(EvaluatorError, match="mpc-lan"):
        MPCCostModel("mpc-moon")(text())


def test_head_groups_of_one_layer_share_rounds_but_not_traffic() -> None:
    from evaluators import MPCCostModel
    from space import Space
    from space import head
    from space import heads
    from space import layer
    from space import patches
    from space import transformer

    def vit(kinds):
        spec = transformer([layer(64, heads([head(k) for k in kinds]), ffn=[128])],
                           input=patches(8, 2, 1), num_classes=10)
        return Space(spec).sample(seed=0)

    model = MPCCostModel("mpc-wan")
    softmax = model(vit(["softmax"] * 4))
    scale = model(vit(["scale"] * 4))
    mixed = model(vit(["softmax", "softmax", "scale", "scale"]))
    # The two groups run side by side: as many rounds as the deeper (softmax) group alone...
    assert mixed["mpc_rounds"] == softmax["mpc_rounds"] > scale["mpc_rounds"]
    # ...while traffic and time fall between the two homogeneous layers.
    assert scale["mpc_mb"] < mixed["mpc_mb"] < softmax["mpc_mb"]
    assert scale["mpc_ms"] < mixed["mpc_ms"] < softmax["mpc_ms"]


def test_serial_head_groups_add_their_rounds() -> None:
    from space import Space
    from space import head
    from space import heads
    from space import layer
    from space import patches
    from space import transformer

    def rounds(kinds, share):
        spec = transformer([layer(64, heads([head(k) for k in kinds]), ffn=[128])],
                           input=patches(8, 2, 1), num_classes=10)
        parts = mpc_breakdown(Space(spec).sample(seed=0), heads_share_rounds=share)
        return ops.total(list(parts.values()))

    mixed_serial, mixed = rounds(["softmax", "relu"], False), rounds(["softmax", "relu"], True)
    relu_alone = ops.relu_softmax(33, 33)
    assert mixed_serial.rounds == mixed.rounds + relu_alone.rounds + 2  # + Q·Kᵀ and A·V rounds
    assert mixed_serial.bytes == mixed.bytes
    # One kind per layer: nothing to share, both counts agree.
    assert rounds(["softmax"] * 2, False) == rounds(["softmax"] * 2, True)


def _records(truth: MPCNetwork) -> tuple[list, list]:
    costs = [ops.softmax(260, 65), ops.relu(4096), ops.matmul(1, 64, 128, 64),
             ops.reciprocal(1024, all_pos=False), ops.gelu(10**5), ops.matmul(4, 256, 256, 256)]
    return costs, [sum(truth.time_s(c)) for c in costs]


def test_compute_fit_recovers_known_local_constants() -> None:
    truth = MPCNetwork("t", 2.1e-3, math.inf, 4e-9, 3e-10)
    fit = fit_mpc_compute("local", *_records(truth))
    assert fit.bandwidth_bytes_s == math.inf
    assert fit.rtt_s == pytest.approx(2.1e-3, rel=1e-6)
    assert fit.s_per_element == pytest.approx(4e-9, rel=1e-6)
    assert fit.s_per_mac == pytest.approx(3e-10, rel=1e-6)


def test_two_stage_fit_recovers_a_link_over_local_compute() -> None:
    local = MPCNetwork("t", 2e-3, math.inf, 4e-9, 3e-10)
    link = MPCNetwork("t", 2e-3 + 20e-3, 6.25e6, 4e-9, 3e-10)
    fit_local = fit_mpc_compute("local", *_records(local))
    fit = fit_mpc_network("wan", *_records(link), s_per_element=fit_local.s_per_element,
                          s_per_mac=fit_local.s_per_mac)
    assert fit.rtt_s == pytest.approx(22e-3, rel=1e-4)
    assert fit.bandwidth_bytes_s == pytest.approx(6.25e6, rel=1e-4)


def test_fits_refuse_too_few_or_non_positive_records() -> None:
    costs, seconds = _records(MPCNetwork("t", 1e-3, 1e9, 0.0, 0.0))
    with pytest.raises(EvaluatorError, match="at least 3 records"):
        fit_mpc_compute("x", costs[:2], seconds[:2])
    with pytest.raises(EvaluatorError, match="positive seconds"):
        fit_mpc_network("x", costs, [0.0, *seconds[1:]], s_per_element=0.0, s_per_mac=0.0)


def test_crypten_presets_reproduce_measured_mpcvit_runs() -> None:
    """Two of benchmarks/mpc_crypten.py's measured runs (MPCViT-space arch 9, head groups in
    sequence as that CrypTen forward runs them), checked against the presets fitted on others."""
    from evaluators import predict
    from studies.mpcvit import space

    arch = space.sample(seed=9)
    cost = ops.total(list(mpc_breakdown(arch, heads_share_rounds=False).values()))
    for network, measured in (("mpc-crypten-lan", 2.979), ("mpc-crypten-wan", 30.149)):
        assert sum(MPC_NETWORKS[network].time_s(cost)) == pytest.approx(measured, rel=0.15)
    lan, wan = (predict(arch, device=f"mpc-crypten-{n}") for n in ("lan", "wan"))
    assert lan["mpc_rounds"] == wan["mpc_rounds"] and lan["mpc_ms"] < wan["mpc_ms"]
