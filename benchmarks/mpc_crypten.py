"""The MPC cost model against real CrypTen 2-party runs: counts, and times on emulated links.

Installs CrypTen 0.4.1 into its own virtual environment under .cache/crypten if it is missing
(``pip install --no-deps crypten`` plus omegaconf and pyyaml; torch, onnx and scipy come from
this interpreter's site-packages, so torch stays at the installed 2.13.0). CrypTen imports
``torch.onnx.symbolic_registry``, which torch no longer has; each party puts a stand-in module
in ``sys.modules`` before the import instead of editing CrypTen.

Each party runs in its own network namespace; the two meet through a file store and talk gloo
over TCP through ``_netlink``'s emulated link (a userspace wire between two TUN devices: these
kernels have no netem). Three links: the bare wire (no delay, no pacing), a LAN (1 ms, 1 Gbit/s)
and a WAN (20 ms, 50 Mbit/s). Every op family and ``--archs`` random MPCViT-space architectures
run on each, with communication counting on; the script prints CrypTen's rounds and bytes (one
party's sends) beside ``evaluators._mpc_ops``, then fits the time constants (``fit_mpc_compute``
on the wire, ``fit_mpc_network`` per link) on the op families and the first half of the
architectures and prints predicted against measured seconds for all, the second half being the
check. The namespaces are removed on exit, Ctrl-C and SIGTERM included. Without root (``ip netns
add`` refused) it runs both parties on loopback and prints the counts only.

    sudo python benchmarks/mpc_crypten.py --archs 10
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
VENV = _HERE.parent / ".cache" / "crypten"

# benchmarks/ is off sys.path (its kernels.py and space.py would shadow the packages), so the
# link emulator beside this file is loaded by path.
_spec = importlib.util.spec_from_file_location("hetnas_bench_netlink", _HERE / "_netlink.py")
_netlink = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _netlink
_spec.loader.exec_module(_netlink)
DEVICE, EmulatedLink, Link = _netlink.DEVICE, _netlink.EmulatedLink, _netlink.Link
netns_unavailable = _netlink.netns_unavailable

from evaluators import MPC_NETWORKS  # noqa: E402
from evaluators import MPCNetwork  # noqa: E402
from evaluators import fit_mpc_compute  # noqa: E402
from evaluators import fit_mpc_network  # noqa: E402
from evaluators._mpc_ops import MPCCost  # noqa: E402

# The emulated links. The wire alone (no delay, no pacing) is the baseline that calibrates
# local compute; CrypTen spends about 2 ms of Python per round here, so a LAN's RTT is the
# smaller part of its time and a WAN's the larger.
# Link round trips per CrypTen round: every reveal is a gloo all_reduce, which for two ranks
# takes two exchanges (measured over a 20 ms link: all_reduce 40.8 ms, broadcast 20.4 ms).
ROUND_TRIPS = 2
LINKS = {
    "wire": Link("wire", 0.0, None),
    "lan": Link("lan", 1e-3, 125e6),  # 1 ms, 1 Gbit/s
    "wan": Link("wan", 20e-3, 6.25e6),  # 20 ms, 50 Mbit/s
}

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


def model_costs(archs: list[dict]) -> dict[str, MPCCost]:
    """The cost model's count of every case and architecture, as the CrypTen run performs it:
    the forward below runs a layer's head groups one after another."""
    from evaluators import _mpc_ops as ops
    from evaluators import mpc_breakdown

    out = {}
    for name, kind, shapes in CASES:
        if kind == "matmul":
            (m, k), (_, n) = shapes
            out[name] = ops.matmul(1, m, k, n)
        elif kind in ("relu", "exp", "sigmoid", "gelu"):
            out[name] = getattr(ops, kind)(shapes[0][0])
        elif kind == "reciprocal":
            out[name] = ops.reciprocal(shapes[0][0], all_pos=False)
        elif kind == "layernorm":
            out[name] = ops.norm(*shapes[0])
        elif kind == "softmax":
            out[name] = ops.softmax(*shapes[0])
        else:
            out[name] = ops.relu_softmax(*shapes[0])
    for i, a in enumerate(archs):
        out[f"arch {i}"] = ops.total(list(mpc_breakdown(a, heads_share_rounds=False).values()))
    return out


