"""``nas dashboard``: a live web dashboard for the studies in any storage.

Reads through a read-only connection (it never takes a write lock beside a running study),
serves a JSON API and a front end whose every asset ships in this package (no CDN: it works on
an offline cluster node). Start it with :func:`serve` or ``nas dashboard``.
"""

from __future__ import annotations

from nas._dashboard._server import dashboard_url
from nas._dashboard._server import is_loopback
from nas._dashboard._server import serve
from nas._dashboard._server import start_beside

__all__ = ["dashboard_url", "is_loopback", "serve", "start_beside"]
