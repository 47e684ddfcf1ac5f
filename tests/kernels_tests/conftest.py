"""Kernel tests run the Triton kernels: on a GPU when there is one, else under the interpreter.

``TRITON_INTERPRET`` is read when ``@triton.jit`` decorates a kernel, so the kernel modules are
imported here with it set. It is set per test (not for the session) because ``kernels.attention``
also reads it at call time, and other packages' tests must keep the fast torch path.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator

import pytest
import torch

GPU = torch.cuda.is_available()
KERNEL_MODULES = ("kernels.softmax.function", "kernels.score.function", "kernels.linear.function")


def _import_kernels() -> None:
    if GPU:
        for name in KERNEL_MODULES:
            importlib.import_module(name)
        return
    before = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        for name in KERNEL_MODULES:
            importlib.import_module(name)
    finally:
        if before is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = before


_import_kernels()


@pytest.fixture
def device(monkeypatch: pytest.MonkeyPatch) -> str:
    """Where the Triton kernels run: ``cuda``, or ``cpu`` under ``TRITON_INTERPRET=1``."""
    if GPU:
        return "cuda"
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    return "cpu"


@pytest.fixture(autouse=True)
def _poison_empty(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fill every ``torch.empty``/``empty_like`` float buffer with NaN, so an output element a
    kernel forgets to write fails the comparison instead of passing by luck."""
    empty, empty_like = torch.empty, torch.empty_like

    def poisoned(t: torch.Tensor) -> torch.Tensor:
        if t.is_floating_point():
            t.fill_(float("nan"))
        return t

    monkeypatch.setattr(torch, "empty", lambda *a, **k: poisoned(empty(*a, **k)))
    monkeypatch.setattr(torch, "empty_like", lambda *a, **k: poisoned(empty_like(*a, **k)))
    yield
