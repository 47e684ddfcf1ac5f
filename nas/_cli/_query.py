"""Query commands: `nas studies`, `trials`, `best`, `pareto`, `export` and `db upgrade`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import storage
from nas._errors import UserError

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

    parser = sub.add_parser("trials", help="list a study's trials")
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--state", choices=storage.TRIAL_STATES, help="only trials in STATE")
    add_common(parser)
    parser.set_defaults(handler=_trials)

    parser = sub.add_parser(
        "best",
        help="the best completed trials that meet the study's constraints",
        description="Rank COMPLETE trials that meet the study's constraints by one objective.",
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="how many (default 5)")
    parser.add_argument(
        "--objective",
        metavar="NAME",
        help="metric to rank by (default: the study's first objective); NAME:min or NAME:max "
        "for a metric that is not an objective",
    )
    parser.add_argument(
        "--where",
        metavar="EXPR",
        help="filter such as 'latency_ms < 5 and params <= 1e6' (comparisons of metric names "
        "with numbers, and/or, parentheses)",
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
    add_common(parser)
    parser.set_defaults(handler=_pareto)

    parser = sub.add_parser(
        "export",
        help="write a trial's architecture as JSON (input of `nas predict`)",
        description="Write the architecture of trial TRIAL (its global id, see `nas trials`) to "
        "FILE.json as its to_dict() form, and the trial itself (metrics, state, study) to "
        "FILE.trial.json beside it.",
    )
    parser.add_argument("trial", type=int, metavar="TRIAL", help="global trial id")
    parser.add_argument("-o", "--output", required=True, metavar="FILE.json")
    add_common(parser)
    parser.set_defaults(handler=_export)

    parser = sub.add_parser("db", help="database maintenance")
    db_sub = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = db_sub.add_parser("upgrade", help="migrate the database to this release's schema")
    add_common(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _connect(args: argparse.Namespace) -> storage.Database:
    from nas._cli import storage_url

    try:
        return storage.connect(storage_url(args))
    except storage.StorageError as exc:
        raise UserError(str(exc)) from exc


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _studies(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        studies = db.studies()
    if args.json:
        _print_json(studies)
        return 0
    from rich.table import Table

    table = Table(title="studies")
    for column in ("name", "objectives", "constraints", "trials", *storage.TRIAL_STATES):
        table.add_column(
            column, justify="right" if column.isupper() or column == "trials" else "left"
        )
    for study in studies:
        table.add_row(
            study["name"],
            ", ".join(f"{name} ({d})" for name, d in study["objectives"].items()),
            ", ".join(f"{c['metric']} {c['op']} {c['bound']:g}" for c in study["constraints"]),
            str(study["trials"]),
            *(str(study["counts"][state]) for state in storage.TRIAL_STATES),
        )
    _show(table)
    return 0


def _trials(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        trials = db.trials(args.study, state=args.state)
    _emit(args, trials, title=f"trials of {args.study}")
    return 0


def _best(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        trials = db.best(args.study, k=args.top, objective=args.objective, where=args.where)
    _emit(args, trials, title=f"best trials of {args.study}")
    return 0


def _pareto(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        trials = db.pareto(args.study, objectives=args.objective)
        if args.plot:
            _plot(db.pareto_points(args.study, objectives=args.objective), args.plot, args.study)
    _emit(args, trials, title=f"Pareto front of {args.study}")
    return 0


def _export(args: argparse.Namespace) -> int:
    with _connect(args) as db:
        trial = db.trial(args.trial)
        arch_json = db.architecture_json(trial["arch_id"])
    target = Path(args.output)
    sidecar = target.with_suffix(".trial.json")
    try:
        target.write_text(arch_json + "\n")
        sidecar.write_text(json.dumps(trial, indent=2) + "\n")
    except OSError as exc:
        raise UserError(
            f"Cannot write the export to {str(target)!r}: {exc.strerror}. Choose a writable path."
        ) from exc
    if args.json:
        _print_json(
            {
                "trial": trial["trial"],
                "id": trial["id"],
                "arch_id": trial["arch_id"],
                "architecture": str(target),
                "metadata": str(sidecar),
            }
        )
    else:
        print(f"wrote trial {trial['id']}'s architecture to {target} and its metrics to {sidecar}")
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    from nas._cli import storage_url

    url = storage_url(args)
    try:
        old, new = storage.upgrade(url)
    except storage.StorageError as exc:
        raise UserError(str(exc)) from exc
    if args.json:
        _print_json({"storage": url, "from": old, "to": new})
    elif old == new:
        print(f"schema is already at {new}")
    else:
        print(f"upgraded schema from {old or '(empty database)'} to {new}")
    return 0


def _emit(args: argparse.Namespace, trials: list[dict[str, Any]], *, title: str) -> None:
    if args.json:
        _print_json(trials)
        return
    from rich.table import Table

    names = sorted({name for t in trials for name in t["metrics"]})
    table = Table(title=title)
    for column in ("trial", "id", "state", "arch_id", *names):
        table.add_column(column, justify="left" if column in ("state", "arch_id") else "right")
    for t in trials:
        values = [f"{t['metrics'][n]:.6g}" if n in t["metrics"] else "" for n in names]
        table.add_row(str(t["trial"]), str(t["id"]), t["state"], t["arch_id"], *values)
    _show(table)
    if not trials:
        print("no trials", file=sys.stderr)


def _show(table: Any) -> None:
    from rich.console import Console

    Console(width=max(100, Console().width)).print(table)


def _plot(points: dict[str, Any], path: str, study: str) -> None:
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
    try:
        figure.savefig(path, dpi=120)
    except OSError as exc:
        raise UserError(f"Cannot write the plot to {path!r}: {exc.strerror}.") from exc
    finally:
        plt.close(figure)
