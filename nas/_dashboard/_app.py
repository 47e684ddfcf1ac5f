"""The dashboard's ASGI app: a JSON API under ``/api`` and the static single-page front end.

Safe by default: every API call must carry the token when one is set (compared in constant
time), a loopback server answers only requests addressed to a loopback name (so a web page on
another site cannot reach it by DNS rebinding), and every page forbids inline script, so even a
study name that slipped into HTML could not run.
"""

from __future__ import annotations

import contextlib
import csv
import hmac
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

import storage
from nas._dashboard._source import Source
from nas._dashboard._source import feasible
from nas._dashboard._trial import architecture_graph
from nas._dashboard._trial import predicted_costs

STATIC = Path(__file__).resolve().parent / "static"
LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]
TOKEN_HEADER = "x-nas-token"
_SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class _Guard:
    """Token check on ``/api`` and security headers on every response (plain ASGI: it wraps
    file responses too)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.token is not None and scope["path"].startswith("/api/"):
            request = Request(scope)
            given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                response = JSONResponse(
                    {"error": "This dashboard needs its token: open the URL `nas dashboard` "
                              "printed (it ends in ?token=...)."}, status_code=401)
                await self._with_headers(response)(scope, receive, send)
                return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _with_headers(response: Response) -> Response:
        for key, value in _SECURITY_HEADERS:
            response.headers[key.decode()] = value.decode()
        return response


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(url: str, *, token: str | None = None, loopback_only: bool = True) -> ASGIApp:
    """The dashboard for the study database at ``url`` (opened read-only).

    Args:
        url: storage URL.
        token: when set, every ``/api`` request must carry it (header ``X-NAS-Token`` or
            ``?token=``).
        loopback_only: answer only requests whose Host is a loopback name.
    """
    source = Source(url)

    constraints: dict[str, list[dict[str, Any]]] = {}

    def study_info(request: Request) -> dict[str, Any]:
        info = source.study(request.path_params["name"])
        constraints[info["name"]] = info["constraints"]
        return info

    def studies(request: Request) -> JSONResponse:
        return JSONResponse({"storage": storage.safe_url(url), "studies": source.studies()})

    def study(request: Request) -> Response:
        info = study_info(request)
        trials, cursor = source.study_trials(info)
        # The trials' columns come encoded from the source's cache: spliced, not re-encoded.
        head = json.dumps({"study": info, "cursor": cursor}, ensure_ascii=False,
                          allow_nan=False, separators=(",", ":")).encode()
        return Response(head[:-1] + b',"trials":' + trials + b"}",
                        media_type="application/json")

    def changes(request: Request) -> JSONResponse:
        # A poll reads the changed trials only (the page counts states itself): studies are
        # never edited, so the constraints read by the study's first page load still hold.
        name = request.path_params["name"]
        if name not in constraints:
            study_info(request)
        since = request.query_params.get("since")
        rows, cursor = source.changes(name, constraints[name], since or None)
        return JSONResponse({"trials": rows, "cursor": cursor})

    def match(request: Request) -> JSONResponse:
        where = request.query_params.get("where", "")
        return JSONResponse({"ids": source.matching_ids(request.path_params["name"], where)})

    def curves(request: Request) -> JSONResponse:
        found = source.curves(request.path_params["name"])
        return JSONResponse({"curves": {str(k): v for k, v in found.items()}})

    def trials_csv(request: Request) -> Response:
        name = request.path_params["name"]
        state = request.query_params.get("state") or None
        where = request.query_params.get("where") or None
        trials = source.trials(name, state)
        if where:
            keep = set(source.matching_ids(name, where))
            trials = [t for t in trials if t.id in keep]
        headers, rows = storage.trial_table(trials)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return Response(buffer.getvalue(), media_type="text/csv", headers={
            "content-disposition": 'attachment; filename="trials.csv"'})

    def trial_id(request: Request) -> int:
        return int(request.path_params["trial_id"])

    def trial(request: Request) -> JSONResponse:
        found = source.trial(trial_id(request))
        info = source.study(found["study"])
        arch_json = source.arch_json(found["arch_id"])
        try:
            graph = architecture_graph(arch_json)
        except Exception as e:  # an architecture of a space this release cannot read
            graph = {"nodes": [], "edges": [], "error": " ".join(str(e).split())}
        return JSONResponse({"trial": found, "study": info, "graph": graph,
                             "feasible": feasible(found["metrics"], info["constraints"])})

    def costs(request: Request) -> JSONResponse:
        found = source.trial(trial_id(request))
        return JSONResponse({"costs": predicted_costs(source.arch_json(found["arch_id"]), url)})

    def trial_download(request: Request) -> Response:
        found = source.trial(trial_id(request))
        body = json.dumps(found, indent=2, sort_keys=True)
        return Response(body, media_type="application/json", headers={
            "content-disposition": f'attachment; filename="trial-{found["id"]}.json"'})

    def index(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html")

    async def lookup_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(404, " ".join(str(exc).split()))

    async def query_error(request: Request, exc: Exception) -> JSONResponse:
        return _error(400, " ".join(str(exc).split()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        source.close()

    routes = [
        Route("/", index),
        Route("/api/studies", studies),
        Route("/api/studies/{name:str}", study),
        Route("/api/studies/{name:str}/changes", changes),
        Route("/api/studies/{name:str}/match", match),
        Route("/api/studies/{name:str}/curves", curves),
        Route("/api/studies/{name:str}/trials.csv", trials_csv),
        Route("/api/trials/{trial_id:int}", trial),
        Route("/api/trials/{trial_id:int}/costs", costs),
        Route("/api/trials/{trial_id:int}/download", trial_download),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = []
    if loopback_only:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK_NAMES))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            LookupError: lookup_error,
            storage.InvalidQuery: query_error,
            ValueError: query_error,
        },
        lifespan=lifespan,
    )
    return _Guard(app, token)

