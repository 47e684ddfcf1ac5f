"""Autotune configurations: data pruned by head dim, one small tile under the interpreter."""

from __future__ import annotations

import pytest

from kernels import _autotune


@pytest.mark.parametrize("head_dim", [16, 32, 64, 128])
def test_every_head_dim_keeps_a_tile(head_dim: int) -> None:
    tiles = _autotune.QUADRATIC_TILES
    assert any(_autotune.keep_tile(m, n, stages, head_dim) for m, n, _, stages in tiles)


def test_big_tiles_are_pruned_at_head_dim_128_only() -> None:
    big = (128, 64, 3)
    assert _autotune.keep_tile(*big, 64)
    assert not _autotune.keep_tile(*big, 128)


def test_prune_hook_reads_head_dim_from_keyword_arguments(monkeypatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    configs = _autotune.tile_configs()
    assert len(configs) == len(_autotune.QUADRATIC_TILES)
    kept64 = _autotune.prune_tiles(configs, {}, HEAD_DIM=64)
    kept128 = _autotune.prune_tiles(configs, {}, HEAD_DIM=128)
    assert len(kept128) < len(kept64) == len(configs)
    chunks = _autotune.chunk_configs()
    assert all(c.kwargs["CHUNK"] <= 32 for c in _autotune.prune_chunks(chunks, {}, HEAD_DIM=128))


def test_interpreter_uses_one_small_tile(monkeypatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert [c.kwargs for c in _autotune.tile_configs()] == [{"BLOCK_M": 32, "BLOCK_N": 16}]
    assert [c.kwargs for c in _autotune.chunk_configs()] == [{"CHUNK": 16}]
