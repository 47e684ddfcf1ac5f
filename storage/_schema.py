"""Schema versions: create a fresh database at head, refuse stale or foreign ones, upgrade."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import inspect
from sqlalchemy import text

from storage._engine import transaction
from storage._errors import SchemaError

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "v0.1.0.d"
"""The schema revision this release reads and writes."""

_MIGRATIONS = Path(__file__).resolve().parent / "_migrations"
# Any constant works; it only has to be the same in every hetnas process.
_PG_LOCK_KEY = 0x6E6173


def _config(conn: Connection | None = None) -> Config:
    # Alembic loads only to create or migrate a schema: opening a current database (every
    # query command) never needs it.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def known_revisions() -> list[str]:
    """Every revision this release knows, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def current_revision(conn: Connection) -> str | None:
    """The database's revision; ``None`` for an empty database.

    Raises:
        SchemaError: the database has tables but no hetnas version.
    """
    tables = set(inspect(conn).get_table_names())
    if not tables:
        return None
    if "alembic_version" not in tables:
        raise SchemaError(
            f"The database must be empty or made by hetnas; it has tables {sorted(tables)} but "
            f"no alembic_version table. Use a new SQLite file or an empty PostgreSQL database."
        )
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision is None:
        raise SchemaError(
            "The database's alembic_version table is empty, so its schema is unknown. "
            "Use a new database, or restore the row from a backup."
        )
    return str(revision)


def _lock(conn: Connection) -> None:
    # Serialise schema creation between processes that connect to a fresh database at once.
    # SQLite needs nothing: the write transaction already holds the database's write lock.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _refuse_unknown(revision: str) -> None:
    if revision not in known_revisions():
        raise SchemaError(
            f"Database schema {revision} is newer than this release's {HEAD} (or unknown to it). "
            f"Upgrade hetnas (pip install -U hetnas) to open this database."
        )


def ensure_schema(engine: Engine, url: str, *, create: bool = True) -> None:
    """Create the schema on an empty database; refuse one at any revision but :data:`HEAD`.

    Args:
        create: whether an empty database gets the schema; a read-only reader refuses it.

    Raises:
        SchemaError: the schema is older (names ``nas db upgrade``), newer, or not hetnas'; or
            the database is empty and ``create`` is false.
    """
    with transaction(engine, write=False) as conn:
        revision = current_revision(conn)
    if revision == HEAD:
        return
    if revision is None and not create:
        raise SchemaError(
            f"The database must hold hetnas studies to be read; {url} is empty. Run a study "
            f"into it first (nas run SPEC --storage {url})."
        )
    if revision is None:
        with transaction(engine, write=True) as conn:
            _lock(conn)
            if current_revision(conn) is None:
                _upgrade_to_head(conn)
        return
    _refuse_unknown(revision)
    raise SchemaError(
        f"Database schema {revision} is older than this release's {HEAD}. "
        f"Run: nas db upgrade --storage {url}"
    )


def upgrade_schema(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to :data:`HEAD` in one transaction; returns (old, new) revision."""
    with transaction(engine, write=True) as conn:
        _lock(conn)
        revision = current_revision(conn)
        if revision is not None:
            _refuse_unknown(revision)
        if revision != HEAD:
            _upgrade_to_head(conn)
    return revision, HEAD


def _upgrade_to_head(conn: Connection) -> None:
    from alembic import command

    command.upgrade(_config(conn), "head")
