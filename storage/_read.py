"""Ranking queries of :class:`storage.Database`: ``best``, ``pareto`` and what they share."""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import select
from sqlalchemy import union

from storage._engine import transaction
from storage._errors import ArchitectureNotFound
from storage._errors import InvalidQuery
from storage._models import DIRECTIONS
from storage._models import Architecture
from storage._models import Metric
from storage._models import Trial
from storage._queries import CHUNK
from storage._queries import best_ids
from storage._queries import constraints_condition
from storage._queries import objective_table
from storage._queries import to_sql
from storage._queries import trial_records
from storage._queries import trial_select
from storage._queries import trials_by_id
from storage._records import StudyRecord
from storage._records import TrialRecord
from storage._time import from_db
from storage._time import to_db
from storage._time import utcnow
from storage._where import Condition
from storage._where import check_metrics
from storage._where import metrics_of
from storage._where import parse_where

# How far a change cursor reaches back before the moment it was read. A trial's timestamp is
# taken inside its write transaction but becomes visible only at commit, and drivers on other
# hosts stamp with their own clocks: re-sending the last few seconds covers both, and callers
# merge trials by id, so a trial sent twice costs nothing.
CHANGE_SLACK_S = 10.0


def _changed_since(study_id: int, since: str) -> Any:
    """The ids of the study's trials that may have changed since the cursor ``since``."""
    try:
        stamp = to_db(since.removesuffix("Z"))
    except (AttributeError, TypeError, ValueError) as e:
        raise InvalidQuery(
            f"A change cursor is the ISO time an earlier trial_changes() call returned; "
            f"got {since!r}. Start again with since=None."
        ) from e
    # A union of three index range scans (state, finished, queued), where one OR would make
    # both backends walk every trial of the study.
    changed = union(
        select(Trial.id).where(Trial.study_id == study_id, Trial.state.in_(("QUEUED", "RUNNING"))),
        select(Trial.id).where(Trial.study_id == study_id, Trial.finished >= stamp),
        select(Trial.id).where(Trial.study_id == study_id, Trial.queued >= stamp),
    )
    return changed


