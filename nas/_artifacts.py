"""Files a study keeps beside its database rows: the one-shot supernet checkpoint and the
subnet weights `nas export --weights` extracts from it."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Any

from nas._errors import UserError

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


def inherited_weights(db: Any, trial: dict[str, Any]) -> bytes:
    """The trial's subnet weights from its study's newest supernet checkpoint, as the bytes of
    a ``torch.save``d state dict that ``space.build(arch)`` loads.

    Raises:
        UserError: the study keeps no checkpoint, or the file is gone or changed.
    """
    kept = db.study_artifacts(trial["study"], SUPERNET)
    if not kept:
        raise UserError(
            f"nas export --weights: study {trial['study']!r} keeps no supernet checkpoint; only "
            "a study run with searcher='oneshot' does. Export the architecture without "
            "--weights and train it (evaluators.train)."
        )
    path = Path(kept[-1]["path"])
    if not path.is_file() or sha256_of(path) != kept[-1]["sha256"]:
        raise UserError(
            f"nas export --weights: the supernet checkpoint of study {trial['study']!r} at "
            f"{path} is missing or changed since it was recorded (sha256 "
            f"{kept[-1]['sha256'][:12]}...). Restore the file, or rerun the study."
        )
    import torch

    from nas.searchers._oneshot import Supernet

    state = Supernet.load(path).subnet(trial["arch"]).state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
