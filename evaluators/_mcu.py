"""Microcontroller deployment cost: peak SRAM, flash and an estimated latency.

Peak SRAM walks the operator schedule of one forward pass (batch 1) and takes the largest sum of
live activation buffers, with MCUFormer's operator library as the default execution rules:
LayerNorm and softmax fused into row-wise matmul loops (no full norm output, one score row per
head), token overwriting (a linear whose input dies writes its output over it row by row, so it
holds max(in, out) + one row), and a patch embedding decomposed patch by patch (the image and the
token buffer are never whole together). Weights stream from flash (as in TinyEngine) unless
``stage_weights`` holds the largest weight matrix of the current op in SRAM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import space
from evaluators._errors import EvaluatorError
from evaluators._schema import arch_dict
from evaluators._schema import has_class_token
from evaluators._schema import head_groups
from evaluators._schema import linear_shapes
from evaluators._schema import low_rank
from evaluators._schema import mixer_inner_width
from evaluators._schema import out_dim
from evaluators._schema import seq_len

DTYPE_BYTES = {"int8": 1, "int16": 2, "float16": 2, "float32": 4}
# Flash beyond the weights: runtime, kernels and tensor metadata. Mean of flash − params over
# MCUNet's four published TinyEngine deployments on an STM32F746 (112–157 kB; benchmarks/mcu.py).
CODE_FLASH_BYTES = 141_000


@dataclass(frozen=True)
class MCUBoard:
    """A microcontroller: memory sizes and the speed the latency estimate assumes.

    ``cycles_per_mac`` is an estimate for int8 CMSIS-NN / TinyEngine kernels (dual 16-bit MAC
    SIMD, loads and requantisation included), not a measurement; latency from it is an estimate.
    """

    name: str
    core: str
    sram_bytes: int
    flash_bytes: int
    clock_hz: float
    cycles_per_mac: float


# SRAM and flash as MCUFormer and MCUNet use them (hardware-costs.md §2.1); clocks from the
# ST datasheets.
MCU_BOARDS: dict[str, MCUBoard] = {
    "stm32f427": MCUBoard("stm32f427", "Cortex-M4", 256 * 1024, 1024 * 1024, 180e6, 1.5),
    "stm32f746": MCUBoard("stm32f746", "Cortex-M7", 320 * 1024, 1024 * 1024, 216e6, 1.0),
    "stm32h743": MCUBoard("stm32h743", "Cortex-M7", 512 * 1024, 2048 * 1024, 480e6, 1.0),
}


def mcuformer_proxy_sram(d: int, tokens: int, mlp_ratio: float, rank_ratio: float) -> float:
    """MCUFormer's released SRAM proxy in bytes (int8), ``sample_legel_ratio`` in
    ``supernet_engine.py``: d·[(N + 1)(1 + r) + d·r·ρ] with N + 1 = ``tokens``.

    Terms: the residual token buffer, the MLP hidden activation and one staged low-rank factor.
    """
    return d * (tokens * (1 + mlp_ratio) + d * mlp_ratio * rank_ratio)


def _chain_peak(rows: int, d_in: int, d_out: int, k: int | None, *, keep_input: bool,
                inplace: bool) -> int:
    """Largest buffer sum (elements) while a dense or factorised linear runs, input included."""
    peak, current, first = 0, rows * d_in, True
    for _, n_out in linear_shapes(d_in, d_out, k):
        out = rows * n_out
        if inplace and not (first and keep_input):
            live = max(current, out) + n_out
        else:
            live = current + out
        peak = max(peak, live)
        current, first = out, False
    return peak


def _weights(d_in: int, d_out: int, k: int | None) -> int:
    return max(a * b for a, b in linear_shapes(d_in, d_out, k))


class MCUMemoryModel:
    """Peak SRAM, flash and an estimated latency of an architecture on a microcontroller.

    Args:
        board: ``"stm32f427"``, ``"stm32f746"``, ``"stm32h743"`` or an ``MCUBoard``.
        dtype: storage type of weights and activations (``int8`` by default).
        inplace: token overwriting and fused operators (MCUFormer's operator library); without
            it every op holds its whole input and output.
        stage_weights: also hold the largest weight matrix of each op in SRAM.
        proxy: ``"schedule"`` (walk the operator schedule) or ``"mcuformer"`` (the released proxy
            formula, for comparison with MCUFormer's search; needs a uniform-width image model).
        code_bytes: flash taken by code and runtime.

    Returns from ``__call__``: ``sram_kb``, ``flash_kb`` (1 kB = 1024 bytes), ``mcu_latency_ms``
    (an estimate from MACs), ``params``.
    """

    metrics = ("sram_kb", "flash_kb", "mcu_latency_ms")

    def __init__(
        self,
        board: str | MCUBoard = "stm32f746",
        *,
        dtype: str = "int8",
        inplace: bool = True,
        stage_weights: bool = False,
        proxy: str = "schedule",
        code_bytes: int = CODE_FLASH_BYTES,
    ) -> None:
        self.board = board
        self.dtype = dtype
        self.inplace = inplace
        self.stage_weights = stage_weights
        self.proxy = proxy
        self.code_bytes = code_bytes

    def _board(self) -> MCUBoard:
        if isinstance(self.board, MCUBoard):
            return self.board
        if self.board not in MCU_BOARDS:
            raise EvaluatorError(
                f"Unknown MCU board {self.board!r}. Must be one of {sorted(MCU_BOARDS)}."
            )
        return MCU_BOARDS[self.board]

    def _bytes(self) -> int:
        if self.dtype not in DTYPE_BYTES:
            raise EvaluatorError(
                f"The 'dtype' parameter of MCUMemoryModel must be one of {sorted(DTYPE_BYTES)}. "
                f"Got {self.dtype!r} instead."
            )
        return DTYPE_BYTES[self.dtype]

    def schedule(self, arch: Any) -> list[tuple[str, int]]:
        """(op, live elements) for each step of the batch-1 forward pass, in order."""
        a = arch_dict(arch)
        s, ip, stage = seq_len(a), self.inplace, self.stage_weights
        steps: list[tuple[str, int]] = []
        inp, layers = a["input"], a["layers"]
        d0 = int(layers[0]["width"])
        if inp["type"] == "image":
            image = int(inp["image_size"]) ** 2 * int(inp["channels"])
            patch = int(inp["patch"]) ** 2 * int(inp["channels"])
            tokens = s * d0
            w = patch * d0 if stage else 0
            steps.append(("patch_embed", (max(image, tokens) + patch if ip else image + tokens)
                          + w))
        else:
            steps.append(("embedding", s * d0))
        for i, layer in enumerate(layers):
            d, rho, mixer = int(layer["width"]), layer.get("rank_ratio"), layer["mixer"]
            x = s * d
            steps += [(f"layers[{i}].{op}", live)
                      for op, live in self._mixer_steps(mixer, d, s, rho)]
            act, prev = layer["activation"], d
            widths = [2 * f if act == "swiglu" else f for f in layer["ffn"]]
            for j, f in enumerate(widths):
                k = low_rank(prev, layer["ffn"][j], rho, ffn=True)
                # The first FFN linear reads the (norm-fused) residual, which stays alive.
                live = _chain_peak(s, prev, f, k, keep_input=j == 0, inplace=ip)
                extra = 0 if j == 0 else x
                w = _weights(prev, f, k) if stage else 0
                steps.append((f"layers[{i}].ffn[{j}]", live + extra + w))
                prev = layer["ffn"][j]
            if widths:
                k = low_rank(prev, d, rho, ffn=True)
                w = _weights(prev, d, k) if stage else 0
                steps.append((f"layers[{i}].ffn_out",
                              x + _chain_peak(s, prev, d, k, keep_input=False, inplace=ip) + w))
            if i + 1 < len(layers) and int(layers[i + 1]["width"]) != d:
                nxt = int(layers[i + 1]["width"])
                w = d * nxt if stage else 0
                steps.append((f"layers[{i}].resize",
                              _chain_peak(s, d, nxt, None, keep_input=False, inplace=ip) + w))
        d_last = int(layers[-1]["width"])
        rows = s if a.get("task", "classify") == "lm" else 1
        w = d_last * out_dim(a) if stage else 0
        steps.append(("head", s * d_last + rows * d_last + rows * out_dim(a) + w))
        return steps

    def _mixer_steps(self, mixer: Mapping, d: int, s: int,
                     rho: float | None) -> list[tuple[str, int]]:
        ip, stage = self.inplace, self.stage_weights
        x = s * d
        kind = mixer["type"]
        if kind in ("pool", "dft", "dct", "conv"):
            # Token-wise transforms: one output buffer beside the residual.
            return [("mixer", 2 * x)]
        if kind == "ssm":
            n_state = int(mixer["state"])
            return [("mixer", x + 2 * x + d * n_state + (2 * d * d if stage else 0))]
        if kind == "shsa":
            part, qk = math.floor(float(mixer["partial"]) * d), int(mixer["qk_dim"])
            qkv = s * (2 * qk + part)
            score = s if ip else s * s
            return [("qkv", x + qkv), ("attention", x + qkv + score)]
        inner = mixer_inner_width(mixer, d)
        k = low_rank(d, 3 * inner, rho, ffn=False)
        w_qkv = _weights(d, 3 * inner, k) if stage else 0
        qkv = 3 * s * inner
        steps = [("qkv", _chain_peak(s, d, 3 * inner, k, keep_input=True, inplace=ip) + w_qkv)]
        groups = head_groups(mixer, d)
        scores = 0
        for kind_g, h, hd, p in groups:
            if kind_g in ("linear", "scale"):
                # Reassociated: a d_h × d_h state per head instead of score rows.
                scores = max(scores, h * hd * hd)
            elif kind_g == "window":
                span = min(s, 2 * int(p["window"]) + 1)
                scores = max(scores, span if ip else h * s * span)
            elif kind_g == "lowrank":
                r = int(p["rank"])
                scores = max(scores, 2 * r * h * hd + (r if ip else h * s * r))
            elif kind_g in ("softmax", "wma", "relu", "quad", "dynconv"):
                scores = max(scores, s if ip else h * s * s)
        # The output overwrites q row by row; without it, o is a fourth buffer.
        attention = x + qkv + scores + (0 if ip else s * inner)
        kp = low_rank(inner, d, rho, ffn=False)
        w_proj = _weights(inner, d, kp) if stage else 0
        proj = x + 2 * s * inner + _chain_peak(s, inner, d, kp, keep_input=False, inplace=ip)
        if ip:
            # k and v are dead once every row is mixed.
            proj -= 2 * s * inner
        return steps + [("attention", attention), ("proj", proj + w_proj)]

    def peak_sram_bytes(self, arch: Any) -> float:
        """Peak SRAM in bytes under the chosen proxy."""
        if self.proxy == "mcuformer":
            a = arch_dict(arch)
            layers = a["layers"]
            return max(
                mcuformer_proxy_sram(
                    int(layer["width"]),
                    seq_len(a) + int(not has_class_token(a)),
                    (layer["ffn"][0] / int(layer["width"])) if layer["ffn"] else 0.0,
                    layer.get("rank_ratio") or 1.0,
                )
                for layer in layers
            ) * self._bytes()
        if self.proxy != "schedule":
            raise EvaluatorError(
                "The 'proxy' parameter of MCUMemoryModel must be 'schedule' or 'mcuformer'. "
                f"Got {self.proxy!r} instead."
            )
        return max(live for _, live in self.schedule(arch)) * self._bytes()

    def __call__(self, arch: Any) -> dict[str, float]:
        return self.costs(arch, space.count_macs(arch, 1))

    def costs(self, arch: Any, macs: int) -> dict[str, float]:
        """``self(arch)`` given the architecture's MACs at batch 1, for callers that have
        them already (tracing an architecture is most of what pricing it costs)."""
        board = self._board()
        params = space.count_params(arch)
        return {
            "sram_kb": self.peak_sram_bytes(arch) / 1024,
            "flash_kb": (params * self._bytes() + self.code_bytes) / 1024,
            "mcu_latency_ms": 1e3 * macs * board.cycles_per_mac / board.clock_hz,
            "params": float(params),
        }