class ReadMixin:
    _engine: Engine
    _study: Callable[[str], StudyRecord]

    def trial_changes(
        self, study: str, since: str | None = None, *, arch: bool = False
    ) -> tuple[list[TrialRecord], str]:
        """Trials that may have changed since a cursor, and the cursor for the next call.

        A live view polls with the cursor each call returns and merges the trials it gets by
        id: every trial queued or finished since the cursor comes back, and every QUEUED or
        RUNNING one (a requeue moves no timestamp forward, and these are few). A poll of a
        20,000-trial study reads one index range and the few changed trials, not the study.

        Args:
            study: study name.
            since: a cursor from an earlier call; ``None`` returns every trial.
            arch: include each trial's ``arch`` (the listing a dashboard draws does not need it).

        Returns:
            ``(trials in number order, next cursor)``; trials as :meth:`trials` returns them.

        Raises:
            InvalidQuery: ``since`` is not a cursor.
        """
        info = self._study(study)
        cursor = from_db(utcnow() - timedelta(seconds=CHANGE_SLACK_S))
        query = trial_select(arch=arch).where(Trial.study_id == info.id)
        if since is not None:
            query = query.where(Trial.id.in_(_changed_since(info.id, since)))
        with transaction(self._engine, write=False) as conn:
            return trial_records(conn, query.order_by(Trial.number)), str(cursor)

    def trial_columns(self, study: str, since: str | None = None) -> tuple[dict[str, Any], str]:
        """:meth:`trial_changes` as columns, the cheap form for thousands of trials: two
        queries, no architecture, no dict per trial.

        Returns:
            ``({"id", "number", "state", "worker", "finished": lists in number order,
            "metrics": {name: list, None where a trial lacks it}}, next cursor)``.
        """
        info = self._study(study)
        cursor = from_db(utcnow() - timedelta(seconds=CHANGE_SLACK_S))
        trials = select(Trial.id, Trial.number, Trial.state, Trial.worker, Trial.finished)
        values = select(Metric.trial_id, Metric.name, Metric.value)
        with transaction(self._engine, write=False) as conn:
            if since is None:
                trials = trials.where(Trial.study_id == info.id)
                values = values.join(Trial, Trial.id == Metric.trial_id).where(
                    Trial.study_id == info.id)
            else:
                # The few changed ids first, then only their rows: filtering the study's
                # trials by a subquery would walk all of them.
                ids: Any = list(conn.execute(_changed_since(info.id, since)).scalars())
                if len(ids) > CHUNK:
                    ids = _changed_since(info.id, since)
                trials = trials.where(Trial.id.in_(ids))
                values = values.where(Metric.trial_id.in_(ids))
            rows = conn.execute(trials.order_by(Trial.number)).all()
            found = conn.execute(values).all()
        position = {row[0]: i for i, row in enumerate(rows)}
        metrics: dict[str, list[float | None]] = {}
        for trial_id, name, value in found:
            if trial_id not in position:  # committed between the two reads: the next poll
                continue
            if name not in metrics:
                metrics[name] = [None] * len(rows)
            metrics[name][position[trial_id]] = value
        columns = {
            "id": [row[0] for row in rows],
            "number": [row[1] for row in rows],
            "state": [row[2] for row in rows],
            "worker": [row[3] for row in rows],
            "finished": [from_db(row[4]) for row in rows],
            "metrics": metrics,
        }
        return columns, str(cursor)

    def matching_ids(self, study: str, where: str) -> list[int]:
        """Ids of the study's trials, in any state, whose metrics meet a ``where`` filter.

        Raises:
            InvalidQuery: a malformed filter or a metric the study never recorded.
        """
        info = self._study(study)
        parsed = parse_where(where)
        self._check_where(info, parsed)
        query = (select(Trial.id).where(Trial.study_id == info.id, to_sql(parsed))
                 .order_by(Trial.number))
        with transaction(self._engine, write=False) as conn:
            return list(conn.execute(query).scalars())

    def metric_names(self, study: str) -> list[str]:
        """Every metric name the study's objectives, constraints or trials mention, sorted."""
        info = self._study(study)
        with transaction(self._engine, write=False) as conn:
            recorded = (
                conn.execute(
                    select(Metric.name)
                    .distinct()
                    .join(Trial, Trial.id == Metric.trial_id)
                    .where(Trial.study_id == info.id)
                )
                .scalars()
                .all()
            )
        return sorted(
            {*recorded, *info.objectives, *(c["metric"] for c in info.constraints)}
        )

    def _check_where(self, info: StudyRecord, parsed: Condition) -> None:
        # Probing only the names the filter uses is an index lookup each; listing every known
        # name (a scan of the study's metrics) is left for the error message.
        declared = {*info.objectives, *(c["metric"] for c in info.constraints)}
        with transaction(self._engine, write=False) as conn:
            missing = [
                name
                for name in metrics_of(parsed) - declared
                if conn.execute(
                    select(Metric.trial_id)
                    .where(
                        Metric.name == name,
                        Metric.trial_id.in_(select(Trial.id).where(Trial.study_id == info.id)),
                    )
                    .limit(1)
                ).first()
                is None
            ]
        if missing:
            check_metrics(parsed, self.metric_names(info.name), info.name)

    def _objective(self, info: StudyRecord, objective: str | None) -> tuple[str, str]:
        if objective is None:
            return next(iter(info.objectives.items()))
        name, _, direction = objective.partition(":")
        if direction:
            if direction not in DIRECTIONS:
                raise InvalidQuery(
                    f"An objective is NAME, NAME:min or NAME:max; got {objective!r}."
                )
            return name, direction
        if name in info.objectives:
            return name, info.objectives[name]
        raise InvalidQuery(
            f"Objective {name!r} is not one of study {info.name!r}'s objectives "
            f"({', '.join(info.objectives)}). Pick one, or give a direction: '{name}:min' or "
            f"'{name}:max'."
        )

    def best(
        self, study: str, k: int = 1, objective: str | None = None, where: str | None = None
    ) -> list[TrialRecord]:
        """The ``k`` best COMPLETE trials that meet the study's constraints, best first.

        Args:
            study: study name.
            k: how many trials.
            objective: metric to rank by; default the study's first objective. Its direction is
                the study's, or given explicitly as ``"name:min"`` / ``"name:max"``.
            where: extra filter, e.g. ``"latency_ms < 5 and params <= 1e6"``; trials without a
                metric the filter names fail it.

        Raises:
            InvalidQuery: a malformed ``where``, an unknown metric name or a bad objective.
        """
        if k < 1:
            raise InvalidQuery(f"k (--top) must be at least 1; got {k}.")
        info = self._study(study)
        name, direction = self._objective(info, objective)
        conditions: list[Condition] = []
        feasible = constraints_condition(info.constraints)
        if feasible is not None:
            conditions.append(feasible)
        if where is not None:
            parsed = parse_where(where)
            self._check_where(info, parsed)
            conditions.append(parsed)
        with transaction(self._engine, write=False) as conn:
            ids = conn.execute(best_ids(info.id, name, direction, k, conditions)).scalars()
            return trials_by_id(conn, list(ids))

    def pareto_points(self, study: str, objectives: Sequence[str] | None = None) -> dict[str, Any]:
        """Objective values of every feasible COMPLETE trial and which lie on the front.

        Returns:
            ``{"objectives": [...], "directions": [...], "ids": [trial ids], "values": (n, d)
            array, "front": (n,) bool array}``; the CLI plots from it.
        """
        from storage._pareto import non_dominated

        info = self._study(study)
        names = list(objectives) if objectives else list(info.objectives)
        directions = [self._objective(info, name)[1] for name in names]
        names = [name.partition(":")[0] for name in names]
        with transaction(self._engine, write=False) as conn:
            ids, values = objective_table(conn, info.id, names, info.constraints)
        return {
            "objectives": names,
            "directions": directions,
            "ids": ids.tolist(),
            "values": values,
            "front": non_dominated(values, directions),
        }

    def pareto(self, study: str, objectives: Sequence[str] | None = None) -> list[TrialRecord]:
        """Non-dominated COMPLETE trials that meet the study's constraints.

        Args:
            study: study name.
            objectives: metrics to trade off (``name`` or ``name:min|max``); default all of the
                study's objectives, in their directions.

        Returns:
            Trials sorted by the first objective, best first.
        """
        import numpy as np

        points = self.pareto_points(study, objectives)
        first = points["values"][points["front"], 0] if len(points["ids"]) else np.zeros(0)
        ids = np.asarray(points["ids"], dtype=np.int64)[points["front"]]
        order = np.argsort(-first if points["directions"][0] == "max" else first, kind="stable")
        with transaction(self._engine, write=False) as conn:
            return trials_by_id(conn, [int(i) for i in ids[order]])

    def architecture(self, arch_id: str) -> dict[str, Any]:
        """The architecture's ``to_dict()`` form.

        Raises:
            ArchitectureNotFound: no architecture has that id.
        """
        return json.loads(self.architecture_json(arch_id))

    def architecture_json(self, arch_id: str) -> str:
        """The architecture's canonical JSON, exactly as stored."""
        with transaction(self._engine, write=False) as conn:
            found = conn.execute(
                select(Architecture.json).where(Architecture.id == arch_id)
            ).scalar()
        if found is None:
            raise ArchitectureNotFound(
                f"No architecture has id {arch_id!r}. Architecture ids are listed by "
                f"`nas trials STUDY --json`."
            )
        return str(found)
