"""Real training tasks: data, the model input they fix, and how they are scored.

Every task is seeded and generated (or loaded) on the CPU: scikit-learn digits, LRA ListOps,
multi-query associative recall, and byte-level language modelling on the Python standard
library's own source files.
"""

from __future__ import annotations

import math
import sysconfig
from abc import ABC
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evaluators._errors import EvaluatorError

IGNORE = -100


class BaseTask(ABC):
    """A dataset and the input/head it imposes on an architecture.

    ``check(arch)`` refuses an architecture whose input, ``task`` or ``num_classes`` differ
    from the task's, ``adapt(arch)`` returns the architecture dict with the task's (the layers
    come from the architecture), ``batch(rng, n)`` draws training examples and
    ``validation()`` yields fixed validation batches. Targets are class ids
    ``(B,)`` for classification and next-token ids ``(B, L)`` with ``IGNORE`` where unscored
    for language modelling.
    """

    name: str
    kind: str  # "classify" or "lm"

    @abstractmethod
    def input_spec(self, arch: dict[str, Any]) -> dict[str, Any]:
        """The ``input`` entry of an adapted architecture."""

    @abstractmethod
    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` training examples."""

    @abstractmethod
    def validation(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Fixed validation batches."""

    num_classes: int = 0

    def check(self, arch: dict[str, Any]) -> None:
        """Raise ``EvaluatorError`` naming both sides if ``arch`` is not built for this task:
        training it here would score another model than the one the cost models price."""
        adapted = self.adapt(arch)
        if all(arch.get(key) == adapted.get(key) for key in ("input", "task", "num_classes")):
            return
        raise EvaluatorError(
            f"Task {self.name!r} trains on {describe_head(adapted)}, but the architecture has "
            f"{describe_head(arch)}. Build the space for the task ({constructor(adapted)}), or "
            "pass adapt=True to train every architecture on the task's input and head instead "
            "(other evaluators still see the space's)."
        )

    def adapt(self, arch: dict[str, Any]) -> dict[str, Any]:
        a = dict(arch)
        a["input"] = self.input_spec(arch)
        if self.kind == "classify":
            a.update(task="classify", causal=False,
                     num_classes=self.num_classes, pool=a.get("pool", "cls"))
        else:
            a.update(task="lm", causal=True)
            a.pop("num_classes", None)
            a.pop("pool", None)
        return a


def describe_head(arch: dict[str, Any]) -> str:
    """An architecture's input and head in words: "image 8×8×1 (patch 4), 10 classes"."""
    inp = arch.get("input") or {}
    if inp.get("type") == "image":
        size = inp.get("image_size")
        shown = f"image {size}×{size}×{inp.get('channels')} (patch {inp.get('patch')})"
    elif inp.get("type") == "tokens":
        shown = f"tokens (vocabulary {inp.get('vocab')}, length {inp.get('seq_len')})"
    else:
        shown = f"input {inp!r}"
    if arch.get("task") == "lm":
        return f"{shown}, language modelling"
    return f"{shown}, {arch.get('num_classes')} classes"


def constructor(arch: dict[str, Any]) -> str:
    """The DSL call that declares an architecture's input and head."""
    inp = arch["input"]
    if inp["type"] == "image":
        made = f"input=patches({inp['image_size']}, {inp['patch']}, {inp['channels']})"
    else:
        made = f"input=tokens({inp['vocab']}, {inp['seq_len']})"
    if arch["task"] == "lm":
        return f"{made}, task='lm'"
    return f"{made}, num_classes={arch['num_classes']}"


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.as_tensor(x[i:i + size]), torch.as_tensor(y[i:i + size]))
            for i in range(0, len(x), size)]


class DigitsTask(BaseTask):
    """scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes) for a ViT over patches.

    A fixed seeded split keeps ``validation_fraction`` of the images for validation. Pixels are
    scaled to [0, 1]. The patch size comes from the architecture (2 by default).
    """

    name, kind, num_classes = "digits", "classify", 10

    def __init__(self, validation_fraction: float = 0.2, seed: int = 0) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)[:, None]
        y = digits.target.astype(np.int64)
        order = np.random.default_rng(seed).permutation(len(y))
        n_val = int(len(y) * validation_fraction)
        self._val = (x[order[:n_val]], y[order[:n_val]])
        self._train = (x[order[n_val:]], y[order[n_val:]])

    def input_spec(self, arch: dict[str, Any]) -> dict[str, Any]:
        inp = arch.get("input", {})
        patch = inp.get("patch", 2) if inp.get("type") == "image" else 2
        if 8 % patch:
            raise EvaluatorError(
                f"The digits task has 8×8 images, so input.patch must divide 8; got {patch}. "
                "Use 1, 2, 4 or 8."
            )
        return {"type": "image", "image_size": 8, "channels": 1, "patch": patch}

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = rng.integers(0, len(self._train[1]), n)
        return torch.as_tensor(self._train[0][idx]), torch.as_tensor(self._train[1][idx])

    def validation(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return _batches(*self._val, 256)


# ListOps tokens: 0 pads, digits 0-9 are 1-10, then the operators and the closing bracket.
_LISTOPS_OPS = ("[MIN", "[MAX", "[MED", "[SM")
_LISTOPS_CLOSE = 15
LISTOPS_VOCAB = 16


class _TooLong(Exception):
    pass


def _listops_tree(rng: np.random.Generator, depth: int, max_depth: int, max_args: int,
                  op_p: float, budget: list[int]) -> Any:
    """A random expression by LRA's ``generate_tree`` rules: below the top, an argument is an
    operator with probability ``op_p`` (LRA's VALUE_P = 0.25) while depth allows, else a digit;
    operators take 2..max_args arguments. ``budget`` counts tokens left; running out aborts."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooLong
    if depth > 0 and (depth >= max_depth or rng.random() >= op_p):
        return int(rng.integers(0, 10))
    op = int(rng.integers(0, len(_LISTOPS_OPS)))
    n_args = int(rng.integers(2, max_args + 1))
    budget[0] -= 1  # the closing bracket
    return (op, [_listops_tree(rng, depth + 1, max_depth, max_args, op_p, budget)
                 for _ in range(n_args)])


def listops_value(tree: Any) -> int:
    """MIN, MAX, MED (the lower median, as LRA's integer median) and SM (sum modulo 10)."""
    if isinstance(tree, int):
        return tree
    op, args = tree
    values = sorted(listops_value(a) for a in args)
    if op == 0:
        return values[0]
    if op == 1:
        return values[-1]
    if op == 2:
        return int(np.median(values))
    return sum(values) % 10


def listops_tokens(tree: Any) -> list[int]:
    if isinstance(tree, int):
        return [tree + 1]
    op, args = tree
    return [11 + op, *[t for a in args for t in listops_tokens(a)], _LISTOPS_CLOSE]


class ListOpsTask(BaseTask):
    """LRA ListOps (Nangia & Bowman; Tay et al.): evaluate a nested list expression, 10 classes.

    Generated by LRA's rules (operators MIN, MAX, MED, SM; up to ``max_args`` arguments; depth
    up to ``max_depth``; an argument is an operator with probability ``op_p``), keeping
    expressions of at most ``max_len`` tokens (≤ 512; LRA keeps 500-2,000), left-aligned and
    zero-padded. The published benchmark uses max_depth 10, max_args 10; ``small()`` is a short
    configuration for tests. Brackets of the original text are dropped: ``]`` closes each
    operator, so the expression stays unambiguous.
    """

    name, kind, num_classes = "listops", "classify", 10

    def __init__(self, max_len: int = 512, max_depth: int = 10, max_args: int = 10,
                 op_p: float = 0.25, n_validation: int = 1000, seed: int = 0) -> None:
        if not 1 <= max_len <= 512:
            raise EvaluatorError(f"ListOps max_len must be in [1, 512]; got {max_len}.")
        self.max_len, self.max_depth, self.max_args, self.op_p = (
            max_len, max_depth, max_args, op_p)
        self._val = self._sample(np.random.default_rng([seed, 1]), n_validation)

    @classmethod
    def small(cls, seed: int = 0) -> ListOpsTask:
        return cls(max_len=32, max_depth=2, max_args=4, op_p=0.5, n_validation=512, seed=seed)

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros((n, self.max_len), dtype=np.int64)
        y = np.zeros(n, dtype=np.int64)
        i = 0
        while i < n:
            try:
                tree = _listops_tree(rng, 0, self.max_depth, self.max_args, self.op_p,
                                     [self.max_len])
            except _TooLong:
                continue
            tokens = listops_tokens(tree)
            x[i, :len(tokens)] = tokens
            y[i] = listops_value(tree)
            i += 1
        return x, y

    def input_spec(self, arch: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tokens", "vocab": LISTOPS_VOCAB, "seq_len": self.max_len}

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._sample(rng, n)
        return torch.as_tensor(x), torch.as_tensor(y)

    def validation(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return _batches(*self._val, 256)


class AssociativeRecallTask(BaseTask):
    """Multi-query associative recall (Zoology's MQAR): ``pairs`` key-value pairs, then the
    keys again in a random order; the model must emit each key's value.

    Keys are tokens 0..keys-1, values keys..keys+values-1. It is a causal LM scored only at the
    query positions (accuracy = share of values recalled; chance = 1/values).
    """

    name, kind = "mqar", "lm"

    def __init__(self, pairs: int = 8, keys: int = 32, values: int = 32,
                 queries: int | None = None, n_validation: int = 512, seed: int = 0) -> None:
        if pairs > keys:
            raise EvaluatorError(f"MQAR needs pairs <= keys; got pairs={pairs}, keys={keys}.")
        self.pairs, self.keys, self.values = pairs, keys, values
        self.queries = queries or pairs
        self._val = self._sample(np.random.default_rng([seed, 1]), n_validation)

    @property
    def seq_len(self) -> int:
        return 2 * self.pairs + self.queries

    def _sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        k = np.argsort(rng.random((n, self.keys)), axis=1)[:, :self.pairs]
        v = rng.integers(self.keys, self.keys + self.values, (n, self.pairs))
        q = np.argsort(rng.random((n, self.pairs)), axis=1)[:, :self.queries]
        qk = np.take_along_axis(k, q, axis=1)
        qv = np.take_along_axis(v, q, axis=1)
        x = np.concatenate([np.stack([k, v], axis=2).reshape(n, -1), qk], axis=1)
        y = np.full_like(x, IGNORE)
        y[:, 2 * self.pairs:] = qv
        return x.astype(np.int64), y.astype(np.int64)

    def input_spec(self, arch: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tokens", "vocab": self.keys + self.values, "seq_len": self.seq_len}

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self._sample(rng, n)
        return torch.as_tensor(x), torch.as_tensor(y)

    def validation(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return _batches(*self._val, 256)


def stdlib_files() -> list[Path]:
    """Top-level ``.py`` files of this Python's standard library, sorted by name."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.glob("*.py") if p.is_file())


class StdlibLMTask(BaseTask):
    """Byte-level language modelling on the standard library's own source (vocabulary 256).

    Files are split once by name: every ``validation_every``-th file (sorted order) is
    validation, so no file contributes to both. Training draws random windows of ``seq_len``
    bytes; validation scores ``n_validation`` fixed windows. Metrics: loss (nats per byte),
    perplexity, accuracy (next-byte).
    """

    name, kind = "stdlib-lm", "lm"

    def __init__(self, seq_len: int = 128, validation_every: int = 10, n_validation: int = 256,
                 max_bytes: int = 4_000_000, seed: int = 0) -> None:
        files = stdlib_files()
        if not files:
            raise EvaluatorError(
                "No standard-library sources found under sysconfig.get_paths()['stdlib']; the "
                "stdlib-lm task needs a Python installed with its .py files."
            )
        train = [f for i, f in enumerate(files) if i % validation_every]
        val = [f for i, f in enumerate(files) if not i % validation_every]
        self.seq_len = seq_len
        self._train = self._read(train, max_bytes)
        val_bytes = self._read(val, max_bytes // validation_every)
        rng = np.random.default_rng([seed, 1])
        starts = rng.integers(0, len(val_bytes) - seq_len - 1, n_validation)
        self._val = self._windows(val_bytes, starts)

    @staticmethod
    def _read(files: list[Path], limit: int) -> np.ndarray:
        chunks, total = [], 0
        for f in files:
            data = f.read_bytes()
            chunks.append(data)
            total += len(data)
            if total >= limit:
                break
        return np.frombuffer(b"".join(chunks)[:limit], dtype=np.uint8).astype(np.int64)

    def _windows(self, data: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = starts[:, None] + np.arange(self.seq_len + 1)
        w = data[idx]
        return w[:, :-1], w[:, 1:]

    def input_spec(self, arch: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tokens", "vocab": 256, "seq_len": self.seq_len}

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        starts = rng.integers(0, len(self._train) - self.seq_len - 1, n)
        x, y = self._windows(self._train, starts)
        return torch.as_tensor(x), torch.as_tensor(y)

    def validation(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return _batches(*self._val, 64)

    def unigram_perplexity(self) -> float:
        """Perplexity of the training byte frequencies on validation: the bar to beat."""
        counts = np.bincount(self._train, minlength=256) + 1.0
        logp = np.log(counts / counts.sum())
        y = self._val[1].ravel()
        return math.exp(-logp[y].mean())


TASKS = {
    "digits": DigitsTask,
    "listops": ListOpsTask,
    "mqar": AssociativeRecallTask,
    "stdlib-lm": StdlibLMTask,
}


def make_task(task: str | BaseTask, **options: Any) -> BaseTask:
    if isinstance(task, BaseTask):
        return task
    if task not in TASKS:
        raise EvaluatorError(f"Unknown task {task!r}. Must be one of {sorted(TASKS)}.")
    return TASKS[task](**options)
