"""Query commands: `nas studies`, `trials`, `best`, `pareto`, `export` and `db upgrade`.

None of them imports torch, Ray or Optuna, and the read-only ones never create a database.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from nas._cli._output import check_output
from nas._cli._output import write_output
from nas._cli._parser import positive_int
from nas._cli._parser import trial_id
from nas._cli._read import emit
from nas._cli._read import open_existing
from nas._cli._read import print_json
from nas._cli._read import show
from nas._cli._read import shown_url
from nas._cli._read import table
from nas._errors import UserError

if TYPE_CHECKING:
    import storage

# The trial states of the storage schema (storage.TRIAL_STATES), spelled out so that parsing
# the command line never imports storage.
TRIAL_STATES = ("QUEUED", "RUNNING", "COMPLETE", "FAILED", "PRUNED")

# Axis labels with units for the metric names evaluators produce (docs/interfaces.md §5).
LABELS = {
    "latency_ms": "latency (ms)",
    "sram_kb": "peak SRAM (kB)",
    "flash_kb": "flash (kB)",
    "mpc_ms": "MPC latency (ms)",
    "mpc_mb": "MPC communication (MB)",
    "mpc_rounds": "MPC rounds",
    "params": "parameters (count)",
    "flops": "FLOPs (count)",
    "accuracy": "accuracy (0-1)",
    "loss": "loss",
    "perplexity": "perplexity",
    "train_s": "training time (s)",
}


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser("studies", help="list the studies in the database")
    add_common(parser)
    parser.set_defaults(handler=_studies)

    parser = sub.add_parser(
        "trials", help="list a study's trials",
        description="List a study's trials with their metrics and, for failed ones, the last "
        "line of the error (--json has the whole text; --csv writes one row per trial).",
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--state", choices=TRIAL_STATES, help="only trials in STATE")
    parser.add_argument("--csv", action="store_true",
                        help="print CSV: one row per trial, one column per metric")
    add_common(parser)
    parser.set_defaults(handler=_trials)

    parser = sub.add_parser(
        "best",
        help="the best completed trials that meet the study's constraints",
        description="Rank COMPLETE trials that meet the study's constraints by one objective.",
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--top", type=positive_int, default=5, metavar="K",
                        help="how many (default 5)")
    parser.add_argument(
        "--objective",
        metavar="NAME",
        help="metric to rank by (default: the study's first objective); NAME:min or NAME:max "
        "for a metric that is not an objective",
    )
    parser.add_argument(
        "--where",
        metavar="EXPR",
        help="filter such as 'latency_ms < 5 and params <= 1e6': comparisons of metric names "
        "with numbers, and/or, parentheses; at most 1000 characters, 32 comparisons and 16 "
        "nested parentheses",
    )
    add_common(parser)
    parser.set_defaults(handler=_best)

    parser = sub.add_parser(
        "pareto", help="the Pareto front of the completed trials that meet the constraints"
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument(
        "--objective",
        action="append",
        metavar="NAME",
        help="an objective to trade off (repeat; default: all of the study's objectives)",
    )
    parser.add_argument("--plot", metavar="FILE.png", help="draw the first two objectives")
    parser.add_argument("--force", action="store_true", help="replace an existing --plot file")
    add_common(parser)
    parser.set_defaults(handler=_pareto)

    parser = sub.add_parser(
        "export",
        help="write a trial's architecture as JSON (input of `nas predict`), or its model as "
        "a weights file, ONNX or TorchScript",
        description="Write the architecture of trial TRIAL (its global id, see `nas trials`) to "
        "FILE.json as its to_dict() form, and the trial itself (metrics, state, study) to "
        "FILE.trial.json beside it. With --format pt, onnx or torchscript, write the built "
        "model instead (its seed-0 initialisation, or with --weights the weights its training "
        "kept: TrainEvaluator(keep_weights=True)); ONNX and TorchScript files are checked "
        "against the PyTorch module. Existing files are replaced only with --force, and never "
        "a database or a link.",
    )
    parser.add_argument("trial", type=trial_id, metavar="TRIAL", help="global trial id")
    parser.add_argument("-o", "--output", required=True, metavar="FILE")
    parser.add_argument("--format", choices=("json", "pt", "onnx", "torchscript"),
                        default="json", help="what to write (default json)")
    parser.add_argument(
        "--weights", action="store_true",
        help="the weights the trial's training kept (TrainEvaluator(keep_weights=True)), else "
        "those it inherits from a one-shot study's supernet: in the model file, or with json "
        "as FILE.pt beside it (a state dict space.build(arch) loads)",
    )
    parser.add_argument("--force", action="store_true", help="replace existing files")
    add_common(parser)
    parser.set_defaults(handler=_export)

    parser = sub.add_parser("db", help="database maintenance")
    db_sub = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to this release's schema")
    add_common(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _studies(args: argparse.Namespace) -> int:
    with open_existing(args) as db:
        studies = db.studies()
    if args.json:
        print_json([study.to_json() for study in studies])
        return 0
    states = list(TRIAL_STATES)
    out = table("studies", ["name", "objectives", "constraints", "trials", *states])
    for study in studies:
        out.add_row(
            study.name,
            ", ".join(f"{name} ({d})" for name, d in study.objectives.items()),
            ", ".join(f"{c['metric']} {c['op']} {c['bound']:g}" for c in study.constraints),
            str(study.trials),
            *(str(study.counts[state]) for state in states),
        )
    show(out)
    if not studies:
        print(f"no studies (storage: {shown_url(args)})", file=sys.stderr)
    return 0


def _trials(args: argparse.Namespace) -> int:
    if args.csv and args.json:
        raise UserError("--csv and --json both choose the output format; give one of them.")
    with open_existing(args) as db:
        trials = db.trials(args.study, state=args.state)
    if args.csv:
        import storage

        columns, rows = storage.trial_table(trials)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
        return 0
    which = f" in state {args.state}" if args.state else ""
    emit(args, trials, title=f"trials of {args.study}",
         empty=f"study {args.study!r} has no trials{which}")
    return 0


def _best(args: argparse.Namespace) -> int:
    with open_existing(args) as db:
        trials = db.best(args.study, k=args.top, objective=args.objective, where=args.where)
    where = f" and --where {args.where!r}" if args.where else ""
    emit(args, trials, title=f"best trials of {args.study}",
         empty=f"no COMPLETE trial of study {args.study!r} meets its constraints{where}")
    return 0


def _pareto(args: argparse.Namespace) -> int:
    plot = None if args.plot is None else check_output(args.plot, force=args.force,
                                                       option="--plot")
    with open_existing(args) as db:
        trials = db.pareto(args.study, objectives=args.objective)
        if plot is not None:
            _plot(db.pareto_points(args.study, objectives=args.objective), plot, args)
    emit(args, trials, title=f"Pareto front of {args.study}",
         empty=f"no COMPLETE trial of study {args.study!r} meets its constraints")
    return 0


def _export(args: argparse.Namespace) -> int:
    if args.format != "json":
        from nas._cli._export import export_model

        return export_model(args)
    target = check_output(args.output, force=args.force)
    sidecar = check_output(target.with_suffix(".trial.json"), force=args.force,
                           option="the trial file")
    weights = check_output(target.with_suffix(".pt"), force=args.force,
                           option="the weights file") if args.weights else None
    with open_existing(args) as db:
        trial = db.trial(args.trial)
        arch_json = db.architecture_json(trial.arch_id)
        if weights is not None:
            _export_weights(db, trial, weights, args.force)
    write_output(target, arch_json + "\n", force=args.force)
    write_output(sidecar, json.dumps(trial.to_json(), indent=2) + "\n", force=args.force,
                 option="the trial file")
    if args.json:
        print_json(
            {
                "trial": trial.number,
                "id": trial.id,
                "arch_id": trial.arch_id,
                "architecture": str(target),
                "metadata": str(sidecar),
                **({"weights": str(weights)} if weights is not None else {}),
            }
        )
    else:
        print(f"wrote trial {trial.id}'s architecture to {target} and its metrics to {sidecar}"
              + (f", its weights to {weights}" if weights is not None else ""))
    return 0


def _export_weights(db: Any, trial: storage.TrialRecord, path: Path, force: bool) -> None:
    """The trial's weights as a state dict ``space.build(arch)`` loads."""
    from nas._artifacts import state_bytes
    from nas._artifacts import trial_weights

    write_output(path, state_bytes(trial_weights(db, trial)), force=force,
                 option="the weights file")


