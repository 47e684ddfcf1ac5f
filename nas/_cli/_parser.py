"""The argument parser of ``nas``: exact flags only, one-line usage errors, "did you mean".

argparse accepts unique prefixes of long options by default (``--work`` for ``--workers``),
which silently changes meaning when a new option shares the prefix; every parser here has
``allow_abbrev=False``. A usage error is one line naming the offending word and, where one is
close, the word that was probably meant.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any
from typing import NoReturn

_CHOICE = re.compile(r"invalid choice: '(?P<value>.*?)' \(choose from (?P<choices>.*)\)")
# The largest id a trial can have: SQLite and PostgreSQL integer keys are at most 64 bits.
MAX_TRIAL_ID = 2**63 - 1


def suggest(word: str, candidates: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest candidate, or ``""`` when none is close."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` without abbreviations whose errors are one line on stderr."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        found = _CHOICE.search(message)
        if found is not None:
            choices = re.findall(r"'([^']*)'", found["choices"])
            message = (f"{message[: found.start()]}invalid choice {found['value']!r}"
                       f"{suggest(found['value'], choices)} (choose from "
                       f"{', '.join(choices)})")
        self.exit(2, f"{self.prog}: error: {message.rstrip('.')}. "
                     f"See `{self.prog} --help`.\n")

    def unrecognized(self, extras: list[str]) -> NoReturn:
        """The usage error for words this (sub)command does not take, naming the first."""
        word = extras[0]
        if word.startswith("-"):
            flag = word.split("=", 1)[0]
            options = [o for o in self._option_string_actions if o.startswith("--")]
            self.error(f"unrecognized option {flag!r}{suggest(flag, options)}")
        self.error(f"unexpected argument {word!r} (this command takes no more arguments)")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def trial_id(text: str) -> int:
    """argparse type: a global trial id (the ``id`` column of ``nas trials``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_TRIAL_ID:
        raise argparse.ArgumentTypeError(
            f"a trial id is a whole number from 1 to {MAX_TRIAL_ID}; got {text!r} "
            "(`nas trials STUDY` lists the ids)"
        )
    return value


def parse(parser: Parser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; words a subcommand does not know are reported by that subcommand."""
    args, extras = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if extras:
        getattr(args, "parser", parser).unrecognized(extras)
    return args
