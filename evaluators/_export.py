"""Trained weights as files, and a built model in the formats deployment engineers run.

Weights files (``hetnas.weights/1``) hold the architecture the weights belong to (after a task's
``adapt``, which may differ from the trial's) beside its state dict; their sha256 goes in the
``artifacts`` table. ``export_model`` writes a model as a weights file, ONNX or TorchScript and
checks the written file against the PyTorch module on the example input.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

import space
from evaluators._errors import EvaluatorError
from evaluators._latency import fast_dict

EXPORT_FORMATS = ("pt", "onnx", "torchscript")
WEIGHTS_FORMAT = "hetnas.weights/1"
WEIGHTS_SUFFIX = ".weights.pt"
#: Largest |exported − torch| / max |torch| over the example input that an export may have.
TOLERANCE = 1e-4
# ONNX opset: 17 has LayerNormalization, which every norm of the space maps to.
_OPSET = 17


def artifact_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where trials' files go: ``root``, else ``$NAS_ARTIFACTS``, else ``./artifacts``;
    absolute, so a worker with another working directory writes to the same place."""
    return Path(root or os.environ.get("NAS_ARTIFACTS") or "artifacts").resolve()


def _weights_bytes(arch: Any, state_dict: Mapping[str, torch.Tensor]) -> bytes:
    buf = io.BytesIO()
    torch.save({"format": WEIGHTS_FORMAT, "arch": fast_dict(arch),
                "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}, buf)
    return buf.getvalue()


def save_weights(arch: Any, state_dict: Mapping[str, torch.Tensor],
                 root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Write a weights file under ``artifact_root(root)/weights``, named by the architecture
    and the content's hash, so equal weights share one file and none is ever overwritten.

    Returns:
        ``{"path", "sha256"}`` for ``Database.add_artifact``.
    """
    data = _weights_bytes(arch, state_dict)
    digest = hashlib.sha256(data).hexdigest()
    folder = artifact_root(root) / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    name = space.Architecture(fast_dict(arch)).id[:16]
    path = folder / f"{name}-{digest[:16]}{WEIGHTS_SUFFIX}"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return {"path": str(path), "sha256": digest}


def load_weights(path: str | os.PathLike[str],
                 sha256: str | None = None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """The architecture and state dict of a weights file, checked against ``sha256``.

    Raises:
        EvaluatorError: the file is missing, altered since it was recorded, or not a weights
            file.
    """
    p = Path(path)
    if not p.is_file():
        raise EvaluatorError(f"The weights file {p} does not exist (moved or deleted?).")
    data = p.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise EvaluatorError(
            f"The weights file {p} changed since it was recorded (sha256 differs); it is "
            "not the trained model any more. Train the trial again to get its weights."
        )
    blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        raise EvaluatorError(f"{p} is not a hetnas weights file ({WEIGHTS_FORMAT}).")
    return blob["arch"], blob["state_dict"]


def build_model(arch: Any, state_dict: Mapping[str, torch.Tensor] | None = None,
                seed: int = 0) -> torch.nn.Module:
    """``space.build(arch)`` in eval mode, with ``state_dict`` loaded when given."""
    model = space.build(fast_dict(arch), seed=seed).eval()
    if state_dict is not None:
        model.load_state_dict(dict(state_dict))
    return model


def export_model(arch: Any, path: str | os.PathLike[str], fmt: str, *,
                 state_dict: Mapping[str, torch.Tensor] | None = None,
                 batch_size: int = 1) -> dict[str, Any]:
    """Write ``arch`` (with ``state_dict``, else its seed-0 initialisation) to ``path``.

    ``pt`` is a weights file (``load_weights``); ``onnx`` goes through ``torch.onnx.export``
    (batch axis dynamic) and ``onnx.checker``; ``torchscript`` is traced. The ONNX and
    TorchScript files are run on the example input (ONNX with ONNX Runtime when it is
    installed) and compared with the module.

    Returns:
        ``{"path", "format", "max_rel_error"}`` (``None`` where nothing could run the file).

    Raises:
        EvaluatorError: an unknown format, a missing ``onnx`` package, or an exported model
            whose outputs differ from the module's by more than ``TOLERANCE``.
    """
    if fmt not in EXPORT_FORMATS:
        raise EvaluatorError(
            f"Unknown export format {fmt!r}. Must be one of {list(EXPORT_FORMATS)}."
        )
    out = Path(path)
    if fmt == "pt":
        model = build_model(arch, state_dict)
        out.write_bytes(_weights_bytes(arch, model.state_dict()))
        return {"path": str(out), "format": fmt, "max_rel_error": 0.0}
    model = build_model(arch, state_dict)
    x = model.example_input(batch_size)
    with torch.no_grad():
        reference = model(x).numpy()
    if fmt == "onnx":
        got = _onnx(model, x, out)
    else:
        with warnings.catch_warnings():
            # Tracing warns about every Python-level shape check; the comparison below is the
            # check that matters.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(model, (x,), check_trace=False)
        traced.save(str(out))
        with torch.no_grad():
            got = torch.jit.load(str(out))(x).numpy()
    error = None if got is None else _rel_error(got, reference)
    if error is not None and error > TOLERANCE:
        raise EvaluatorError(
            f"The {fmt} export of this architecture differs from the PyTorch module by "
            f"{error:.2e} (relative, over {TOLERANCE:g}); not written as a faithful export."
        )
    return {"path": str(out), "format": fmt, "max_rel_error": error}


def onnx_bytes(model: torch.nn.Module, x: torch.Tensor) -> bytes:
    """``model`` as a checked ONNX model (input ``input``, output ``output``, batch dynamic).

    Raises:
        EvaluatorError: the ``onnx`` package is not installed.
    """
    try:
        import onnx
    except ImportError as exc:
        raise EvaluatorError(
            "ONNX export needs the onnx package: pip install 'hetnas[onnx]' (onnx, onnxruntime)."
        ) from exc
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The exporter warns about every Python-level shape check it freezes.
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, dynamo=False, opset_version=_OPSET,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    data = buf.getvalue()
    onnx.checker.check_model(onnx.load_from_string(data))
    return data


def _onnx(model: torch.nn.Module, x: torch.Tensor, out: Path) -> np.ndarray | None:
    data = onnx_bytes(model, x)
    out.write_bytes(data)
    return onnx_run(data, x.numpy())


def onnx_session(model: str | os.PathLike[str] | bytes, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on ``threads`` intra-op threads, ops run one at a time.

    Raises:
        EvaluatorError: onnxruntime is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise EvaluatorError(
            "This needs ONNX Runtime: pip install 'hetnas[onnx]' (onnx, onnxruntime)."
        ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_run(model: str | os.PathLike[str] | bytes, x: np.ndarray) -> np.ndarray | None:
    """The ONNX model's output on ``x`` by ONNX Runtime on one CPU thread (None without
    onnxruntime)."""
    try:
        session = onnx_session(model)
    except EvaluatorError:
        return None
    return session.run(None, {"input": x})[0]


def _rel_error(got: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(got - reference).max() / max(float(np.abs(reference).max()), 1e-12))
