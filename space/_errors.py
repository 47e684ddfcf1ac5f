"""Exceptions of the ``space`` package."""

from __future__ import annotations


class SpaceError(ValueError):
    """An invalid search-space spec or an architecture outside its space.

    Messages state the rule, the path inside the spec, the offending value and the fix, e.g.
    ``layers[2].mixer.heads must divide the layer width 256; got 6. Use 1, 2, 4, 8, ...``.
    """