def shared_rounds(archs: list[dict]) -> list[float]:
    """The cost model's rounds when a layer's head groups share rounds (its default)."""
    from evaluators import MPCCostModel

    return [MPCCostModel("mpc-lan")(a)["mpc_rounds"] for a in archs]


def mpcvit_archs(n: int) -> list[dict]:
    from studies.mpcvit import space

    return [space.sample(seed=i).to_dict() for i in range(n)]


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
REPEATS = int(sys.argv[4])


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


SHARED = []  # the next forward's input and weights, secret-shared before its timer starts


def enc(*shape):
    if not SHARED:
        return crypten.cryptensor(torch.randn(*shape) * 0.1)
    tensor = SHARED.pop(0)
    assert tuple(tensor.size()) == shape, (tensor.size(), shape)
    return tensor


def share_inputs(a):
    """Secret-shares the image and every weight of ``a`` in the order arch_forward uses them:
    sharing happens before inference, so the timed forward leaves it out."""
    inp, layers = a["input"], a["layers"]
    d, patch_in = layers[0]["width"], inp["patch"] ** 2 * inp["channels"]
    shapes = [((inp["image_size"] // inp["patch"]) ** 2, patch_in), (patch_in, d), (1, d)]
    for layer in layers:
        f = layer["ffn"][0]
        shapes += [(d,), (d, 3 * d), (d, d), (d,), (d, f), (f, d)]
    shapes += [(d,), (d, a["num_classes"])]
    SHARED[:] = [crypten.cryptensor(torch.randn(*shape) * 0.1) for shape in shapes]


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


def timed(fn, repeats, setup=lambda: None):
    """Fewest seconds over ``repeats`` runs, each begun together by both parties after
    ``setup``; the counters of the last run (every run sends the same)."""
    best = float("inf")
    for _ in range(repeats):
        setup()
        comm.get().barrier()
        comm.get().reset_communication_stats()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    stats = comm.get().get_communication_stats()
    return {"rounds": stats["rounds"], "bytes": stats["bytes"] / 2, "seconds": best}


crypten.cfg.communicator.verbose = True
crypten.init()
torch.manual_seed(0)
results = []
for name, kind, shapes in CASES:
    xs = [crypten.cryptensor(torch.randn(*s) * 0.5 + (2.0 if kind == "reciprocal" else 0))
          for s in shapes]
    run(kind, xs)  # warm-up
    results.append({"name": name, **timed(lambda: run(kind, xs), REPEATS)})
for i, a in enumerate(ARCHS):
    results.append({"name": f"arch {i}", **timed(lambda: arch_forward(a), REPEATS,
                                                 lambda: share_inputs(a))})
    assert not SHARED, "arch_forward used fewer tensors than share_inputs made"
if comm.get().get_rank() == 0:
    with open(OUT, "w") as f:
        json.dump(results, f)
crypten.uninit()
'''


def _party_env(rank: int, rendezvous: str, interface: str) -> dict[str, str]:
    return {**_child_env(), "RANK": str(rank), "WORLD_SIZE": "2", "RENDEZVOUS": rendezvous,
            "DISTRIBUTED_BACKEND": "gloo", "GLOO_SOCKET_IFNAME": interface}


def run_parties(python: Path, archs: list[dict], repeats: int, nice: int,
                net: EmulatedLink | None = None) -> dict[str, dict]:
    """Both parties of the 2-party protocol, each in its own namespace of ``net`` (their only
    route to each other is the emulated link), or both on loopback. They meet through a file
    store, so the rendezvous needs no network; gloo's data connections then use the interface
    named by GLOO_SOCKET_IFNAME."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "crypten.json"
        argv = ["nice", "-n", str(nice), str(python), "-c", _CHILD, json.dumps(CASES), str(out),
                json.dumps(archs), str(repeats)]
        env = [_party_env(rank, f"file://{tmp}/rendezvous", DEVICE if net else "lo")
               for rank in (0, 1)]
        procs = []
        try:
            for rank in (0, 1):
                procs.append(subprocess.Popen(net.command(rank, argv) if net else argv,
                                              env=env[rank], cwd=tmp))
            # A party that dies leaves the other waiting on gloo for half an hour: watch both.
            while any(proc.poll() is None for proc in procs):
                failed = [proc.returncode for proc in procs if proc.poll()]
                if failed:
                    raise RuntimeError(f"a CrypTen party exited with status {failed[0]}; its "
                                       "traceback is above")
                time.sleep(0.2)
            if any(proc.returncode for proc in procs):
                raise RuntimeError("a CrypTen party failed; its traceback is above")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        return {row["name"]: row for row in json.loads(out.read_text())}


def print_counts(measured: dict[str, dict], model: dict[str, MPCCost], archs: list[dict]) -> None:
    print("bytes: one party's sends (CrypTen's counter holds both directions: half of it)")
    print(f"{'op':<24} {'rounds':>7} {'model':>6} {'bytes':>10} {'model':>10} {'Δ bytes':>8}")
    for name, row in measured.items():
        m = model[name]
        diff = 100 * (m.bytes / row["bytes"] - 1) if row["bytes"] else float("nan")
        print(f"{name:<24} {row['rounds']:7.0f} {m.rounds:6.0f} {row['bytes']:10.0f} "
              f"{m.bytes:10.0f} {diff:+7.2f}%")
    print("arch i: random architectures of studies/mpcvit.py's space, batch 1; their model "
          "rounds are with the head groups of a layer in sequence, as this CrypTen forward runs "
          "them (the cost model's default lets groups share rounds: "
          + ", ".join(f"{r:.0f}" for r in shared_rounds(archs)) + ").")


def calibrate(measured: dict[str, dict[str, dict]], model: dict[str, MPCCost],
              fit_names: list[str]) -> dict[str, MPCNetwork]:
    """Local constants from the unpaced wire, then RTT and bandwidth per link over them, all
    from the ``fit_names`` records only."""
    costs = [model[n] for n in fit_names]
    local = fit_mpc_compute("wire", costs,
                            [measured["wire"][n]["seconds"] for n in fit_names])
    nets = {"wire": local}
    for link in measured:
        if link != "wire":
            nets[link] = fit_mpc_network(
                f"crypten-{link}", costs, [measured[link][n]["seconds"] for n in fit_names],
                s_per_element=local.s_per_element, s_per_mac=local.s_per_mac)
    return nets


def _errors(net: MPCNetwork, measured: dict[str, dict], model: dict[str, MPCCost],
            names: list[str]) -> list[float]:
    return [100 * (sum(net.time_s(model[n])) / measured[n]["seconds"] - 1) for n in names]


def _summary(errors: list[float]) -> str:
    inside = sum(abs(e) <= 15 for e in errors)
    return (f"MAPE {sum(map(abs, errors)) / len(errors):5.1f}%, max |err| "
            f"{max(map(abs, errors)):5.1f}%, {inside}/{len(errors)} within ±15%")


def print_times(measured: dict[str, dict[str, dict]], model: dict[str, MPCCost],
                n_archs: int, loads: dict[str, tuple]) -> None:
    names = list(measured["wire"])
    ops_names = [n for n in names if not n.startswith("arch ")]
    fit_names = ops_names + [f"arch {i}" for i in range(n_archs // 2)]
    check_names = [n for n in names if n not in fit_names]
    nets = calibrate(measured, model, fit_names)
    local = nets["wire"]
    print(f"\nTimes: fewest seconds of the repeats; calibrated on the {len(fit_names)} fit "
          f"records (every op family, arch 0-{n_archs // 2 - 1}), checked on the "
          f"{len(check_names)} others.")
    print(f"wire (no delay, no pacing): {1e3 * local.rtt_s:.3f} ms local per round, "
          f"{1e9 * local.s_per_element:.2f} ns/element, {1e9 * local.s_per_mac:.3f} ns/MAC")
    for link, net in nets.items():
        if link != "wire":
            setting = LINKS[link]
            bandwidth = (f"{net.bandwidth_bytes_s / 1e6:.2f} MB/s" if net.bandwidth_bytes_s < 1e12
                         else "unbounded (the wire's per-element time covers the bytes)")
            print(f"{link}: link RTT {1e3 * setting.rtt_s:.3f} ms, "
                  f"{setting.rate_bytes_s / 1e6:.2f} MB/s; fitted per round "
                  f"{1e3 * net.rtt_s:.3f} ms ({ROUND_TRIPS} link RTTs + "
                  f"{1e3 * (net.rtt_s - ROUND_TRIPS * setting.rtt_s):.3f} ms), {bandwidth}")
    header = f"{'op / arch':<24} {'set':>5}"
    for link in nets:
        header += f" | {link + ' s':>8} {'model':>7} {'err':>6}"
    print(header)
    for name in names:
        line = f"{name:<24} {'fit' if name in fit_names else 'check':>5}"
        for link, net in nets.items():
            seconds = measured[link][name]["seconds"]
            predicted = sum(net.time_s(model[name]))
            line += f" | {seconds:8.3f} {predicted:7.3f} {100 * (predicted / seconds - 1):+5.1f}%"
        print(line)
    for link, net in nets.items():
        before, after = loads[link]
        print(f"{link:>4} fit:   {_summary(_errors(net, measured[link], model, fit_names))}")
        print(f"{link:>4} check: {_summary(_errors(net, measured[link], model, check_names))}"
              f"   (load average {before:.2f} before, {after:.2f} after)")
        if link != "wire":
            # No fit at all: the link's own settings over the wire's local constants.
            prior = MPCNetwork(link, ROUND_TRIPS * LINKS[link].rtt_s + local.rtt_s,
                               LINKS[link].rate_bytes_s, local.s_per_element, local.s_per_mac)
            errors = _errors(prior, measured[link], model, names)
            print(f"{link:>4} link settings ({ROUND_TRIPS} round trips a round) + wire "
                  f"constants, all records: {_summary(errors)}")
            preset = MPC_NETWORKS[f"mpc-crypten-{link}"]
            print(f"{link:>4} preset {preset.name} (fitted on an earlier run), all records: "
                  f"{_summary(_errors(preset, measured[link], model, names))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", type=int, default=10,
                        help="random architectures of the MPCViT study space")
    parser.add_argument("--links", default="lan,wan",
                        help=f"emulated links to time, comma-separated, of {sorted(LINKS)} "
                             "(the unpaced wire always runs: it calibrates local compute)")
    parser.add_argument("--repeats", default="wire=5,lan=5,wan=2",
                        help="timed runs of each op and architecture per link, LINK=N,...; the "
                             "fewest seconds count (fast links are noisier and cheap to repeat)")
    parser.add_argument("--nice", type=int, default=10,
                        help="niceness of the CrypTen parties (the wire keeps this process's)")
    args = parser.parse_args()
    links = ["wire", *(x for x in args.links.split(",") if x and x != "wire")]
    try:
        repeats = {k: int(v) for k, v in (item.split("=") for item in args.repeats.split(","))}
    except ValueError:
        repeats = {}
    unknown = [x for x in [*links, *repeats] if x not in LINKS]
    if unknown or args.archs < 2 or not repeats or min(repeats.values()) < 1:
        parser.error(f"--links and --repeats must name links of {sorted(LINKS)} (got "
                     f"{unknown or args.repeats}), --repeats as LINK=N with N >= 1, and "
                     "--archs must be >= 2 (half fit, half check)")
    # SIGTERM unwinds like Ctrl-C, so the namespaces' finally blocks run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    python = ensure_venv()
    archs = mpcvit_archs(args.archs)
    model = model_costs(archs)
    reason = netns_unavailable()
    start = time.perf_counter()
    if reason:
        measured = run_parties(python, archs, 1, args.nice)
        print(f"CrypTen 0.4.1, 2 parties on loopback ({time.perf_counter() - start:.0f} s); "
              f"no emulated links: {reason}")
        print_counts(measured, model, archs)
        return
    runs: dict[str, dict[str, dict]] = {}
    loads = {}
    for link in links:
        before = os.getloadavg()[0]
        t0 = time.perf_counter()
        with EmulatedLink(LINKS[link]) as net:
            runs[link] = run_parties(python, archs, repeats.get(link, 2), args.nice, net)
        loads[link] = (before, os.getloadavg()[0])
        print(f"{link}: {repeats.get(link, 2)} repeats, {time.perf_counter() - t0:.0f} s, load "
              f"average {before:.2f} -> "
              f"{loads[link][1]:.2f}", flush=True)
    print(f"\nCrypTen 0.4.1, 2 parties in two network namespaces joined by an emulated link "
          f"({time.perf_counter() - start:.0f} s in all)")
    print_counts(runs["wire"], model, archs)
    differ = [(link, n) for link in runs for n in runs[link]
              if (runs[link][n]["rounds"], runs[link][n]["bytes"])
              != (runs["wire"][n]["rounds"], runs["wire"][n]["bytes"])]
    print("counters equal on every link" if not differ else f"counters differ: {differ}")
    print_times(runs, model, args.archs, loads)


if __name__ == "__main__":
    main()
