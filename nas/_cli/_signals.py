"""Interrupts once a command has done its work: from then on it only reports, and a Ctrl-C or
SIGTERM would cut the report short (exit 130 after the success line) or, while the interpreter
exits, kill the process by the signal (exit -2, nothing printed)."""

from __future__ import annotations

import signal
import threading
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_saved: dict[int, Any] = {}


def ignore_interrupts() -> None:
    """Ignore SIGINT and SIGTERM from now on (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in _SIGNALS:
        previous = signal.signal(sig, signal.SIG_IGN)
        _saved.setdefault(sig, previous)


def restore_interrupts() -> None:
    """Give an in-process caller of ``main`` its handlers back."""
    for sig, handler in _saved.items():
        signal.signal(sig, handler)
    _saved.clear()
