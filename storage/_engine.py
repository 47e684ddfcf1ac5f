"""Engines tuned for many processes: SQLite in WAL mode, PostgreSQL with a bounded pool."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from storage._errors import StorageError
from storage._errors import StorageInternalError
from storage._errors import StorageUnavailable

# Seconds a writer waits for SQLite's lock before giving up; claims are short, so a long wait
# only happens under real overload (cf. optuna/optuna#820, "database is locked" at start-up).
SQLITE_BUSY_TIMEOUT_S = 60
# Connections per process on PostgreSQL: enough for a worker's threads, bounded so 100 workers
# stay under max_connections (cf. optuna/optuna#1347, "too many clients").
PG_POOL_SIZE = 2
PG_MAX_OVERFLOW = 2
# Every statement is cancelled after this many seconds (PostgreSQL's statement_timeout, a
# progress handler on SQLite), so no query can run on for minutes, nor after its client died.
# Lock waits count on PostgreSQL, so it stays above SQLite's busy timeout.
STATEMENT_TIMEOUT_S = 120.0
# SQLite virtual-machine steps between two checks of the clock (about a millisecond).
_PROGRESS_STEPS = 20_000

_WRITE = "hetnas_write"


def parse_url(url: str) -> URL:
    """Validate a storage URL and pin PostgreSQL to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(
            f"Storage URL must look like sqlite:///FILE or postgresql+psycopg://USER@HOST/DB; "
            f"got {url!r}."
        ) from e
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise StorageError(
        f"Storage backend must be sqlite or postgresql; got {backend!r} in {url!r}. "
        f"Use sqlite:///FILE or postgresql+psycopg://USER@HOST/DB."
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; None for PostgreSQL or an in-memory database.

    Raises:
        StorageError: the URL is malformed or names an unsupported backend.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser()


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def make_engine(
    url: str, *, statement_timeout_s: float = STATEMENT_TIMEOUT_S, read_only: bool = False
) -> Engine:
    """An engine for ``url`` whose every statement is cancelled after ``statement_timeout_s``.

    ``read_only`` engines cannot write, whatever they are asked: SQLite opens the file with
    ``mode=ro`` and ``PRAGMA query_only``, and PostgreSQL starts every transaction read-only.
    So a dashboard or a report never takes a write lock beside a running study
    (cf. optuna/optuna-dashboard#545).
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "postgresql":
        options = f"-c statement_timeout={int(statement_timeout_s * 1000)}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        return create_engine(
            parsed,
            connect_args={"options": options},
            pool_size=PG_POOL_SIZE,
            max_overflow=PG_MAX_OVERFLOW,
            pool_timeout=60,
            # Idle connections dropped by the server or a NAT are replaced, not raised
            # (cf. optuna/optuna#5600).
            pool_pre_ping=True,
            pool_recycle=1800,
        )
    if parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise StorageError(
                f"The SQLite file's folder must exist; got {str(folder)!r} in {url!r}. "
                f"Create it first or choose another path."
            )
    if read_only:
        engine = _sqlite_read_only(parsed, url)
    else:
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
        event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)

    def limit(conn: Connection, cursor: Any, *_: Any) -> None:
        # SQLite has no statement timeout: a progress handler that returns True interrupts the
        # statement. Set before each one, so the clock starts with it.
        deadline = time.monotonic() + statement_timeout_s
        cursor.connection.set_progress_handler(lambda: time.monotonic() > deadline,
                                               _PROGRESS_STEPS)

    event.listen(engine, "before_cursor_execute", limit)
    return engine


def _sqlite_read_only(parsed: URL, url: str) -> Engine:
    if parsed.database in (None, "", ":memory:"):
        raise StorageError(
            f"A read-only SQLite storage must be a file; got {url!r}. Name the study file, "
            f"e.g. sqlite:///studies.db."
        )
    path = Path(parsed.database).expanduser().resolve()
    if not path.is_file():
        raise StorageError(
            f"The SQLite file must exist to be read; got {str(path)!r} in {url!r}. "
            f"Check the path, or run a study first (nas run SPEC --storage {url})."
        )
    # A URI filename carries mode=ro to sqlite3 (https://www.sqlite.org/uri.html); quoting keeps
    # '?' or '#' in a path from being read as URI syntax.
    from urllib.parse import quote

    uri = f"file:{quote(str(path))}?mode=ro"
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_S,
                                        check_same_thread=False),
        # "sqlite://" alone would mean one in-memory connection per thread; this is a file.
        poolclass=QueuePool,
    )
    event.listen(engine, "connect", _sqlite_on_connect_read_only)
    # BEGIN (never IMMEDIATE: nothing here writes) makes a trial and its metrics one snapshot.
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect_read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    # Belt and braces with mode=ro: even a statement that slipped through cannot write.
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself, so writers can ask for IMMEDIATE
    # (see https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
    cursor.execute("PRAGMA foreign_keys = ON")
    # Switching a fresh file to WAL needs an exclusive lock and fails at once, without the busy
    # handler, while another connection switches it: retry within the busy timeout.
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # A write transaction takes the lock up front: two read-then-write transactions can never
    # deadlock on the upgrade from SHARED to RESERVED, and the busy timeout applies.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get(_WRITE) else "BEGIN")


@contextmanager
def transaction(engine: Engine, *, write: bool) -> Iterator[Connection]:
    """One database transaction: commit on success, roll back on error, translate driver errors.

    Args:
        engine: from :func:`make_engine`.
        write: whether the transaction writes (takes SQLite's write lock at BEGIN).

    Raises:
        StorageInternalError: any SQLAlchemy error, chained with ``from``.
    """
    try:
        with engine.connect() as conn:
            conn.info[_WRITE] = write
            with conn.begin():
                yield conn
    except StorageError:
        raise
    except SQLAlchemyError as e:
        detail = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        if detail in ("interrupted", "canceling statement due to statement timeout"):
            raise StorageInternalError(
                "A database query ran past the statement timeout and was cancelled "
                f"({engine.url.render_as_string(hide_password=True)}). Narrow the query (a "
                "shorter --where), or check that the database server is not overloaded."
            ) from e
        if isinstance(e, OperationalError | InterfaceError) or getattr(
                e, "connection_invalidated", False):
            raise StorageUnavailable(f"Database unavailable: {detail}") from e
        raise StorageInternalError(f"Database error: {detail}") from e


def insert(conn: Connection, model: Any) -> Any:
    """The dialect's INSERT, which offers ON CONFLICT on both SQLite and PostgreSQL."""
    # Imported here: the PostgreSQL dialect package loads every driver's module (asyncpg,
    # pg8000, ...), a cost a command that reads a SQLite file should not pay.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(model)
