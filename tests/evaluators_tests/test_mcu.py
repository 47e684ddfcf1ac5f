from __future__ import annotations

import pytest

import space
from evaluators import MCU_BOARDS
from evaluators import EvaluatorError
from evaluators import MCUMemoryModel
from evaluators import mcuformer_proxy_sram

from ._archs import MIXERS
from ._archs import layer
from ._archs import text
from ._archs import vit

# hardware-costs.md §2.3: KB for d = 192 / 216 at r = 4 and 240 px.
WORKED = {
    (16, 0.4): (269, 311), (16, 0.7): (313, 366), (16, 0.9): (341, 402), (16, 0.95): (349, 411),
    (20, 0.4): (194, 226), (20, 0.7): (237, 281), (20, 0.9): (266, 317), (20, 0.95): (273, 326),
    (24, 0.4): (152, 179), (24, 0.7): (195, 234), (24, 0.9): (224, 271), (24, 0.95): (231, 280),
    (28, 0.4): (119, 141), (28, 0.7): (162, 196), (28, 0.9): (191, 233), (28, 0.95): (198, 242),
    (32, 0.4): (104, 126), (32, 0.7): (148, 180), (32, 0.9): (176, 217), (32, 0.95): (184, 226),
}


@pytest.mark.parametrize(("patch", "rho"), sorted(WORKED))
def test_mcuformer_proxy_reproduces_worked_values(patch: int, rho: float) -> None:
    for d, published in zip((192, 216), WORKED[patch, rho], strict=True):
        arch = vit(d, 12, patch, 240, rank_ratio=rho,
                   mixer={"type": "softmax", "heads": 3, "head_dim": d // 3})
        for lay in arch["layers"]:
            lay["ffn"] = [4 * d]
        kb = MCUMemoryModel(proxy="mcuformer").peak_sram_bytes(arch) / 1024
        assert kb == pytest.approx(published, rel=0.01)
        tokens = (240 // patch) ** 2 + 1
        assert kb == pytest.approx(mcuformer_proxy_sram(d, tokens, 4, rho) / 1024)


def test_board_presets_match_the_reference() -> None:
    kb = {name: (b.sram_bytes // 1024, b.flash_bytes // 1024) for name, b in MCU_BOARDS.items()}
    assert kb == {"stm32f427": (256, 1024), "stm32f746": (320, 1024), "stm32h743": (512, 2048)}


def test_inplace_and_fusion_lower_the_peak() -> None:
    arch = vit(64, 2, 4, 32)
    fused = MCUMemoryModel().peak_sram_bytes(arch)
    plain = MCUMemoryModel(inplace=False).peak_sram_bytes(arch)
    assert fused < plain


def test_peak_is_the_largest_step_of_the_schedule() -> None:
    model = MCUMemoryModel()
    steps = model.schedule(vit(64, 2, 4, 32))
    assert steps[0][0] == "patch_embed" and steps[-1][0] == "head"
    assert model.peak_sram_bytes(vit(64, 2, 4, 32)) == max(live for _, live in steps)


def test_patch_size_and_dtype_scale_the_peak() -> None:
    model = MCUMemoryModel()
    # 16 tokens at patch 8 against 64 at patch 4 on a 32 px image.
    assert model.peak_sram_bytes(vit(64, 2, 8, 32)) < model.peak_sram_bytes(vit(64, 2, 4, 32))
    int8 = model.peak_sram_bytes(vit(64, 2, 4, 32))
    assert MCUMemoryModel(dtype="float32").peak_sram_bytes(vit(64, 2, 4, 32)) == 4 * int8


def test_staged_weights_add_memory_and_low_rank_shrinks_them() -> None:
    staged = MCUMemoryModel(stage_weights=True)
    dense, low = vit(128, 2, 4, 32), vit(128, 2, 4, 32, rank_ratio=0.25)
    assert staged.peak_sram_bytes(dense) > MCUMemoryModel().peak_sram_bytes(dense)
    assert staged.peak_sram_bytes(low) < staged.peak_sram_bytes(dense)


@pytest.mark.parametrize("name", sorted(MIXERS))
def test_every_mixer_has_a_schedule(name: str) -> None:
    peak = MCUMemoryModel().peak_sram_bytes(text([layer(32, MIXERS[name])]))
    assert peak >= 16 * 32


def test_flash_counts_weights_plus_code_and_low_rank_shrinks_it() -> None:
    model = MCUMemoryModel("stm32h743")
    dense, low = vit(128, 2, 4, 32), vit(128, 2, 4, 32, rank_ratio=0.25)
    out = model(dense)
    assert out["flash_kb"] * 1024 == space.count_params(dense) + model.code_bytes
    assert model(low)["flash_kb"] < out["flash_kb"]
    assert out["mcu_latency_ms"] > 0


def test_bad_options_state_the_rule() -> None:
    with pytest.raises(EvaluatorError, match="stm32f746"):
        MCUMemoryModel("esp32")._board()
    with pytest.raises(EvaluatorError, match="dtype"):
        MCUMemoryModel(dtype="int4").peak_sram_bytes(text())
    with pytest.raises(EvaluatorError, match="proxy"):
        MCUMemoryModel(proxy="magic").peak_sram_bytes(text())
