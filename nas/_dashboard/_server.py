"""Running the dashboard: bind, print the URL, serve with uvicorn; or start it beside a run."""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from nas._errors import UserError

DEFAULT_PORT = 8080
# Seconds `nas run --dashboard` waits for the dashboard to answer before running without it.
START_TIMEOUT_S = 30.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard_url(host: str, port: int, token: str | None) -> str:
    """The URL to open: the host as a browser reaches it, and the token when there is one."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/" + (f"?token={quote(token)}" if token else "")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or one line naming the busy port and the fix."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise UserError(
            f"The dashboard needs a free port on {host}; port {port} is taken or not allowed "
            f"({e.strerror}). Pick another with --port, or --port 0 for any free one."
        ) from e
    sock.listen(128)
    return sock


def serve(url: str, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
          token: str | None = None, quiet: bool = False) -> None:
    """Serve the dashboard of the studies at ``url`` until interrupted.

    A host other than a loopback address requires a token: ``token``, or one generated here and
    printed in the URL.
    """
    import uvicorn

    from nas._dashboard._app import create_app

    loopback = is_loopback(host)
    if not loopback and not token:
        token = secrets.token_urlsafe(24)
    app = create_app(url, token=token, loopback_only=loopback)
    sock = bind(host, port)
    print(f"nas dashboard: {dashboard_url(host, sock.getsockname()[1], token)}  "
          f"(reading {_safe(url)}; Ctrl-C stops it)", flush=True)
    config = uvicorn.Config(app, log_level="warning" if quiet else "info", access_log=False,
                            lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


def _safe(url: str) -> str:
    import storage

    return storage.safe_url(url)


def start_beside(url: str, *, port: int = DEFAULT_PORT) -> tuple[subprocess.Popen[str], str]:
    """Start ``nas dashboard`` in its own process (a run's driver never shares its GIL) and
    wait until it answers; returns the process and its URL. Port ``port`` if free, else any.

    Raises:
        UserError: the dashboard did not start (its first error line is in the message).
    """
    try:
        bind("127.0.0.1", port).close()
    except UserError:
        port = 0
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    command = [sys.executable, "-c", "import sys; from nas._cli import main; sys.exit(main())",
               "dashboard", "--storage", url,
               "--port", str(port), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=os.environ.copy())
    address = dashboard_url("127.0.0.1", port, None)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (process.stdout.read() if process.stdout else "").strip().splitlines()
            raise UserError(f"The dashboard did not start: {output[-1] if output else '?'}")
        try:
            with urllib.request.urlopen(address + "api/studies", timeout=2):
                return process, address
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    process.terminate()
    raise UserError(f"The dashboard did not answer at {address} within {START_TIMEOUT_S:.0f} s.")
