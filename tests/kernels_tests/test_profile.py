"""``kernels.profile``: the record schema of docs/interfaces.md §3 and the grids."""

from __future__ import annotations

import pytest

import kernels
import kernels._profile
from kernels._profile_ops import OPS
from kernels._profile_ops import grid
from tests._vocabulary import TRACE_OPS


def test_every_trace_op_is_profiled_with_its_shape_keys() -> None:
    assert set(OPS) == set(TRACE_OPS)
    for op, keys in TRACE_OPS.items():
        for name in ("quick", "full"):
            shapes = grid(op, name)
            assert shapes and all(set(s) == keys for s in shapes), (op, name)
    for s in grid("attention", "full"):
        # space.trace emits window None for every kind but "window".
        assert (s["window"] is None) == (s["kind"] != "window"), s


def test_quick_grid_has_enough_points() -> None:
    total = sum(len(grid(op, "quick")) for op in OPS)
    assert total >= 200
    kinds = {s["kind"] for s in grid("attention", "quick")}
    assert kinds == set(kernels.ATTENTION_KINDS)
    for op in ("linear",):
        for axis in ("m", "k", "n"):
            assert len({s[axis] for s in grid(op, "quick")}) >= 3, axis


def test_records_follow_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every op on two small shapes of its grid keeps the test at seconds.
    monkeypatch.setattr(kernels._profile, "grid_shapes", lambda op, name: _small(op, name))
    records = kernels.profile("cpu", grid="quick")
    assert {r["op"] for r in records} == set(TRACE_OPS)
    assert len(records) == sum(len(_small(op, "quick")) for op in TRACE_OPS)
    for r in records:
        assert set(r) == {
            "device", "op", "shape", "dtype", "median_ms", "spread", "repeats", "threads",
            "clock", "noisy", "software", "hardware", "measured_at",
        }
        assert r["clock"] == "thread-cpu" and r["noisy"] == (r["spread"] > kernels.NOISY)
        assert r["device"] == "cpu" and r["dtype"] == "float32"
        assert r["median_ms"] > 0 and r["spread"] >= 0 and r["repeats"] >= 5
        assert r["threads"] == kernels._profile.CPU_THREADS
        assert set(r["software"]) == {"torch", "triton", "python"}
        assert r["hardware"]["cpu"] and r["hardware"]["gpu"] is None
        assert r["measured_at"].endswith("Z")


def _small(op: str, name: str) -> list[dict]:
    def size(shape: dict) -> int:
        return max(v for v in shape.values() if isinstance(v, int) and not isinstance(v, bool))

    shapes = sorted(grid(op, name), key=size)
    return shapes[:1] + [s for s in shapes if s.get("kind") == "window"][:1]


def test_threads_are_set_while_measuring_and_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(kernels._profile, "grid_shapes", lambda op, name: _small(op, name)[:1])
    torch.set_num_threads(1)
    records = kernels.profile("cpu", ops=["add"], threads=2)
    assert [r["threads"] for r in records] == [2]
    assert torch.get_num_threads() == 1
    with pytest.raises(kernels.KernelError, match="threads must be a positive integer; got 0"):
        kernels.profile("cpu", ops=["add"], threads=0)


def test_bad_arguments() -> None:
    with pytest.raises(kernels.KernelError, match="Unknown profile op"):
        kernels.profile("cpu", ops=["gemm"])
    with pytest.raises(kernels.KernelError, match="Unknown profile grid"):
        kernels.profile("cpu", ops=["gelu"], grid="tiny")
    with pytest.raises(kernels.KernelError, match="Unknown profile device"):
        kernels.profile("tpu")


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(kernels.KernelUnavailableError, match="needs a CUDA GPU"):
        kernels.profile("cuda")
