"""`nas export --format pt|onnx|torchscript`: a trial's model as a file to deploy."""

from __future__ import annotations

import argparse
import json

from nas._cli._output import check_output
from nas._cli._read import open_existing
from nas._cli._read import print_json
from nas._errors import UserError


def export_model(args: argparse.Namespace) -> int:
    import evaluators

    target = check_output(args.output, force=args.force)
    with open_existing(args) as db:
        trial = db.trial(args.trial)
        arch = json.loads(db.architecture_json(trial.arch_id))
        if args.weights:
            from nas._artifacts import trial_weights

            state = trial_weights(db, trial)
        else:
            state = None
    if target.exists():
        target.unlink()  # check_output allowed it: --force, and a plain file
    try:
        result = evaluators.export_model(arch, target, args.format, state_dict=state)
    except evaluators.EvaluatorError as exc:
        raise UserError(str(exc)) from exc
    error = result["max_rel_error"]
    if args.json:
        print_json({"trial": trial.number, "id": trial.id, "format": args.format,
                    "weights": bool(args.weights), "path": result["path"],
                    "max_rel_error": error})
    else:
        what = "" if args.weights else "untrained (seed 0) "
        check = "" if error is None else f"; outputs match PyTorch within {error:.1e} relative"
        print(f"wrote trial {trial.id}'s {what}model as {args.format} to {target}{check}")
    return 0