def _upgrade(args: argparse.Namespace) -> int:
    import storage
    from nas._cli import storage_url

    url = storage_url(args)
    old, new = storage.upgrade(url)
    if args.json:
        print_json({"storage": storage.safe_url(url), "from": old, "to": new})
    elif old == new:
        print(f"schema is already at {new}")
    else:
        print(f"upgraded schema from {old or '(empty database)'} to {new}")
    return 0


def _plot(points: dict[str, Any], path: Any, args: argparse.Namespace) -> None:
    study = args.study
    if len(points["objectives"]) < 2:
        raise UserError(
            f"--plot needs two objectives; study {study!r} has {points['objectives']}. "
            f"Add one with --objective NAME:min or NAME:max."
        )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values, front = points["values"], points["front"]
    (x, y), (dx, dy) = points["objectives"][:2], points["directions"][:2]
    figure, axes = plt.subplots(figsize=(6, 4.5))
    axes.scatter(values[~front, 0], values[~front, 1], c="0.7", s=14, label="dominated")
    on = values[front]
    on = on[on[:, 0].argsort()]
    # With more than two objectives the front is not a curve in the first two, so no line.
    style = "o-" if len(points["objectives"]) == 2 else "o"
    axes.plot(on[:, 0], on[:, 1], style, c="tab:red", ms=5, label="Pareto front")
    axes.set_xlabel(f"{LABELS.get(x, x)}, {'higher' if dx == 'max' else 'lower'} is better")
    axes.set_ylabel(f"{LABELS.get(y, y)}, {'higher' if dy == 'max' else 'lower'} is better")
    axes.set_title(f"{study}: {int(front.sum())} of {len(front)} feasible trials on the front")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    image = io.BytesIO()
    try:
        figure.savefig(image, format=path.suffix.lstrip(".") or "png", dpi=120)
    except ValueError as exc:
        raise UserError(
            f"--plot {str(path)!r}: {exc}. Use a .png, .pdf or .svg file name."
        ) from exc
    finally:
        plt.close(figure)
    write_output(path, image.getvalue(), force=args.force, option="--plot")
