"""The study database: SQLite by default, PostgreSQL for clusters, plain SQL for everyone.

``storage`` is a leaf package: architectures arrive as canonical JSON plus id, and nothing here
imports another hetnas package. See ``storage/README.md`` for the schema and example queries.
"""

from __future__ import annotations

from typing import Any

from storage._database import TRANSITIONS
from storage._database import Database
from storage._database import TrialOutcome
from storage._engine import make_engine
from storage._engine import safe_url
from storage._engine import sqlite_file
from storage._errors import ArchitectureNotFound
from storage._errors import InvalidQuery
from storage._errors import InvalidTransition
from storage._errors import SchemaError
from storage._errors import StorageError
from storage._errors import StorageInternalError
from storage._errors import StorageUnavailable
from storage._errors import StudyExists
from storage._errors import StudyNotFound
from storage._errors import TrialNotFound
from storage._manage import trial_table
from storage._models import TRIAL_STATES
from storage._records import StudyRecord
from storage._records import TrialRecord
from storage._schema import HEAD as SCHEMA_VERSION
from storage._schema import upgrade_schema
from storage._validate import problem as result_problem
from storage._where import parse_where

__all__ = [
    "SCHEMA_VERSION",
    "TRANSITIONS",
    "TRIAL_STATES",
    "ArchitectureNotFound",
    "Database",
    "InvalidQuery",
    "InvalidTransition",
    "SchemaError",
    "StorageError",
    "StorageInternalError",
    "StorageUnavailable",
    "StudyExists",
    "StudyNotFound",
    "StudyRecord",
    "TrialNotFound",
    "TrialOutcome",
    "TrialRecord",
    "connect",
    "non_dominated",
    "parse_where",
    "result_problem",
    "safe_url",
    "sqlite_file",
    "trial_table",
    "upgrade",
]


def connect(url: str, *, read_only: bool = False) -> Database:
    """Open a study database, creating the schema when the database is empty.

    Args:
        url: ``sqlite:///path/to/studies.db`` or ``postgresql+psycopg://user@host/db``.
        read_only: open it for reading only (SQLite ``mode=ro`` and ``query_only``; read-only
            transactions on PostgreSQL): it never takes a write lock, never creates a schema,
            and every write raises :class:`StorageInternalError`.

    Returns:
        A :class:`Database`; close it (or use it in a ``with`` block) when done.

    Raises:
        SchemaError: the schema is older (run ``nas db upgrade --storage URL``), newer than this
            release, or not hetnas'.
        StorageError: the URL is malformed or names an unsupported backend.
    """
    return Database(url, read_only=read_only)


def upgrade(url: str) -> tuple[str | None, str]:
    """Migrate a database to this release's schema (what ``nas db upgrade`` runs).

    Returns:
        ``(old_revision, new_revision)``; ``old_revision`` is ``None`` for an empty database.

    Raises:
        SchemaError: the database is newer than this release, or not hetnas'.
    """
    engine = make_engine(url)
    try:
        return upgrade_schema(engine)
    finally:
        engine.dispose()


def __getattr__(name: str) -> Any:
    # numpy loads only for code that filters fronts itself: listing studies never needs it.
    if name == "non_dominated":
        from storage._pareto import non_dominated

        return non_dominated
    raise AttributeError(f"module 'storage' has no attribute {name!r}")
