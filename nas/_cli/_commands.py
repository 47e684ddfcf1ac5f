"""The list of subcommand registrars; each adds its parsers and sets ``handler`` defaults."""

from __future__ import annotations

REGISTRARS: list = []
