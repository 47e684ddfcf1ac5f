"""``nas profile``: measures through ``kernels.profile`` and stores through ``storage``."""

from __future__ import annotations

import json

import pytest
import torch

import storage
from kernels._profile_ops import grid
from nas._cli import main


def test_profile_stores_records_and_prints_the_spread(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main(["profile", "--device", "cpu", "--quick", "--ops", "gelu,layernorm",
                 "--storage", url]) == 0
    expected = len(grid("gelu", "quick")) + len(grid("layernorm", "quick"))
    out = capsys.readouterr().out
    assert f"stored {expected} profile records for cpu" in out
    assert "median spread" in out
    rows = storage.connect(url).profiles("cpu")
    assert len(rows) == expected
    assert {r["op"] for r in rows} == {"gelu", "layernorm"}


def test_profile_json(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main(["profile", "--device", "cpu", "--quick", "--ops", "relu", "--json",
                 "--storage", url]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["records"] == len(grid("relu", "quick"))
    assert report["median_spread"] >= 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has a GPU")
def test_cuda_without_gpu_is_a_user_error(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main(["profile", "--device", "cuda", "--quick", "--storage", url]) == 1
    err = capsys.readouterr().err
    assert "needs a CUDA GPU" in err and len(err.strip().splitlines()) == 1


def test_unknown_op_is_a_user_error(tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert main(["profile", "--device", "cpu", "--ops", "gemm", "--storage", url]) == 1
    assert "Unknown profile op(s) ['gemm']" in capsys.readouterr().err
