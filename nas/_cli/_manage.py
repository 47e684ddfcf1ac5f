"""Study management: `nas delete STUDY`, `nas rename OLD NEW`, `nas copy STUDY --to URL`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from nas._cli._read import open_existing
from nas._cli._read import print_json
from nas._cli._read import shown_url
from nas._errors import UserError

_FORCE = "act even while trials are RUNNING (a driver may still be running the study)"


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser(
        "delete", help="delete a study and everything recorded for it",
        description="Delete STUDY with its trials, metrics, intermediate values, artifact rows "
        "and searcher state. Asks first on a terminal; elsewhere it needs --yes.",
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--force", action="store_true", help=_FORCE)
    add_common(parser)
    parser.set_defaults(handler=_delete)

    parser = sub.add_parser("rename", help="give a study a new name")
    parser.add_argument("old", metavar="OLD")
    parser.add_argument("new", metavar="NEW")
    parser.add_argument("--force", action="store_true", help=_FORCE)
    add_common(parser)
    parser.set_defaults(handler=_rename)

    parser = sub.add_parser(
        "copy", help="copy a study, everything kept, to another database",
        description="Copy STUDY from --storage to --to (SQLite or PostgreSQL, either way): "
        "trials with their numbers, states, times and errors, metrics, intermediate values, "
        "architectures, artifact rows and the searcher state. The target is created if needed.",
    )
    parser.add_argument("study", metavar="STUDY")
    parser.add_argument("--to", required=True, metavar="URL", help="target database URL")
    parser.add_argument("--as", dest="new_name", metavar="NAME",
                        help="name of the copy (default: the same name)")
    add_common(parser)
    parser.set_defaults(handler=_copy)


def _confirm(args: argparse.Namespace, question: str) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise UserError(f"{question} Not on a terminal, so nothing was deleted: add --yes.")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise UserError("Nothing was deleted (the answer was not 'yes').")


def _delete(args: argparse.Namespace) -> int:
    with open_existing(args) as db:
        counts = db.get_study(args.study).trials
        _confirm(args, f"Delete study {args.study!r} and its {counts} trials from "
                       f"{shown_url(args)}?")
        deleted = db.delete_study(args.study, force=args.force)
    if args.json:
        print_json({"study": args.study, "deleted_trials": deleted})
    else:
        print(f"deleted study {args.study!r} ({deleted} trials) from {shown_url(args)}")
    return 0


def _rename(args: argparse.Namespace) -> int:
    with open_existing(args) as db:
        db.rename_study(args.old, args.new, force=args.force)
    if args.json:
        print_json({"from": args.old, "to": args.new})
    else:
        print(f"renamed study {args.old!r} to {args.new!r} in {shown_url(args)}")
    return 0


def _same_database(a: str, b: str) -> bool:
    import storage

    files = storage.sqlite_file(a), storage.sqlite_file(b)
    if files[0] is not None and files[1] is not None:
        return files[0].resolve() == files[1].resolve()
    return storage.safe_url(a) == storage.safe_url(b)


def _copy(args: argparse.Namespace) -> int:
    import storage

    name = args.new_name or args.study
    with open_existing(args) as source:
        if _same_database(args.to, source.url) and name == args.study:
            raise UserError(
                f"--to is the database the study is in ({storage.safe_url(args.to)}); copy it "
                "under another name with --as NEW, or give another --to."
            )
        source.get_study(args.study)
        with storage.connect(args.to) as target:
            copied = source.copy_study(args.study, target, new_name=name)
    if args.json:
        print_json({"study": args.study, "to": storage.safe_url(args.to), "as": name,
                    "trials": copied})
    else:
        print(f"copied study {args.study!r} ({copied} trials) to {storage.safe_url(args.to)}"
              + (f" as {name!r}" if name != args.study else ""))
    return 0
