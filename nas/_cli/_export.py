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
        arch = json.loads(db.architecture_json(trial["arch_id"]))
        files = db.artifacts(trial["id"]) if args.weights else []
    state = None
    if args.weights:
        kept = [f for f in files if f["path"].endswith(evaluators.WEIGHTS_SUFFIX)]
        if not kept:
            raise UserError(
                f"trial {trial['id']} kept no weights; train with "
                "TrainEvaluator(..., keep_weights=True), or export without --weights for the "
                "untrained model."
            )
        try:
            arch, state = evaluators.load_weights(kept[-1]["path"], kept[-1]["sha256"])
        except evaluators.EvaluatorError as exc:
            raise UserError(str(exc)) from exc
    if target.exists():
        target.unlink()  # check_output allowed it: --force, and a plain file
    try:
        result = evaluators.export_model(arch, target, args.format, state_dict=state)
    except evaluators.EvaluatorError as exc:
        raise UserError(str(exc)) from exc
    error = result["max_rel_error"]
    if args.json:
        print_json({"trial": trial["trial"], "id": trial["id"], "format": args.format,
                    "weights": bool(args.weights), "path": result["path"],
                    "max_rel_error": error})
    else:
        what = "trained" if args.weights else "untrained (seed 0)"
        check = "" if error is None else f"; outputs match PyTorch within {error:.1e} relative"
        print(f"wrote trial {trial['id']}'s {what} model as {args.format} to {target}{check}")
    return 0
