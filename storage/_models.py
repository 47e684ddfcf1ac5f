"""ORM models of the study database; the Alembic revisions in ``_migrations`` build exactly these.

Plain-SQL readers are first-class users: names are spelled out, metric values are plain floats
(never encoded). The ``trial_metrics`` view (created by revision v0.1.0.a) joins each metric
with its trial and study.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON
from sqlalchemy import CheckConstraint
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

TRIAL_STATES = ("QUEUED", "RUNNING", "COMPLETE", "FAILED", "PRUNED")
DIRECTIONS = ("min", "max")

# Deterministic constraint names, so migrations can address them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class VersionInfo(Base):
    """The one row naming the schema revision and the library release that wrote it."""

    __tablename__ = "version_info"
    __table_args__ = (CheckConstraint("version_info_id = 1", name="one_row"),)

    version_info_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    schema_version: Mapped[str] = mapped_column(String(32))
    library_version: Mapped[str] = mapped_column(String(32))


class Study(Base):
    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    spec_source: Mapped[str | None] = mapped_column(Text)
    spec_hash: Mapped[str | None] = mapped_column(String(64))
    space_hash: Mapped[str | None] = mapped_column(String(64))
    searcher: Mapped[str | None] = mapped_column(String(64))
    # {"accuracy": "max", "latency_ms": "min"}, in priority order.
    objectives: Mapped[dict[str, str]] = mapped_column(JSON)
    # [{"metric": "latency_ms", "op": "<=", "bound": 5.0, "device": "cpu"}, ...]
    constraints: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime)


class Architecture(Base):
    __tablename__ = "architectures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    json: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as the space wrote it
    space_hash: Mapped[str | None] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("study_id", "number"),
        CheckConstraint(
            "state IN ('QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'PRUNED')", name="state"
        ),
        # Claims scan the QUEUED trials of one study in number order.
        Index("ix_trials_study_id_state_number", "study_id", "state", "number"),
        Index("ix_trials_arch_id", "arch_id"),
        # An architecture is in a study at most once, whatever its state (v0.1.0.c): the check
        # that it is new and its claim are one insert, so drivers sharing a study never
        # evaluate it twice.
        Index("uq_trials_study_id_arch_id", "study_id", "arch_id", unique=True),
        # Incremental polls: trials queued or finished since a moment (added in v0.1.0.d).
        Index("ix_trials_study_id_finished", "study_id", "finished"),
        Index("ix_trials_study_id_queued", "study_id", "queued"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 0, 1, 2 ... within the study
    state: Mapped[str] = mapped_column(String(16))
    arch_id: Mapped[str] = mapped_column(ForeignKey("architectures.id"))
    searcher: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(255))
    node: Mapped[str | None] = mapped_column(String(255))
    queued: Mapped[datetime] = mapped_column(DateTime)
    started: Mapped[datetime | None] = mapped_column(DateTime)
    finished: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # A RUNNING trial's lease: its driver renews it; once older than the lease time any driver
    # may re-queue the trial (v0.1.0.c).
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime)
    retries: Mapped[int] = mapped_column(Integer, default=0)


class Metric(Base):
    __tablename__ = "metrics"
    # best() walks one metric's values in order and where-filters range-scan them, both from
    # this covering index; the pivot reads a trial's metrics by primary key, which SQLite then
    # stores clustered (WITHOUT ROWID).
    __table_args__ = (
        Index("ix_metrics_name_value", "name", "value", "trial_id"),
        {"sqlite_with_rowid": False},
    )

    trial_id: Mapped[int] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class IntermediateValue(Base):
    __tablename__ = "intermediate_values"
    __table_args__ = {"sqlite_with_rowid": False}

    trial_id: Mapped[int] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)


class KernelProfile(Base):
    __tablename__ = "kernel_profiles"
    __table_args__ = (Index("ix_kernel_profiles_device_id_op", "device_id", "op"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    op: Mapped[str] = mapped_column(String(64))
    shape: Mapped[dict[str, Any]] = mapped_column(JSON)
    dtype: Mapped[str] = mapped_column(String(32))
    median_ms: Mapped[float] = mapped_column(Float)
    spread: Mapped[float] = mapped_column(Float)  # IQR / median
    repeats: Mapped[int] = mapped_column(Integer)
    threads: Mapped[int | None] = mapped_column(Integer)
    software: Mapped[dict[str, Any]] = mapped_column(JSON)
    hardware: Mapped[dict[str, Any]] = mapped_column(JSON)
    measured_at: Mapped[datetime] = mapped_column(DateTime)


class LatencyModel(Base):
    __tablename__ = "latency_models"
    __table_args__ = (UniqueConstraint("device_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    validation: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[datetime] = mapped_column(DateTime)


class Artifact(Base):
    """A file a trial or a study wrote; ``study_id``, ``kind`` and a nullable ``trial_id``
    (study-level files) were added in v0.1.0.e."""

    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int | None] = mapped_column(
        ForeignKey("trials.id", ondelete="CASCADE"), index=True, nullable=True
    )
    study_id: Mapped[int | None] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), index=True, nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32), server_default="file")
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(DateTime)


class SearcherState(Base):
    """A searcher's JSON ``state_dict()``, saved after each tell; added in v0.1.0.b."""

    __tablename__ = "searcher_states"

    study_id: Mapped[int] = mapped_column(
        ForeignKey("studies.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated: Mapped[datetime] = mapped_column(DateTime)
