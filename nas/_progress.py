"""What a running study tells its user: a live status line and a log file per study."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.text import Text

# Off a terminal (a log file, CI, `nohup`), a plain line this often instead of a live one;
# $NAS_PROGRESS_S overrides it.
PLAIN_EVERY_S = 30.0


def log_path(log_dir: str | Path, study: str) -> Path:
    """``<log_dir>/<study>.log`` with the name made safe for a file system."""
    return Path(log_dir) / (re.sub(r"[^A-Za-z0-9._-]+", "_", study) + ".log")


@contextlib.contextmanager
def study_logger(path: Path) -> Iterator[logging.Logger]:
    """A logger that appends to ``path`` only (a resumed study keeps one history); the file is
    closed when the run ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"nas.run.{path.resolve()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


class Progress:
    """The status line: done / running / failed, best so far and ETA; silent when ``quiet``.

    On a terminal it is one live line on stderr. Elsewhere (stderr redirected to a file or a
    pipe) it is a plain line every ``every_s`` seconds and one at the end, so a log shows
    progress without terminal control codes.

    Args:
        study: Study name, shown first.
        target: Number of finished trials the study should reach.
        finished: Finished trials already in the database when this run started.
        objectives: The study's objectives, to say which way "best" points.
        quiet: Show nothing.
        every_s: Seconds between plain lines (default ``$NAS_PROGRESS_S`` or 30).
    """

    def __init__(
        self, study: str, target: int, finished: int, objectives: dict[str, str], quiet: bool,
        every_s: float | None = None,
    ) -> None:
        self._study = study
        self._target = target
        self._start_finished = finished
        self._objectives = objectives
        self._best: dict[str, float] = {}
        self._start = time.monotonic()
        self._console = Console(stderr=True)
        self._quiet = quiet
        self._every_s = float(os.environ.get("NAS_PROGRESS_S", PLAIN_EVERY_S)) if (
            every_s is None) else every_s
        self._printed_at: float | None = None
        self._printed_line = ""
        self._last = ""
        live = not quiet and self._console.is_terminal
        self._live = Live(Text(""), console=self._console, refresh_per_second=4,
                          transient=False) if live else None

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
        elif not self._quiet and self._last and self._last != self._printed_line:
            self._plain(self._last)

    def observe(self, metrics: dict[str, float]) -> None:
        """Fold one COMPLETE trial's metrics into the best-so-far values."""
        for name, direction in self._objectives.items():
            value = metrics.get(name)
            if value is None:
                continue
            best = self._best.get(name)
            if best is None or (value < best if direction == "min" else value > best):
                self._best[name] = value

    def update(self, complete: int, running: int, failed: int, pruned: int = 0) -> None:
        if self._quiet:
            return
        self._last = self.line(complete, running, failed, pruned)
        if self._live is not None:
            self._live.update(Text(self._last))
            return
        now = time.monotonic()
        if self._printed_at is None or now - self._printed_at >= self._every_s:
            self._plain(self._last)

    def _plain(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)
        self._printed_at = time.monotonic()
        self._printed_line = line

    def line(self, complete: int, running: int, failed: int, pruned: int = 0) -> str:
        finished = complete + failed + pruned
        best = ", ".join(f"{k} {v:.4g}" for k, v in self._best.items()) or "-"
        stopped = f", {pruned} pruned" if pruned else ""
        return (
            f"{self._study}: {complete} done, {running} running, {failed} failed{stopped} "
            f"of {self._target} | best {best} | ETA {self._eta(finished)}"
        )

    def _eta(self, finished: int) -> str:
        done_here = finished - self._start_finished
        left = self._target - finished
        if left <= 0:
            return "0s"
        if done_here <= 0:
            return "?"
        seconds = (time.monotonic() - self._start) / done_here * left
        return f"{seconds / 60:.0f}m{seconds % 60:02.0f}s" if seconds >= 60 else f"{seconds:.0f}s"
