"""The MPC cost model's per-op counts against real CrypTen 2-party runs on loopback.

Installs CrypTen 0.4.1 into its own virtual environment under .cache/crypten if it is missing
(``pip install --no-deps crypten`` plus omegaconf and pyyaml; torch, onnx and scipy come from
this interpreter's site-packages, so torch stays at the installed 2.13.0), then runs each op
family in CrypTen's real 2-party protocol (two processes, gloo over loopback) with communication
counting on, and prints CrypTen's rounds, bytes one party sends (CrypTen's counter holds both
directions of each exchange: half of it) and seconds beside ``evaluators._mpc_ops``.

CrypTen imports ``torch.onnx.symbolic_registry``, which torch no longer has; the child process
puts a stand-in module in ``sys.modules`` before the import instead of editing CrypTen.

    python benchmarks/mpc_crypten.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
VENV = _HERE.parent / ".cache" / "crypten"

# (name, CrypTen expression over secret x (and w), input shapes): one op family each.
CASES = [
    ("matmul 64x128·128x64", "matmul", [(64, 128), (128, 64)]),
    ("relu 4096", "relu", [(4096,)]),
    ("exp 4096", "exp", [(4096,)]),
    ("reciprocal 1024", "reciprocal", [(1024,)]),
    ("sigmoid 4096", "sigmoid", [(4096,)]),
    ("gelu (tanh form) 4096", "gelu", [(4096,)]),
    ("layernorm 65x192", "layernorm", [(65, 192), (192,)]),
    ("softmax 260x65", "softmax", [(260, 65)]),
    ("softmax 64x16", "softmax", [(64, 16)]),
    ("2ReLU 260x65", "relu_softmax", [(260, 65)]),
]


def model_costs() -> dict[str, dict[str, float]]:
    from evaluators import _mpc_ops as ops

    out = {}
    for name, kind, shapes in CASES:
        if kind == "matmul":
            (m, k), (_, n) = shapes
            cost = ops.matmul(1, m, k, n)
        elif kind in ("relu", "exp", "sigmoid", "gelu"):
            cost = getattr(ops, kind)(shapes[0][0])
        elif kind == "reciprocal":
            cost = ops.reciprocal(shapes[0][0], all_pos=False)
        elif kind == "layernorm":
            rows, cols = shapes[0]
            cost = ops.norm(rows, cols)
        elif kind == "softmax":
            cost = ops.softmax(*shapes[0])
        else:
            cost = ops.relu_softmax(*shapes[0])
        out[name] = {"rounds": cost.rounds, "bytes": cost.bytes}
    return out


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.util as u; import omegaconf; "
             "assert u.find_spec('crypten')"]
    if python.exists() and subprocess.run(probe, capture_output=True, env=_child_env(),
                                          check=False).returncode == 0:
        return python
    print(f"installing CrypTen into {VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)],
                   check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", "crypten==0.4.1"], check=True)
    subprocess.run([*pip, "omegaconf", "pyyaml"], check=True)
    # torch, onnx and scipy come from this interpreter; install them only if absent.
    for pkg, spec in (("torch", "torch==2.13.0"), ("onnx", "onnx"), ("scipy", "scipy")):
        if subprocess.run([str(python), "-c", f"import {pkg}"], capture_output=True,
                          check=False).returncode:
            subprocess.run([*pip, spec], check=True)
    return python


def _child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}


_CHILD = r'''
import json, sys, time, types
import torch
sys.modules.setdefault("torch.onnx.symbolic_registry",
                       types.ModuleType("torch.onnx.symbolic_registry"))
import crypten
import crypten.communicator as comm
from crypten import mpc

CASES = json.loads(sys.argv[1])
OUT = sys.argv[2]


def run(kind, xs):
    x = xs[0]
    if kind == "matmul":
        return x.matmul(xs[1])
    if kind in ("relu", "exp", "sigmoid"):
        return getattr(x, kind)()
    if kind == "reciprocal":
        return x.reciprocal()
    if kind == "gelu":
        inner = (x + x.square() * x * 0.044715) * 0.7978845608
        return x * (inner.tanh() + 1) * 0.5
    if kind == "layernorm":
        centred = x - x.mean(-1, keepdim=True)
        inv = (centred.square().mean(-1, keepdim=True) + 1e-5).inv_sqrt()
        return centred * inv * xs[1]
    if kind == "softmax":
        return x.softmax(-1)
    if kind == "relu_softmax":
        r = x.relu()
        return r * r.sum(-1, keepdim=True).reciprocal()
    raise KeyError(kind)


@mpc.run_multiprocess(world_size=2)
def parties():
    crypten.cfg.communicator.verbose = True
    crypten.init()
    torch.manual_seed(0)
    results = []
    for name, kind, shapes in CASES:
        xs = [crypten.cryptensor(torch.randn(*s) * 0.5 + (2.0 if kind == "reciprocal" else 0))
              for s in shapes]
        run(kind, xs)  # warm-up
        comm.get().reset_communication_stats()
        start = time.perf_counter()
        run(kind, xs)
        seconds = time.perf_counter() - start
        stats = comm.get().get_communication_stats()
        results.append({"name": name, "rounds": stats["rounds"], "bytes": stats["bytes"] / 2,
                        "seconds": seconds})
    if comm.get().get_rank() == 0:
        with open(OUT, "w") as f:
            json.dump(results, f)


parties()
'''


def crypten_costs(python: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "crypten.json"
        subprocess.run([str(python), "-c", _CHILD, json.dumps(CASES), str(out)], check=True,
                       env=_child_env(), cwd=tmp)
        return json.loads(out.read_text())


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    python = ensure_venv()
    model = model_costs()
    start = time.perf_counter()
    measured = crypten_costs(python)
    print(f"CrypTen 0.4.1, 2 parties on loopback ({time.perf_counter() - start:.0f} s); bytes: "
          "one party's sends")
    print(f"{'op':<24} {'rounds':>7} {'model':>6} {'bytes':>10} {'model':>10} {'Δ bytes':>8} "
          f"{'seconds':>8}")
    for row in measured:
        m = model[row["name"]]
        diff = 100 * (m["bytes"] / row["bytes"] - 1) if row["bytes"] else float("nan")
        print(f"{row['name']:<24} {row['rounds']:7.0f} {m['rounds']:6.0f} {row['bytes']:10.0f} "
              f"{m['bytes']:10.0f} {diff:+7.2f}% {row['seconds']:8.3f}")


if __name__ == "__main__":
    main()
