"""Read side: trial records, ``best`` and the Pareto front, each in a bounded number of
queries (never one per trial; cf. optuna/optuna#5700)."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import Connection
from sqlalchemy import Select
from sqlalchemy import and_
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from storage._models import Architecture
from storage._models import Metric
from storage._models import Study
from storage._models import Trial
from storage._records import TrialRecord
from storage._time import from_db
from storage._where import BoolOp
from storage._where import Comparison
from storage._where import Condition

if TYPE_CHECKING:
    import numpy as np

# Keeps every IN (...) list far below SQLite's bound-parameter limit (cf. optuna/optuna#1457).
CHUNK = 500

_SQL_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_TRIAL_COLUMNS = (
    Trial.id,
    Trial.number,
    Study.name.label("study"),
    Trial.state,
    Trial.arch_id,
    Trial.searcher,
    Trial.worker,
    Trial.node,
    Trial.started,
    Trial.finished,
    Trial.error,
    Trial.retries,
)


def trial_select(*, arch: bool = True) -> Select[Any]:
    """SELECT of every column a trial record needs, joined with its study and (unless ``arch`` is
    false, for listings that never show it) its architecture."""
    if not arch:
        return select(*_TRIAL_COLUMNS).join(Study, Study.id == Trial.study_id)
    return (
        select(*_TRIAL_COLUMNS, Architecture.json)
        .join(Study, Study.id == Trial.study_id)
        .join(Architecture, Architecture.id == Trial.arch_id)
    )


def to_sql(node: Condition, trial_id: Any = Trial.id) -> ColumnElement[bool]:
    """Compile a parsed condition with every number as a bound parameter.

    Each comparison becomes ``trial_id IN (trials whose metric row satisfies it)``, a range scan
    of the covering index ``ix_metrics_name_value`` that both backends evaluate once (a hash
    or an ephemeral index), not once per trial; a trial missing the metric fails it.

    Args:
        node: from :func:`storage.parse_where`.
        trial_id: the outer query's trial id column.
    """
    if isinstance(node, BoolOp):
        parts = [to_sql(part, trial_id) for part in node.parts]
        return and_(*parts) if node.op == "and" else or_(*parts)
    metric = Metric.__table__.alias()
    return trial_id.in_(
        select(metric.c.trial_id).where(
            metric.c.name == node.metric, _SQL_OPS[node.op](metric.c.value, node.value)
        )
    )


def _complete(study_id: int) -> Select[Any]:
    return select(Trial.id).where(Trial.study_id == study_id, Trial.state == "COMPLETE")


def constraints_condition(constraints: Sequence[dict[str, Any]]) -> Condition | None:
    parts = tuple(Comparison(c["metric"], c["op"], float(c["bound"])) for c in constraints)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else BoolOp("and", parts)


def _metrics(conn: Connection, trial_ids: Sequence[int]) -> dict[int, dict[str, float]]:
    found: dict[int, dict[str, float]] = {i: {} for i in trial_ids}
    for start in range(0, len(trial_ids), CHUNK):
        chunk = trial_ids[start : start + CHUNK]
        rows = conn.execute(
            select(Metric.trial_id, Metric.name, Metric.value).where(Metric.trial_id.in_(chunk))
        )
        for trial_id, name, value in rows:
            found[trial_id][name] = value
    return found


def _record(row: Any, metrics: dict[str, float]) -> TrialRecord:
    return TrialRecord(
        number=row.number,
        id=row.id,
        study=row.study,
        state=row.state,
        arch_id=row.arch_id,
        metrics=metrics,
        searcher=row.searcher,
        worker=row.worker,
        node=row.node,
        started=from_db(row.started),
        finished=from_db(row.finished),
        error=row.error,
        retries=row.retries,
        arch=json.loads(row.json) if "json" in row._fields else None,
    )


def trial_records(conn: Connection, query: Select[Any]) -> list[TrialRecord]:
    """Run a :func:`trial_select` query and attach each trial's metrics (two queries)."""
    rows = conn.execute(query).all()
    metrics = _metrics(conn, [row.id for row in rows])
    return [_record(row, metrics[row.id]) for row in rows]


def trials_by_id(conn: Connection, trial_ids: Sequence[int]) -> list[TrialRecord]:
    """Trial records in the order of ``trial_ids``; ids no 64-bit key can hold match nothing
    (SQLite would raise OverflowError on them)."""
    trial_ids = [i for i in trial_ids if -(2**63) <= i < 2**63]
    found: dict[int, TrialRecord] = {}
    for start in range(0, len(trial_ids), CHUNK):
        chunk = trial_ids[start : start + CHUNK]
        for trial in trial_records(conn, trial_select().where(Trial.id.in_(chunk))):
            found[trial.id] = trial
    return [found[i] for i in trial_ids if i in found]


def best_ids(
    study_id: int, objective: str, direction: str, k: int, conditions: Iterable[Condition]
) -> Select[Any]:
    """Ids of the ``k`` best COMPLETE trials meeting ``conditions``, best first (ties: lower id).

    The query walks the objective's metric rows in value order (index ``ix_metrics_name_value``)
    and stops after ``k`` matches, instead of sorting every trial of the study.
    """
    value = Metric.__table__.alias("objective")
    order = value.c.value.desc() if direction == "max" else value.c.value.asc()
    query = select(value.c.trial_id).where(
        value.c.name == objective, value.c.trial_id.in_(_complete(study_id))
    )
    for condition in conditions:
        query = query.where(to_sql(condition, value.c.trial_id))
    return query.order_by(order, value.c.trial_id).limit(k)


def objective_table(
    conn: Connection,
    study_id: int,
    objectives: Sequence[str],
    constraints: Sequence[dict[str, Any]],
) -> tuple[np.ndarray, np.ndarray]:
    """Ids and objective values of the COMPLETE trials that have every objective and meet
    every constraint, fetched as one pivoting query."""
    import numpy as np

    names = list(dict.fromkeys([*objectives, *(c["metric"] for c in constraints)]))
    columns = [
        func.max(case((Metric.name == name, Metric.value))).label(f"c{i}")
        for i, name in enumerate(names)
    ]
    rows = conn.execute(
        select(Metric.trial_id, *columns)
        .where(Metric.trial_id.in_(_complete(study_id)), Metric.name.in_(names))
        .group_by(Metric.trial_id)
        .order_by(Metric.trial_id)
    ).all()
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    table = np.array([row[1:] for row in rows], dtype=float).reshape(len(rows), len(names))
    keep = ~np.isnan(table[:, : len(objectives)]).any(axis=1)
    for c in constraints:
        column = table[:, names.index(c["metric"])]
        with np.errstate(invalid="ignore"):
            keep &= _SQL_OPS[c["op"]](column, float(c["bound"])) & ~np.isnan(column)
    return ids[keep], table[keep][:, : len(objectives)]
