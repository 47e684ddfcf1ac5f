"""``nas dashboard``: serve the live web dashboard of the studies in a storage."""

from __future__ import annotations

import argparse
from typing import Any

from nas._errors import UserError


def register(sub: Any) -> None:
    from nas._cli import add_common

    parser = sub.add_parser(
        "dashboard", help="serve a live web dashboard of the studies",
        description="Serve a web dashboard of every study in --storage, read through a "
        "read-only connection (safe beside a running study). Binds 127.0.0.1; any other host "
        "requires a token, generated and printed in the URL unless --token gives one.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080,
                        help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--token", help="secret every API call must carry (required off "
                        "loopback; generated when not given)")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    add_common(parser, json=False)
    parser.set_defaults(handler=_dashboard)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 0 to 65535; got {text!r}")
    return value


def _dashboard(args: argparse.Namespace) -> int:
    from nas._cli import storage_url
    from nas._cli._read import open_existing

    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as e:
        raise UserError(
            f"nas dashboard needs the 'dashboard' extra ({e.name} is missing). Install it: "
            "pip install 'hetnas[dashboard]'"
        ) from e
    if args.token is not None and len(args.token) < 16:
        raise UserError(f"--token must be at least 16 characters; got {len(args.token)}. "
                        "Leave it out to have one generated.")
    url = storage_url(args)
    with open_existing(args):  # a missing SQLite file is one line, before binding anything
        pass
    from nas._dashboard import serve

    serve(url, host=args.host, port=args.port, token=args.token, quiet=args.quiet)
    return 0
