"""``nas run SPEC``: import a spec file, apply command-line overrides and run its study."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from nas._errors import UserError


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser(
        "run",
        help="run a study from a spec file",
        description="Run the study a spec file defines (module-level `study`). A study that "
        "already has trials in the database continues where it stopped.",
    )
    parser.add_argument("spec", metavar="SPEC", help="Python file defining `study`")
    parser.add_argument("--trials", type=int, help="total finished trials (overrides the spec)")
    parser.add_argument("--workers", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--address", help="join this Ray cluster (host:port or 'auto')")
    parser.add_argument("--searcher", help="searcher name (overrides the spec)")
    parser.add_argument("--seed", type=int, default=0, help="searcher seed (default 0)")
    parser.add_argument("--resume", action="store_true", help="require the study to exist")
    parser.add_argument("--quick", action="store_true", help="run the spec's `quick_study`")
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    add_common(parser)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    import nas
    from nas._cli import storage_url

    module = load_spec(args.spec)
    attr = "quick_study" if args.quick else "study"
    study = getattr(module, attr, None)
    if study is None:
        fix = ("Define a small variant `quick_study = study.replace(trials=..., ...)` or drop "
               "--quick." if args.quick else "Define `study = nas.Study(...)` at module level.")
        raise UserError(f"Spec {args.spec} has no module-level `{attr}`. {fix}")
    if not isinstance(study, nas.Study):
        raise UserError(
            f"Spec {args.spec}: `{attr}` must be a nas.Study; got {type(study).__name__}."
        )
    overrides = {k: v for k, v in (("trials", args.trials), ("searcher", args.searcher))
                 if v is not None}
    if overrides:
        study = study.replace(**overrides)
    result = nas.run(study, storage=storage_url(args), workers=args.workers, seed=args.seed,
                     address=args.address, resume=args.resume, quiet=args.quiet)
    if args.json:
        print(json.dumps({"study": result.study, "complete": result.complete,
                          "failed": result.failed, "pruned": result.pruned,
                          "seconds": result.seconds, "best": result.best}, default=str))
    else:
        print(f"{result.study}: {result.complete} complete, {result.failed} failed, "
              f"{result.pruned} pruned in {result.seconds:.1f} s -> {result.storage}")
        _print_best(args, study, result.best)
    return 0


def _print_best(args: argparse.Namespace, study: Any, best: list[dict[str, Any]]) -> None:
    """The Pareto front (several objectives) or the top trials, then the best architecture."""
    if not best:
        return
    from nas._cli._read import emit

    first, direction = next(iter(study.objectives.items()))
    # The objectives only: `nas trials` and `nas best` show every metric.
    shown = [{**t, "metrics": {k: t["metrics"][k] for k in study.objectives if k in t["metrics"]}}
             for t in best]
    emit(args, shown, title="Pareto front" if len(study.objectives) > 1 else "best trials")
    top = (max if direction == "max" else min)(best, key=lambda t: t["metrics"][first])
    print(f"best by {first}: trial {top['trial']} (id {top['id']}; "
          f"`nas export {top['id']} -o best.json` saves it)")
    print(describe(top["arch"]))


def describe(arch: dict[str, Any]) -> str:
    """A transformer architecture one line per layer; any other architecture as JSON."""
    if arch.get("family") != "transformer":
        return json.dumps(arch, sort_keys=True)
    inp = arch["input"]
    lines = [f"  input: {inp['type']} "
             + ", ".join(f"{k} {v}" for k, v in inp.items() if k != "type")]
    for i, layer in enumerate(arch["layers"]):
        mixer = layer["mixer"]
        if mixer["type"] == "heads":
            kinds = "+".join(h["type"] for h in mixer["heads"])
            mix = f"heads [{kinds}] of {mixer['heads'][0]['head_dim']}"
        else:
            params = {k: v for k, v in mixer.items() if k not in ("type", "head_dim")}
            mix = mixer["type"] + "".join(f" {k}={v}" for k, v in params.items())
        rank = f", rank ratio {layer['rank_ratio']}" if layer["rank_ratio"] is not None else ""
        lines.append(f"  layer {i}: width {layer['width']}, {mix}, ffn {layer['ffn']}, "
                     f"{layer['activation']}, {layer['norm']}{rank}")
    return "\n".join(lines)


def load_spec(path: str) -> ModuleType:
    """Import a spec file by path; any failure becomes one clear UserError.

    As with ``python SPEC``, the spec's folder goes on ``sys.path`` so it can import its
    neighbours (``from spaces import flexibert``). The spec and the neighbours it imports are
    pickled by value, so Ray workers, which cannot import them by name, get what they define.
    """
    file = Path(path)
    if not file.is_file():
        raise UserError(f"Spec file {path} does not exist. Give the path of a .py file.")
    folder = file.resolve().parent
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    name = f"nas_spec_{abs(hash(file.resolve()))}"
    loader_spec = importlib.util.spec_from_file_location(name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise UserError(f"Spec file {path} cannot be imported as Python. Give a .py file.")
    module = importlib.util.module_from_spec(loader_spec)
    known = set(sys.modules)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserError(
            f"Spec {path} raised {type(exc).__name__} on import: {str(exc).rstrip('.')}. "
            "Fix the spec "
            "(run it with `python SPEC` to see the traceback, or add --debug)."
        ) from exc
    import ray.cloudpickle

    for new in set(sys.modules) - known:
        source = getattr(sys.modules[new], "__file__", None)
        if source is not None and Path(source).resolve().is_relative_to(folder):
            ray.cloudpickle.register_pickle_by_value(sys.modules[new])
    return module
