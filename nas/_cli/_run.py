"""``nas run SPEC``: import a spec file, apply command-line overrides and run its study."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import signal
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from typing import Any

from nas._cli._parser import positive_int
from nas._cli._signals import ignore_interrupts
from nas._errors import UserError

if TYPE_CHECKING:
    import storage


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser(
        "run",
        help="run a study from a spec file",
        description="Run the study a spec file defines (module-level `study`, or any nas.Study "
        "in it with --study). A study that already has trials in the database continues where "
        "it stopped.",
    )
    parser.add_argument("spec", metavar="SPEC", help="Python file defining `study`")
    parser.add_argument("--trials", type=positive_int,
                        help="total finished trials (overrides the spec)")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="trials at once (default 2)")
    parser.add_argument("--address", help="join this Ray cluster (host:port or 'auto')")
    parser.add_argument("--searcher", help="searcher name (overrides the spec)")
    parser.add_argument("--seed", type=int, default=0, help="searcher seed (default 0)")
    parser.add_argument("--resume", action="store_true", help="require the study to exist")
    parser.add_argument("--allow-changes", action="store_true",
                        help="continue a stored study whose constraints or searcher changed "
                        "(the change is recorded)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="run the spec's `quick_study`")
    which.add_argument("--study", metavar="NAME",
                       help="run the spec's nas.Study of this name (its `name`, or the variable)")
    parser.add_argument("--quiet", action="store_true", help="no live progress line")
    parser.add_argument("--dashboard", action="store_true",
                        help="serve the live dashboard beside the run (127.0.0.1) and print its "
                        "URL")
    add_common(parser)
    parser.set_defaults(handler=_run)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> int:
    # SIGTERM stops a run as Ctrl-C does at every moment, from the first import on (exit 130);
    # the caller's handler comes back after, for `main()` called in-process (tests, notebooks).
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        return _run_study(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_study(args: argparse.Namespace) -> int:
    import nas
    import storage
    from nas._cli import storage_url

    # A malformed URL or an unsupported backend fails in a second, not after the spec's
    # imports and Ray's start-up.
    storage.sqlite_file(storage_url(args))
    study = pick_study(load_spec(args.spec), args)
    overrides = {k: v for k, v in (("trials", args.trials), ("searcher", args.searcher))
                 if v is not None}
    if overrides:
        study = study.replace(**overrides)
    dashboard = _start_dashboard(storage_url(args)) if args.dashboard else None
    try:
        result = nas.run(study, storage=storage_url(args), workers=args.workers,
                         seed=args.seed, address=args.address, resume=args.resume,
                         quiet=args.quiet,
                         spec_source=Path(args.spec).read_text(errors="replace"),
                         allow_changes=args.allow_changes)
    finally:
        if dashboard is not None:
            dashboard.terminate()
            dashboard.wait(10)
    # Every result is stored: an interrupt now would only cut the report short.
    ignore_interrupts()
    if args.json:
        print(json.dumps({"study": result.study, "complete": result.complete,
                          "failed": result.failed, "pruned": result.pruned,
                          "seconds": result.seconds,
                          "best": [t.to_json() for t in result.best]}, default=str))
    else:
        print(f"{result.study}: {result.complete} complete, {result.failed} failed, "
              f"{result.pruned} pruned in {result.seconds:.1f} s -> {result.storage}")
        _print_best(args, study, result.best)
    if not result.complete:
        # Exit 3: the run worked, the search found nothing (contract.md).
        if result.infeasible is not None:
            print(f"nas run: no trial of {result.study!r} completed: {result.infeasible}; "
                  "loosen those constraints or widen the space toward smaller models.",
                  file=sys.stderr)
        else:
            print(f"nas run: no trial of {result.study!r} completed ({result.failed} failed, "
                  f"{result.pruned} pruned): see `nas trials {result.study}` for their "
                  "errors, then fix evaluate or loosen the constraints.", file=sys.stderr)
        return 3
    return 0


def _start_dashboard(url: str) -> Any:
    """The dashboard's process, started beside the run; the URL goes to stderr so --json output
    stays one JSON document."""
    import storage
    from nas._dashboard import start_beside

    # The dashboard reads through a read-only connection, which needs the schema to exist.
    storage.connect(url).close()
    process, address = start_beside(url)
    print(f"nas run: dashboard at {address} (stops with the run)", file=sys.stderr, flush=True)
    return process


def pick_study(module: ModuleType, args: argparse.Namespace) -> Any:
    """The spec's ``study``, ``quick_study`` (``--quick``) or the study ``--study`` names."""
    import nas

    found = {attr: value for attr, value in vars(module).items()
             if isinstance(value, nas.Study) and not attr.startswith("_")}
    if args.study is not None:
        for study in found.values():
            if study.name == args.study:
                return study
        if args.study in found:
            return found[args.study]
        listed = ", ".join(f"{s.name!r} (`{attr}`)" for attr, s in found.items()) or "none"
        raise UserError(
            f"Spec {args.spec} has no nas.Study named {args.study!r}; it defines {listed}. "
            "Give one of those names to --study."
        )
    attr = "quick_study" if args.quick else "study"
    study = getattr(module, attr, None)
    if study is None:
        fix = ("Define a small variant `quick_study = study.replace(trials=..., ...)` or drop "
               "--quick." if args.quick else "Define `study = nas.Study(...)` at module level"
               + (f" or pick one of {sorted(s.name for s in found.values())} with --study."
                  if found else "."))
        raise UserError(f"Spec {args.spec} has no module-level `{attr}`. {fix}")
    if not isinstance(study, nas.Study):
        raise UserError(
            f"Spec {args.spec}: `{attr}` must be a nas.Study; got {type(study).__name__}."
        )
    return study


def _print_best(args: argparse.Namespace, study: Any, best: list[storage.TrialRecord]) -> None:
    """The Pareto front (several objectives) or the top trials, then the best architecture."""
    if not best:
        return
    from nas._cli._read import emit

    first, direction = next(iter(study.objectives.items()))
    # The objectives only: `nas trials` and `nas best` show every metric.
    shown = [dataclasses.replace(t, metrics={k: t.metrics[k] for k in study.objectives
                                             if k in t.metrics}) for t in best]
    emit(args, shown, title="Pareto front" if len(study.objectives) > 1 else "best trials")
    top = (max if direction == "max" else min)(best, key=lambda t: t.metrics[first])
    print(f"best by {first}: trial {top.number} (id {top.id}; "
          f"`nas export {top.id} -o best.json` saves it)")
    print(describe(top.arch))


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
    from nas._ship import ship_folder

    ship_folder(folder)
    return module
