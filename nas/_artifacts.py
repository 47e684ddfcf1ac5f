"""Files a study keeps beside its database rows: the one-shot supernet checkpoint and the
subnet weights `nas export --weights` extracts from it."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from nas._errors import UserError

if TYPE_CHECKING:
    from storage import TrialRecord

SUPERNET = "supernet"


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def keep_supernet(db: Any, study: str, supernet: Any, folder: str | Path) -> str | None:
    """Save ``supernet`` to ``<folder>/<study>.supernet-<sha>.pt`` and record it as the study's
    ``supernet`` artifact; returns the path, or None when that checkpoint is recorded already
    (a resumed search retrains the same seeded supernet)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", study)
    partial = folder / f".{stem}.supernet.partial"
    supernet.save(partial)
    sha = sha256_of(partial)
    if any(a["sha256"] == sha for a in db.study_artifacts(study, SUPERNET)):
        partial.unlink()
        return None
    path = (folder / f"{stem}.supernet-{sha[:12]}.pt").resolve()
    partial.replace(path)
    db.add_study_artifact(study, SUPERNET, str(path), sha)
    return str(path)


def trial_weights(db: Any, trial: TrialRecord) -> dict[str, Any]:
    """The state dict ``space.build(arch)`` loads for ``trial``: the weights its training kept
    (``TrainEvaluator(keep_weights=True)``), else those it inherits from its one-shot study's
    newest supernet checkpoint.

    Raises:
        UserError: the trial kept none and its study has no checkpoint, or the file is gone or
            changed since it was recorded.
    """
    import evaluators

    kept = [f for f in db.artifacts(trial.id) if f["path"].endswith(evaluators.WEIGHTS_SUFFIX)]
    if kept:
        try:
            return evaluators.load_weights(kept[-1]["path"], kept[-1]["sha256"])[1]
        except evaluators.EvaluatorError as exc:
            raise UserError(str(exc)) from exc
    checkpoints = db.study_artifacts(trial.study, SUPERNET)
    if not checkpoints:
        raise UserError(
            f"nas export --weights: trial {trial.id} kept no weights and study "
            f"{trial.study!r} keeps no supernet checkpoint. Train with "
            "TrainEvaluator(..., keep_weights=True) or run the study with searcher='oneshot'; "
            "or export without --weights for the untrained model."
        )
    path = Path(checkpoints[-1]["path"])
    if not path.is_file() or sha256_of(path) != checkpoints[-1]["sha256"]:
        raise UserError(
            f"nas export --weights: the supernet checkpoint of study {trial.study!r} at "
            f"{path} is missing or changed since it was recorded (sha256 "
            f"{checkpoints[-1]['sha256'][:12]}...). Restore the file, or rerun the study."
        )
    from nas.searchers._oneshot import Supernet

    return Supernet.load(path).subnet(trial.arch).state_dict()


def state_bytes(state: dict[str, Any]) -> bytes:
    """A state dict as the bytes of a ``torch.save`` file."""
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
