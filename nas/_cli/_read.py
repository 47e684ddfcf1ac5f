"""What the commands that read a study database share: opening one that must exist, naming it
in messages, and printing trials as tables sized to the terminal."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from nas._errors import UserError

if TYPE_CHECKING:
    from storage import TrialRecord

# Columns whose values are names or texts: folded onto more lines rather than cut short.
_TEXT = ("name", "study", "arch_id", "error", "objectives", "constraints")


def shown_url(args: argparse.Namespace) -> str:
    """The storage URL of the command, password hidden."""
    import storage
    from nas._cli import storage_url

    return storage.safe_url(storage_url(args))


@contextlib.contextmanager
def open_existing(args: argparse.Namespace) -> Iterator[Any]:
    """Connect to the command's database, which must exist already; a study or trial that is
    not found is reported with the storage it was looked for in.

    Commands that only read (or manage studies) must never create a database: a mistyped
    ``--storage sqlite:///studes.db`` would otherwise leave an empty file and an empty table.
    """
    import storage
    from nas._cli import storage_url

    url = storage_url(args)
    path = storage.sqlite_file(url)
    if path is not None and not path.is_file():
        raise UserError(
            f"No study database at {str(path)!r} (--storage {storage.safe_url(url)}): the file "
            "does not exist. Check --storage or $NAS_STORAGE, or create it with `nas run SPEC`."
        )
    try:
        with storage.connect(url) as db:
            yield db
    except (storage.StudyNotFound, storage.TrialNotFound) as exc:
        raise UserError(f"{str(exc).rstrip('.')}. (storage: {storage.safe_url(url)})") from exc


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def table(title: str, columns: list[str]) -> Any:
    """A rich table whose text columns fold instead of cutting names short."""
    from rich.table import Table

    out = Table(title=title)
    for column in columns:
        text = column in _TEXT
        out.add_column(column, justify="left" if text or column == "state" else "right",
                       overflow="fold")
    return out


def show(rendered: Any) -> None:
    """Print a table at the terminal's width, or whole when stdout is not a terminal."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        # Piped or redirected: no width to fit, so nothing is folded or cut.
        console = Console(width=10**5)
    console.print(rendered)


def last_line(error: str | None) -> str:
    """The exception line of a stored traceback (the whole text is in ``--json``)."""
    lines = [line for line in (error or "").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def emit(args: argparse.Namespace, trials: Sequence[TrialRecord], *, title: str,
         empty: str | None = None) -> None:
    """Trials as JSON or a table (with an ``error`` column when any failed); when there are
    none, ``empty`` (or "no trials") on stderr, naming the storage."""
    if getattr(args, "json", False):
        print_json([t.to_json() for t in trials])
        return
    names = sorted({name for t in trials for name in t.metrics})
    errors = any(t.error for t in trials)
    out = table(title, ["trial", "id", "state", "arch_id", *names, *(["error"] * errors)])
    for t in trials:
        values = [f"{t.metrics[n]:.6g}" if n in t.metrics else "" for n in names]
        out.add_row(str(t.number), str(t.id), t.state, t.arch_id, *values,
                    *([last_line(t.error)] * errors))
    show(out)
    if not trials:
        print(f"{empty or 'no trials'} (storage: {shown_url(args)})", file=sys.stderr)
