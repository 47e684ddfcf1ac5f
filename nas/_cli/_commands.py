"""The list of subcommand registrars; each adds its parsers and sets ``handler`` defaults."""

from __future__ import annotations

from nas._cli import _dashboard
from nas._cli import _manage
from nas._cli import _predict
from nas._cli import _profile
from nas._cli import _query
from nas._cli import _run

REGISTRARS: list = [
    _run.register,
    _profile.register,
    _query.register,
    _manage.register,
    _predict.register,
    _dashboard.register,
]
