"""Autotune configurations as data, pruned for the head dimension; Triton is imported lazily."""

from __future__ import annotations

from kernels._triton import interpret_mode

# (BLOCK_M, BLOCK_N, num_warps, num_stages) for kernels tiled over (query block, key block).
QUADRATIC_TILES = (
    (128, 64, 8, 3),
    (128, 32, 4, 3),
    (64, 64, 4, 3),
    (64, 32, 4, 2),
    (32, 32, 4, 2),
)
# The interpreter runs numpy per program and autotuning would run every config: one small,
# deliberately non-square tile keeps tests fast and exercises the edge masks of both axes.
INTERPRET_TILES = ((32, 16, 1, 1),)
# (CHUNK, num_warps, num_stages) for the chunked linear-attention scan. No 8-warp config: on an
# H100 (Triton 3.6) it read shared memory out of bounds in the causal chunk's tf32 dot at head
# dim 16 (compute-sanitizer, tests/kernels_tests/test_profile_grid.py).
CHUNK_TILES = ((64, 4, 2), (32, 4, 2))
INTERPRET_CHUNK_TILES = ((16, 1, 1),)


# Shared memory a tile may take: A100 has 164 KB per SM, and two programs should fit.
SHARED_MEMORY_BUDGET = 100 * 1024


def keep_tile(block_m: int, block_n: int, num_stages: int, head_dim: int) -> bool:
    """Whether a tile fits the shared-memory budget at ``head_dim`` (16-bit elements).

    The q tile is block_m × head_dim; the k and v tiles, block_n × head_dim each, are buffered
    ``num_stages`` deep by the software pipeline.
    """
    elements = (block_m + 2 * block_n * num_stages) * head_dim
    return 2 * elements <= SHARED_MEMORY_BUDGET


def keep_chunk(chunk: int, head_dim: int) -> bool:
    """Whether a chunk fits beside the head_dim × head_dim fp32 state: at head dim 128 the state
    alone is 64 KB, so chunks shrink to 32 rows."""
    return chunk * head_dim <= 64 * 64 or chunk <= 32


def tile_configs() -> list:
    import triton

    tiles = INTERPRET_TILES if interpret_mode() else QUADRATIC_TILES
    return [
        triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s)
        for m, n, w, s in tiles
    ]


def chunk_configs() -> list:
    import triton

    tiles = INTERPRET_CHUNK_TILES if interpret_mode() else CHUNK_TILES
    return [triton.Config({"CHUNK": c}, num_warps=w, num_stages=s) for c, w, s in tiles]


def prune_tiles(configs: list, named_args: dict, **kwargs) -> list:
    """``early_config_prune`` hook: keep the tiles ``keep_tile`` allows for this HEAD_DIM."""
    head_dim = kwargs.get("HEAD_DIM", named_args.get("HEAD_DIM"))
    kept = [
        c for c in configs
        if keep_tile(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_stages, head_dim)
    ]
    return kept or configs[-1:]


def prune_chunks(configs: list, named_args: dict, **kwargs) -> list:
    """``early_config_prune`` hook: keep the chunks ``keep_chunk`` allows for this HEAD_DIM."""
    head_dim = kwargs.get("HEAD_DIM", named_args.get("HEAD_DIM"))
    kept = [c for c in configs if keep_chunk(c.kwargs["CHUNK"], head_dim)]
    return kept or configs[-1:]
