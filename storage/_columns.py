"""A study's trials as plain arrays, the form a live view of 20,000 trials can afford.

:meth:`ReadMixin.trial_columns` reads two queries and converts every timestamp in Python;
``trial_arrays`` reads a whole study in one query that pivots the metrics with one primary-key
lookup per trial and metric, and has the database turn timestamps into epoch milliseconds, so
Python only transposes rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import Float
from sqlalchemy import and_
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.orm import aliased

from storage._engine import transaction
from storage._models import Metric
from storage._models import Study
from storage._models import Trial
from storage._queries import CHUNK
from storage._read import CHANGE_SLACK_S
from storage._read import _changed_since
from storage._records import StudyRecord
from storage._time import from_db
from storage._time import utcnow

# SQLite keeps timestamps as text; julianday() reads it, and the Unix epoch is this Julian day.
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_MS_PER_DAY = 86_400_000.0


def epoch_ms(column: Any, dialect: str) -> ColumnElement[int]:
    """``column`` (a naive UTC timestamp) as integer milliseconds since 1970, in SQL."""
    if dialect == "sqlite":
        days = func.julianday(column) - _UNIX_EPOCH_JULIAN_DAY
        return cast(func.round(days * _MS_PER_DAY), BigInteger)
    # extract() gives numeric on PostgreSQL 14+; the cast keeps the driver off Decimal.
    return cast(func.round(cast(func.extract("epoch", column), Float) * 1000.0), BigInteger)


class ColumnsMixin:
    _engine: Engine
    get_study: Callable[[str], StudyRecord]

    def trial_arrays(self, study: str, since: str | None = None) -> tuple[dict[str, Any], str]:
        """The study's trials (or those changed since a cursor) as arrays, and the next cursor.

        The cursor works as in :meth:`trial_changes`: every trial queued or finished since it
        comes back, and every QUEUED or RUNNING one; merge by id.

        Returns:
            ``({"id", "number", "state", "worker": lists, "finished": epoch milliseconds or
            None, "metrics": {name: list, None where a trial lacks it}}, next cursor)``, in
            number order.

        Raises:
            InvalidQuery: ``since`` is not a cursor.
        """
        cursor = from_db(utcnow() - timedelta(seconds=CHANGE_SLACK_S))
        dialect = self._engine.dialect.name
        head = (Trial.id, Trial.number, Trial.state, Trial.worker,
                epoch_ms(Trial.finished, dialect))
        with transaction(self._engine, write=False) as conn:
            # Looked up afresh, not from the study cache: a live view outlives a study deleted
            # and made again under its name.
            study_id = conn.execute(select(Study.id).where(Study.name == study)).scalar()
            if study_id is None:
                self.get_study(study)  # raises StudyNotFound, naming the studies there are
            if since is None:
                rows, names = _whole_study(conn, study_id, head)
            else:
                rows, names = _changed(conn, study_id, head, since)
        columns: list[Any] = [list(c) for c in zip(*rows, strict=True)] if rows else (
            [[] for _ in range(len(head) + len(names))])
        return {
            "id": columns[0], "number": columns[1], "state": columns[2], "worker": columns[3],
            "finished": columns[4],
            "metrics": {name: columns[len(head) + k] for k, name in enumerate(names)},
        }, str(cursor)


def _whole_study(conn: Connection, study_id: int, head: tuple[Any, ...],
                 only: Any = None) -> tuple[list[Any], list[str]]:
    """The study's trials (those whose id is in the subquery ``only``, when given), one row
    each with a column per metric the study records."""
    in_study = select(Trial.id).where(Trial.study_id == study_id)
    names = sorted(conn.execute(
        select(Metric.name).distinct().where(Metric.trial_id.in_(in_study))).scalars())
    query = select(*head)
    for name in names:
        metric = aliased(Metric)
        query = query.add_columns(metric.value).outerjoin(
            metric, and_(metric.trial_id == Trial.id, metric.name == name))
    query = query.where(Trial.study_id == study_id)
    if only is not None:
        query = query.where(Trial.id.in_(only))
    return conn.execute(query.order_by(Trial.number)).all(), names


def _changed(conn: Connection, study_id: int, head: tuple[Any, ...],
             since: str) -> tuple[list[Any], list[str]]:
    # The few changed ids first, then only their rows: filtering the study's trials by a
    # subquery would walk all of them. Many changed (a burst of finished trials) are read as
    # a whole study is, where walking them is the cheap way.
    ids = list(conn.execute(_changed_since(study_id, since)).scalars())
    if len(ids) > CHUNK:
        return _whole_study(conn, study_id, head, _changed_since(study_id, since))
    trials = conn.execute(select(*head).where(Trial.id.in_(ids)).order_by(Trial.number)).all()
    values = conn.execute(
        select(Metric.trial_id, Metric.name, Metric.value).where(Metric.trial_id.in_(ids))).all()
    names = sorted({name for _, name, _ in values})
    slot = {name: len(head) + k for k, name in enumerate(names)}
    position = {row[0]: i for i, row in enumerate(trials)}
    rows = [[*row, *([None] * len(names))] for row in trials]
    for trial_id, name, value in values:
        if trial_id in position:  # a trial committed between the two reads: the next poll
            rows[position[trial_id]][slot[name]] = value
    return rows, names
