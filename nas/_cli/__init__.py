"""The ``nas`` command line: one argparse tree, one module per group of subcommands.

Nothing heavy is imported here or by the parsers: each command imports what it needs when it
runs, so ``nas --help``, usage errors and the query commands never load torch, Ray, Triton or
Optuna (``tests/nas_tests/test_cli_startup.py`` checks it).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from nas._cli import _commands
from nas._cli._parser import Parser
from nas._cli._parser import parse
from nas._cli._signals import ignore_interrupts
from nas._cli._signals import restore_interrupts

DEFAULT_STORAGE = "sqlite:///studies.db"
# Exceptions that mean the user asked for something that cannot be done (or the environment
# refuses it): one line on stderr and exit 1. Looked up by module so that a command that never
# imported torch need not import it to classify an error.
USER_ERRORS = (
    ("nas._errors", "UserError"),
    ("storage._errors", "StorageError"),
    ("space._errors", "SpaceError"),
    ("evaluators._errors", "EvaluatorError"),
    ("kernels._errors", "KernelError"),
    ("kernels._errors", "KernelUnavailableError"),
)


def _parser() -> Parser:
    parser = Parser(
        prog="nas",
        description="hetnas: hardware-aware architecture search. See README.md for a tour.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _commands.REGISTRARS:
        register(sub)
    return parser


def add_common(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    """Options every subcommand takes: ``--storage``, ``--debug`` and (where it prints data)
    ``--json``; also marks ``parser`` as the one that reports its own usage errors."""
    parser.add_argument(
        "--storage",
        default=None,
        help="database URL (default: $NAS_STORAGE, else sqlite:///studies.db)",
    )
    # SUPPRESS: `nas --debug run ...` must stay on when the subcommand does not repeat it.
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks on errors")
    if json:
        parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.set_defaults(parser=parser)


def storage_url(args: argparse.Namespace) -> str:
    return args.storage or os.environ.get("NAS_STORAGE") or DEFAULT_STORAGE


def _user_error_types() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = [OSError]
    for module, name in USER_ERRORS:
        if module in sys.modules:
            found.append(getattr(sys.modules[module], name))
    return tuple(found)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" {exc.filename!r}" if exc.filename else ""
        return f"cannot access{where}: {exc.strerror}"
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nas`` console script; returns the exit status."""
    args = parse(_parser(), None if argv is None else list(argv))
    status = _dispatch(args, f"nas {args.command}")
    if argv is None:
        ignore_interrupts()
    else:
        restore_interrupts()
    return status


def _dispatch(args: Any, name: str) -> int:
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nas trials --json | head`): nothing is wrong. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if args.debug:
            raise
        if isinstance(exc, _user_error_types()):
            print(f"{name}: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"{name}: internal error: this is a bug in hetnas, not in your spec or command. "
              "Please report it to the hetnas maintainers with the command and the traceback "
              "above.", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
