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
sys.path.insert(0, str(_HERE.parent))
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
    ("softmax 4x8", "softmax", [(4, 8)]),
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


def mpcvit_archs(n: int) -> list[dict]:
    from studies.mpcvit import space

    return [space.sample(seed=i).to_dict() for i in range(n)]


def model_arch_costs(archs: list[dict]) -> dict[str, dict[str, float]]:
    """The model's count per architecture, and the rounds if the head groups of a layer ran
    one after another (as the CrypTen forward here runs them) instead of side by side."""
    from evaluators import _mpc
    from evaluators import _mpc_ops as ops
    from evaluators._schema import head_groups

    out = {}
    for i, a in enumerate(archs):
        cost = ops.total(list(_mpc.mpc_breakdown(a).values()))
        serial = cost.rounds
        for layer in a["layers"]:
            rounds = []
            for kind, h, d, p in head_groups(layer["mixer"], layer["width"]):
                group = _mpc._Ledger()
                _mpc._group_cost(group, kind, 1, h, d, 17, p, False)
                rounds.append(sum(c.rounds for c in group.values()))
            serial += sum(rounds) - max(rounds)
        out[f"arch {i}"] = {"rounds": cost.rounds, "serial_rounds": serial,
                            "bytes": cost.bytes}
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
ARCHS = json.loads(sys.argv[3])


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


def enc(*shape):
    return crypten.cryptensor(torch.randn(*shape) * 0.1)


def layernorm(x, cols):
    centred = x - x.mean(-1, keepdim=True)
    inv = (centred.square().mean(-1, keepdim=True) + 1e-5).inv_sqrt()
    return centred * inv * enc(cols)


def arch_forward(a):
    """The MPCViT-space model (patches, heads of softmax/relu/scale kind, pre-norm, GeLU FFN,
    class token) in CrypTen ops, everything secret but the public scalings; head groups of one
    kind are batched, groups run one after another."""
    inp, layers = a["input"], a["layers"]
    d = layers[0]["width"]
    n_patch = (inp["image_size"] // inp["patch"]) ** 2
    x = enc(n_patch, inp["patch"] ** 2 * inp["channels"]).matmul(enc(inp["patch"] ** 2
                                                                     * inp["channels"], d))
    x = crypten.cat([enc(1, d), x], dim=0)
    s = n_patch + 1
    for layer in layers:
        h = layernorm(x, d)
        qkv = h.matmul(enc(d, 3 * d))
        heads = layer["mixer"]["heads"]
        hd = heads[0]["head_dim"]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(s, len(heads), hd).transpose(0, 1)
                   for i in range(3))
        outs = [None] * len(heads)
        for kind in dict.fromkeys(hh["type"] for hh in heads):
            idx = [i for i, hh in enumerate(heads) if hh["type"] == kind]
            qi, ki, vi = (t[idx] for t in (q, k, v))
            scores = qi.matmul(ki.transpose(1, 2)) * (1.0 / hd ** 0.5)
            if kind == "softmax":
                attn = scores.softmax(-1)
            elif kind == "relu":
                r = scores.relu()
                attn = r * r.sum(-1, keepdim=True).reciprocal()
            else:
                attn = scores * (1.0 / s)
            o = attn.matmul(vi)
            for j, i in enumerate(idx):
                outs[i] = o[j]
        mixed = crypten.stack(outs, dim=0).transpose(0, 1).reshape(s, d)
        x = x + mixed.matmul(enc(d, d))
        h = layernorm(x, d)
        f = layer["ffn"][0]
        h = h.matmul(enc(d, f))
        inner = (h + h.square() * h * 0.044715) * 0.7978845608
        h = h * (inner.tanh() + 1) * 0.5
        x = x + h.matmul(enc(f, d))
    x = layernorm(x, d)
    return x[0:1].matmul(enc(d, a["num_classes"]))


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
    for i, a in enumerate(ARCHS):
        comm.get().reset_communication_stats()
        start = time.perf_counter()
        arch_forward(a)
        seconds = time.perf_counter() - start
        stats = comm.get().get_communication_stats()
        results.append({"name": f"arch {i}", "rounds": stats["rounds"],
                        "bytes": stats["bytes"] / 2, "seconds": seconds})
    if comm.get().get_rank() == 0:
        with open(OUT, "w") as f:
            json.dump(results, f)


parties()
'''


def crypten_costs(python: Path, archs: list[dict]) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "crypten.json"
        subprocess.run([str(python), "-c", _CHILD, json.dumps(CASES), str(out),
                        json.dumps(archs)], check=True, env=_child_env(), cwd=tmp)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10,
                        help="random architectures of the MPCViT study space")
    args = parser.parse_args()
    python = ensure_venv()
    archs = mpcvit_archs(args.archs)
    model = {**model_costs(), **model_arch_costs(archs)}
    start = time.perf_counter()
    measured = crypten_costs(python, archs)
    print(f"CrypTen 0.4.1, 2 parties on loopback ({time.perf_counter() - start:.0f} s); bytes: "
          "one party's sends")
    print(f"{'op':<24} {'rounds':>7} {'model':>6} {'bytes':>10} {'model':>10} {'Δ bytes':>8} "
          f"{'seconds':>8}")
    for row in measured:
        m = model[row["name"]]
        diff = 100 * (m["bytes"] / row["bytes"] - 1) if row["bytes"] else float("nan")
        rounds = m.get("serial_rounds", m["rounds"])
        print(f"{row['name']:<24} {row['rounds']:7.0f} {rounds:6.0f} {row['bytes']:10.0f} "
              f"{m['bytes']:10.0f} {diff:+7.2f}% {row['seconds']:8.3f}")
    print("arch i: random architectures of studies/mpcvit.py's space, batch 1; their model "
          "rounds are with the head groups of a layer in sequence, as this CrypTen forward runs "
          "them (the cost model lets groups share rounds: "
          + ", ".join(f"{model[f'arch {i}']['rounds']:.0f}" for i in range(len(archs)))
          + ").")


if __name__ == "__main__":
    main()
