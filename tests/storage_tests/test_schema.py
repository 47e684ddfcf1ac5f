"""Schema life cycle: creation at head, refusal of stale or foreign databases, upgrades."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy import inspect
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import storage
from storage._models import Base
from storage._schema import _config
from tests.storage_tests.upgrade_assets.make_assets import ROWS

ASSETS = Path(__file__).resolve().parent / "upgrade_assets"


def _frozen(storage_url: str, tmp_path: Path, revision: str) -> str:
    """A database at ``revision`` holding the asset rows: the committed SQLite file, or the same
    revision and rows built on PostgreSQL."""
    if storage_url.startswith("sqlite"):
        path = tmp_path / f"{revision}.db"
        shutil.copy(ASSETS / f"{revision}.db", path)
        return f"sqlite:///{path}"
    engine = create_engine(storage_url)
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
        for statement in ROWS.split(";"):
            if statement.strip():
                conn.execute(text(statement))
        # Explicit ids above leave PostgreSQL's sequences behind; move them on as real use would.
        for table in ("studies", "trials"):
            conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    engine.dispose()
    return storage_url


def test_a_fresh_database_gets_the_head_schema(storage_url: str) -> None:
    storage.connect(storage_url).close()
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "trial_metrics" in inspect(conn).get_view_names()
        row = conn.execute(text("SELECT * FROM version_info")).one()
        assert (row.version_info_id, row.schema_version) == (1, storage.SCHEMA_VERSION)
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert revision == storage.SCHEMA_VERSION
    engine.dispose()


def test_the_migrations_build_exactly_the_models(storage_url: str) -> None:
    storage.connect(storage_url).close()
    engine = create_engine(storage_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_the_version_table_holds_one_row(db: storage.Database, storage_url: str) -> None:
    engine = create_engine(storage_url)
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO version_info VALUES (2, 'v0.0.0.a', '0.0.0')"))
    engine.dispose()


def test_an_older_schema_is_refused_with_the_upgrade_command(
    storage_url: str, tmp_path: Path
) -> None:
    url = _frozen(storage_url, tmp_path, "v0.1.0.a")
    with pytest.raises(storage.SchemaError) as info:
        storage.connect(url)
    message = str(info.value)
    assert "v0.1.0.a is older" in message
    assert f"nas db upgrade --storage {url}" in message


def test_the_frozen_first_revision_upgrades_and_keeps_its_data(
    storage_url: str, tmp_path: Path
) -> None:
    url = _frozen(storage_url, tmp_path, "v0.1.0.a")
    assert storage.upgrade(url) == ("v0.1.0.a", storage.SCHEMA_VERSION)
    with storage.connect(url) as db:
        assert [t.metrics for t in db.trials("frozen", state="COMPLETE")] == [
            {"accuracy": 0.9, "latency_ms": 4.0},
            {"accuracy": 0.8, "latency_ms": 2.0},
        ]
        assert db.best("frozen", 1)[0].arch == {"e0": "conv3x3"}
        # The study resumes: queued work is claimed, new trials number on, what v0.1.0.b and
        # v0.1.0.e added works.
        claimed = db.claim_trial("frozen", worker="w", node="n")
        assert claimed is not None and claimed.number == 2
        db.finish_trial(claimed.id, {"accuracy": 0.95, "latency_ms": 1.0})
        assert db.add_trials("frozen", [("a3", '{"e0":"conv1x1"}')]) == [4]
        # v0.1.0.c: an architecture is in a study once; leases are renewed.
        assert db.add_trials("frozen", [("a3", '{"e0":"conv1x1"}')]) == []
        assert db.renew_leases("w") == 0
        db.save_searcher_state("frozen", {"generation": 3})
        assert db.searcher_state("frozen") == {"generation": 3}
        db.add_study_artifact("frozen", "supernet", "s.pt", "ab" * 32)
        assert [a["kind"] for a in db.study_artifacts("frozen")] == ["supernet"]
        assert db.pareto("frozen")[0].metrics["accuracy"] == 0.95
    assert storage.upgrade(url) == (storage.SCHEMA_VERSION, storage.SCHEMA_VERSION)


def test_a_newer_schema_is_refused(storage_url: str) -> None:
    storage.connect(storage_url).close()
    engine = create_engine(storage_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'v9.0.0.a'"))
    engine.dispose()
    for attempt in (storage.connect, storage.upgrade):
        with pytest.raises(storage.SchemaError, match="v9.0.0.a is newer.*Upgrade hetnas"):
            attempt(storage_url)


def test_a_foreign_database_is_refused(storage_url: str) -> None:
    engine = create_engine(storage_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE results (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(storage.SchemaError, match=r"must be empty or made by hetnas.*'results'"):
        storage.connect(storage_url)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = storage.connect(f"sqlite:///{tmp_path / 's.db'}")
    with db._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    db.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u@h/db", "must be sqlite or postgresql"),
        ("not a url", "must look like"),
        ("sqlite:////no/such/folder/x.db", "folder must exist"),
    ],
)
def test_bad_urls_are_refused_clearly(url: str, match: str) -> None:
    with pytest.raises(storage.StorageError, match=match):
        storage.connect(url)
