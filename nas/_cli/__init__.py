"""The ``nas`` command line: one argparse tree, one module per group of subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from nas._cli import _commands
from nas._errors import UserError

DEFAULT_STORAGE = "sqlite:///studies.db"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nas",
        description="hetnas: hardware-aware architecture search. See README.md for a tour.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _commands.REGISTRARS:
        register(sub)
    return parser


def add_common(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    """Options every subcommand takes: ``--storage`` and (where it prints data) ``--json``."""
    parser.add_argument(
        "--storage",
        default=None,
        help="database URL (default: $NAS_STORAGE, else sqlite:///studies.db)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    if json:
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def storage_url(args: argparse.Namespace) -> str:
    return args.storage or os.environ.get("NAS_STORAGE") or DEFAULT_STORAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nas`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, ValueError, LookupError) as exc:
        # User mistakes (bad spec, unknown study, bad --where) are one line on stderr; library
        # errors all subclass ValueError or LookupError so they land here too.
        if args.debug:
            raise
        print(f"nas {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nas {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nas trials --json | head`): nothing is wrong. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
