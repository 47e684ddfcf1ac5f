"""The ``Database`` facade: studies and the trial life cycle (one transaction per change)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import bindparam
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from storage import _validate
from storage._columns import ColumnsMixin
from storage._engine import insert
from storage._engine import make_engine
from storage._engine import transaction
from storage._errors import InvalidQuery
from storage._errors import InvalidTransition
from storage._errors import StudyExists
from storage._errors import StudyNotFound
from storage._errors import TrialNotFound
from storage._manage import ManageMixin
from storage._models import TRIAL_STATES
from storage._models import Architecture
from storage._models import IntermediateValue
from storage._models import Metric
from storage._models import Study
from storage._models import Trial
from storage._queries import CHUNK
from storage._queries import trial_records
from storage._queries import trial_select
from storage._queries import trials_by_id
from storage._read import ReadMixin
from storage._records import StudyRecord
from storage._records import TrialRecord
from storage._resources import ResourceMixin
from storage._schema import ensure_schema
from storage._time import from_db
from storage._time import utcnow

# Which states a trial may move to from which: a finished trial never runs again, and a
# RUNNING trial goes back to QUEUED only through a requeue (which counts a retry).
TRANSITIONS = {
    "QUEUED": ("RUNNING",),
    "RUNNING": ("COMPLETE", "FAILED", "PRUNED", "QUEUED"),
    "COMPLETE": (),
    "FAILED": (),
    "PRUNED": (),
}
_FIX = {
    "RUNNING": "Claim a QUEUED trial with claim_trial(), or enqueue the architecture again "
    "with add_trials().",
    "COMPLETE": "Only a RUNNING trial can finish; start it first.",
    "PRUNED": "Only a RUNNING trial can be pruned; start it first.",
    "FAILED": "Only a RUNNING trial can fail; use recover() for trials of dead workers.",
    "QUEUED": "Only a RUNNING trial can be re-queued.",
}


def spec_hash(spec_source: str | None) -> str | None:
    """The sha256 stored beside a spec's source."""
    return spec_source and hashlib.sha256(spec_source.encode()).hexdigest()


def _canonical(arch_json: str | Mapping[str, Any]) -> str:
    if isinstance(arch_json, str):
        return arch_json
    return json.dumps(arch_json, sort_keys=True, separators=(",", ":"))


def _row(arch: Any) -> tuple[str, str]:
    """``(arch_id, canonical JSON)`` of an architecture: an object with ``id`` and
    ``to_json()`` (a ``space.Architecture``), or such a pair already."""
    if hasattr(arch, "to_json") and hasattr(arch, "id"):
        return arch.id, arch.to_json()
    arch_id, js = arch
    return arch_id, _canonical(js)


@dataclasses.dataclass(frozen=True)
class TrialOutcome:
    """How a RUNNING trial ended, for :meth:`Database.finish_trials`.

    Attributes:
        trial_id: the trial's global id.
        state: ``COMPLETE``, ``PRUNED`` or ``FAILED``.
        metrics: name -> finite number (ignored for FAILED).
        values: intermediate ``(name, step, value)`` triples it reported.
        error: why it failed (FAILED), else None.
    """

    trial_id: int
    state: str
    metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)
    values: Sequence[tuple[str, int, float]] = ()
    error: str | None = None


class Database(ResourceMixin, ReadMixin, ColumnsMixin, ManageMixin):
    """A study database. Create it with :func:`storage.connect`.

    Every method runs in its own transaction and is safe to call from many processes at once;
    a process that dies mid-call leaves nothing half-written. Instances hold a small connection
    pool: call :meth:`close` (or use ``with``) when done.
    """

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = url
        self.read_only = read_only
        self._engine = make_engine(url, read_only=read_only)
        self._study_cache: dict[str, StudyRecord] = {}
        try:
            ensure_schema(self._engine, url, create=not read_only)
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self._engine.url.render_as_string(hide_password=True)!r})"

    # -- studies -----------------------------------------------------------------------------

    def create_study(
        self,
        name: str,
        *,
        objectives: Mapping[str, str],
        constraints: Sequence[Mapping[str, Any]] = (),
        spec_source: str | None = None,
        searcher: str | None = None,
        space_hash: str | None = None,
        settings: Mapping[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> StudyRecord:
        """Create a study and return it as :meth:`get_study` does.

        Args:
            name: unique name.
            objectives: metric name -> ``"min"`` or ``"max"``; the first is the primary one.
            constraints: dicts with ``metric``, ``op`` (``<``, ``<=``, ...) and ``bound``.
            spec_source: the spec file's text; its sha256 is stored beside it.
            searcher: name of the searcher that drives the study.
            space_hash: ``Space.hash`` of the search space.
            settings: any JSON-able options worth keeping (trials, seed, ...).
            exist_ok: return the existing study of that name if its objectives are the same.

        Raises:
            StudyExists: the name is taken (and ``exist_ok`` is false, or objectives differ).
            InvalidQuery: a bad objective direction or constraint.
        """
        _validate.study_name(name)
        objectives = _validate.objectives(objectives)
        checked = _validate.constraints(constraints)
        with transaction(self._engine, write=True) as conn:
            # Create-or-join in one statement: drivers starting a new study at the same instant
            # all get it, one of them creating it (a SELECT then INSERT would race on PostgreSQL).
            created = conn.execute(
                insert(conn, Study)
                .values(
                    name=name,
                    spec_source=spec_source,
                    spec_hash=spec_hash(spec_source),
                    space_hash=space_hash,
                    searcher=searcher,
                    objectives=objectives,
                    constraints=checked,
                    settings=dict(settings or {}),
                    created=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(Study.id)
            ).first()
        existing = None if created is not None else name
        study = self.get_study(name)
        if existing is not None and not (exist_ok and study.objectives == objectives):
            reason = "objectives differ" if exist_ok else "names are unique"
            raise StudyExists(
                f"Study {name!r} already exists ({reason}: it has objectives "
                f"{study.objectives}). Choose another name, or resume the existing study."
            )
        return study

    def update_study(
        self,
        name: str,
        *,
        constraints: Sequence[Mapping[str, Any]] | None = None,
        searcher: str | None = None,
        spec_source: str | None = None,
        change: Mapping[str, Any] | None = None,
    ) -> None:
        """Change what a continued study is searched with; ``change`` (JSON-able, e.g. the
        old and new values) is appended to ``settings["changes"]`` with the time."""
        values: dict[str, Any] = {}
        if constraints is not None:
            values["constraints"] = _validate.constraints(constraints)
        if searcher is not None:
            values["searcher"] = searcher
        if spec_source is not None:
            values["spec_source"] = spec_source
            values["spec_hash"] = spec_hash(spec_source)
        with transaction(self._engine, write=True) as conn:
            row = conn.execute(select(Study.id, Study.settings).where(Study.name == name)
                               .with_for_update()).first()
            if row is None:
                raise StudyNotFound(f"No study is named {name!r}. Run `nas studies`.")
            if change:
                settings = dict(row.settings)
                settings["changes"] = [*settings.get("changes", []),
                                       {"at": utcnow().isoformat(), **change}]
                values["settings"] = settings
            if values:
                conn.execute(update(Study).where(Study.id == row.id).values(**values))
        self._study_cache.pop(name, None)

    def get_study(self, name: str) -> StudyRecord:
        """The study, with its trial counts per state.

        Raises:
            StudyNotFound: no study has that name (the message lists the existing ones).
        """
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(select(Study).where(Study.name == name)).first()
            if row is None:
                names = conn.execute(select(Study.name).order_by(Study.name)).scalars().all()
                raise StudyNotFound(
                    f"No study is named {name!r}. Existing studies: "
                    f"{', '.join(names) or '(none)'}. Run `nas studies` to list them."
                )
            counts = _state_counts(conn, row.id)
        return self._study_record(row, counts)

    def trial_counts(self, name: str) -> dict[str, int]:
        """The study's trials per state (every state, zeros included): one small query, for
        drivers that check the budget before each new trial."""
        study_id = self._study(name).id
        with transaction(self._engine, write=False) as conn:
            counts = _state_counts(conn, study_id)
        return {state: int(counts.get(state, 0)) for state in TRIAL_STATES}

    def studies(self) -> list[StudyRecord]:
        """Every study with its trial counts per state, oldest first."""
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(select(Study).order_by(Study.id)).all()
            counts: dict[int, dict[str, int]] = {row.id: {} for row in rows}
            for study_id, state, n in conn.execute(
                select(Trial.study_id, Trial.state, func.count()).group_by(
                    Trial.study_id, Trial.state
                )
            ):
                counts[study_id][state] = n
        return [self._study_record(row, counts[row.id]) for row in rows]

    @staticmethod
    def _study_record(row: Any, counts: Mapping[str, int]) -> StudyRecord:
        return StudyRecord(
            name=row.name,
            id=row.id,
            objectives=dict(row.objectives),
            constraints=list(row.constraints),
            searcher=row.searcher,
            spec_source=row.spec_source,
            spec_hash=row.spec_hash,
            space_hash=row.space_hash,
            settings=dict(row.settings),
            created=from_db(row.created),
            counts={state: int(counts.get(state, 0)) for state in TRIAL_STATES},
            trials=int(sum(counts.values())),
        )

    def _study(self, name: str) -> StudyRecord:
        # Studies are never renamed or edited, so their id and objectives can be cached.
        if name not in self._study_cache:
            self._study_cache[name] = self.get_study(name)
        return self._study_cache[name]

    # -- trial life cycle --------------------------------------------------------------------

    def add_trials(
        self,
        study: str,
        archs: Iterable[Any],
        *,
        searcher: str | None = None,
        state: str = "QUEUED",
    ) -> list[int]:
        """Enqueue architectures as new trials of a study (numbered on from the last one).

        Args:
            study: study name.
            archs: ``space.Architecture`` objects (or ``(arch_id, canonical_json)`` pairs).
            searcher: name recorded on each trial.
            state: ``"QUEUED"``, or ``"RUNNING"`` for trials the caller runs right away.

        Returns:
            The new trials' global ids, in input order; an architecture already in the study
            (in any state) is skipped, so the list can be shorter than the input.
        """
        if state not in ("QUEUED", "RUNNING"):
            raise InvalidTransition(
                f"New trials must be QUEUED or RUNNING; got {state!r}. Store finished results "
                f"with add_results()."
            )
        rows = [_row(a) for a in archs]
        return list(self._insert_trials(study, rows, searcher=searcher, state=state,
                                        metrics=None).values())

    def add_results(
        self,
        study: str,
        results: Iterable[tuple[Any, Mapping[str, float]]],
        *,
        searcher: str | None = None,
    ) -> list[int]:
        """Store finished evaluations (warm starts, imports) as COMPLETE trials in one transaction.

        Args:
            study: study name.
            results: ``(architecture, metrics)`` pairs (an architecture as for
                :meth:`add_trials`), or ``(arch_id, canonical_json, metrics)`` triples.
            searcher: name recorded on each trial.

        Returns:
            The new trials' ids; an architecture already in the study is skipped.
        """
        rows, metrics = [], []
        for *arch, values in results:
            rows.append(_row(arch[0] if len(arch) == 1 else arch))
            metrics.append(_validate.metrics(values))
        return list(self._insert_trials(
            study, rows, searcher=searcher, state="COMPLETE", metrics=metrics
        ).values())

    def start_trials(
        self,
        study: str,
        archs: Iterable[Any],
        *,
        worker: str,
        node: str,
        searcher: str | None = None,
        budget: int | None = None,
    ) -> dict[str, int]:
        """Record architectures new to the study as RUNNING trials of ``worker``, atomically.

        The check that an architecture is new to the study and its claim are one transaction
        (and a unique index backs it), so drivers sharing a study never evaluate one
        architecture twice, whatever their seeds.

        Args:
            study: study name.
            archs: architectures, as for :meth:`add_trials`.
            worker: the claiming driver; it renews the trials' lease (:meth:`renew_leases`).
            node: its host.
            searcher: name recorded on each trial.
            budget: at most this many trials RUNNING or finished in the study afterwards
                (QUEUED ones are not counted); the pairs beyond it are left out.

        Returns:
            arch_id -> new trial id, for the architectures taken, in input order; one already
            in the study (in any state) or beyond the budget is absent.
        """
        rows = [_row(a) for a in archs]
        return self._insert_trials(study, rows, searcher=searcher, state="RUNNING",
                                   metrics=None, worker=worker, node=node, budget=budget)

    def _insert_trials(
        self,
        study: str,
        rows: Sequence[tuple[str, str]],
        *,
        searcher: str | None,
        state: str,
        metrics: Sequence[dict[str, float]] | None,
        worker: str | None = None,
        node: str | None = None,
        budget: int | None = None,
    ) -> dict[str, int]:
        info = self._study(study)
        if not rows:
            return {}
        now = utcnow()
        with transaction(self._engine, write=True) as conn:
            # Locking the study row numbers concurrent batches one after the other, and makes
            # the test for new architectures and the budget below exact.
            conn.execute(select(Study.id).where(Study.id == info.id).with_for_update())
            last = conn.execute(
                select(func.max(Trial.number)).where(Trial.study_id == info.id)
            ).scalar()
            first = 0 if last is None else last + 1
            seen = _present(conn, info.id, [arch_id for arch_id, _ in rows])
            fresh: dict[str, tuple[str, dict[str, float] | None]] = {}
            for i, (arch_id, js) in enumerate(rows):
                if arch_id not in seen and arch_id not in fresh:
                    fresh[arch_id] = (js, None if metrics is None else metrics[i])
            if budget is not None:
                used = conn.execute(
                    select(func.count()).where(Trial.study_id == info.id,
                                               Trial.state != "QUEUED")
                ).scalar()
                fresh = dict(list(fresh.items())[:max(0, budget - int(used or 0))])
            if not fresh:
                return {}
            conn.execute(
                insert(conn, Architecture).on_conflict_do_nothing(index_elements=["id"]),
                [
                    {"id": a, "json": js, "space_hash": info.space_hash, "created": now}
                    for a, (js, _) in fresh.items()
                ],
            )
            running = state != "QUEUED"
            ids = (
                conn.execute(
                    insert(conn, Trial).returning(Trial.id, sort_by_parameter_order=True),
                    [
                        {
                            "study_id": info.id,
                            "number": first + i,
                            "state": state,
                            "arch_id": arch_id,
                            "searcher": searcher,
                            "queued": now,
                            "started": now if running else None,
                            "finished": now if state == "COMPLETE" else None,
                            "heartbeat": now if state == "RUNNING" else None,
                            "retries": 0,
                            "worker": worker,
                            "node": node,
                            "error": None,
                        }
                        for i, arch_id in enumerate(fresh)
                    ],
                )
                .scalars()
                .all()
            )
            if metrics is not None:
                values = [
                    {"trial_id": trial_id, "name": name, "value": value}
                    for trial_id, (_, named) in zip(ids, fresh.values(), strict=True)
                    for name, value in (named or {}).items()
                ]
                if values:
                    conn.execute(insert(conn, Metric), values)
        return dict(zip(fresh, ids, strict=True))

    def claim_trial(
        self, study: str, *, worker: str, node: str, budget: int | None = None
    ) -> TrialRecord | None:
        """Atomically take the lowest-numbered QUEUED trial and mark it RUNNING.

        Two workers never get the same trial: PostgreSQL skips rows another transaction has
        locked (``FOR UPDATE SKIP LOCKED``); SQLite runs the claim under its write lock.

        Args:
            budget: claim only while fewer trials than this are RUNNING or finished.

        Returns:
            The claimed trial, or ``None`` when nothing is queued (or the budget is
            spent).
        """
        info = self._study(study)
        with transaction(self._engine, write=True) as conn:
            if budget is not None:
                # The study row's lock makes the count and the claim one step across drivers.
                conn.execute(select(Study.id).where(Study.id == info.id).with_for_update())
                used = conn.execute(
                    select(func.count()).where(Trial.study_id == info.id,
                                               Trial.state != "QUEUED")
                ).scalar()
                if int(used or 0) >= budget:
                    return None
            trial_id = conn.execute(
                select(Trial.id)
                .where(Trial.study_id == info.id, Trial.state == "QUEUED")
                .order_by(Trial.number)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar()
            if trial_id is None:
                return None
            conn.execute(
                update(Trial)
                .where(Trial.id == trial_id)
                .values(state="RUNNING", worker=worker, node=node, started=utcnow(),
                        heartbeat=utcnow(), finished=None)
            )
            return trial_records(conn, trial_select().where(Trial.id == trial_id))[0]

    def start_trial(self, trial_id: int, *, worker: str, node: str) -> None:
        """Mark a known QUEUED trial RUNNING (a claim for a trial chosen by id)."""
        with transaction(self._engine, write=True) as conn:
            self._move(
                conn,
                trial_id,
                "RUNNING",
                worker=worker,
                node=node,
                started=utcnow(),
                heartbeat=utcnow(),
                finished=None,
            )

    def renew_leases(self, worker: str) -> int:
        """Renew the lease of every RUNNING trial of ``worker`` (one statement); returns how
        many it holds. A driver calls it well within the lease time :meth:`recover` uses."""
        with transaction(self._engine, write=True) as conn:
            return int(conn.execute(
                update(Trial).where(Trial.worker == worker, Trial.state == "RUNNING")
                .values(heartbeat=utcnow())
            ).rowcount)

    def finish_trials(self, outcomes: Iterable[TrialOutcome]) -> list[int]:
        """Record finished trials, each with its metrics and intermediate values, in one
        transaction (a lone trial or a whole batch).

        Every outcome is checked before anything is written, so a value the database would
        refuse raises here, on SQLite and PostgreSQL alike, and nothing is half-written.

        Returns:
            The ids of trials that were no longer RUNNING (another driver re-queued them after
            their lease expired); they are left as they are.

        Raises:
            InvalidQuery: a metric or intermediate value breaks a rule (name, type, size).
            InvalidTransition: an outcome's state is not COMPLETE, PRUNED or FAILED.
        """
        checked = []
        for out in outcomes:
            if out.state not in ("COMPLETE", "PRUNED", "FAILED"):
                raise InvalidTransition(
                    f"A trial finishes as COMPLETE, PRUNED or FAILED; got {out.state!r} for "
                    f"trial {out.trial_id}."
                )
            metrics = _validate.metrics(out.metrics) if out.state != "FAILED" else {}
            steps = {(n, st): v for n, st, v in _validate.values(out.values)}
            checked.append((out, metrics, steps))
        if not checked:
            return []
        now = utcnow()
        ids = [out.trial_id for out, _, _ in checked]
        with transaction(self._engine, write=True) as conn:
            # Whole-batch statements (a batch can hold 2,000 trials): lock the trials still
            # RUNNING, then update them and insert their values with one executemany each.
            running: set[int] = set()
            for i in range(0, len(ids), CHUNK):
                running.update(conn.execute(
                    select(Trial.id).where(Trial.id.in_(ids[i:i + CHUNK]),
                                           Trial.state == "RUNNING").with_for_update()
                ).scalars())
            kept = [item for item in checked if item[0].trial_id in running]
            lost = [trial_id for trial_id in ids if trial_id not in running]
            if kept:
                conn.execute(
                    update(Trial).where(Trial.id == bindparam("tid"))
                    .values(state=bindparam("new_state"), finished=now,
                            error=bindparam("why"))
                    .execution_options(synchronize_session=False),
                    [{"tid": out.trial_id, "new_state": out.state, "why": out.error}
                     for out, _, _ in kept],
                )
            metric_rows = [{"trial_id": out.trial_id, "name": k, "value": v}
                           for out, metrics, _ in kept for k, v in metrics.items()]
            if metric_rows:
                conn.execute(insert(conn, Metric), metric_rows)
            value_rows = [{"trial_id": out.trial_id, "name": n, "step": st, "value": v}
                          for out, _, steps in kept for (n, st), v in steps.items()]
            if value_rows:
                conn.execute(insert(conn, IntermediateValue), value_rows)
        return lost

    def finish_trial(
        self, trial_id: int, metrics: Mapping[str, float], *, state: str = "COMPLETE"
    ) -> None:
        """Record a RUNNING trial's metrics and mark it COMPLETE (or PRUNED), atomically.

        Raises:
            InvalidTransition: the trial is not RUNNING, or ``state`` is not a finished state.
            InvalidQuery: a metric value is not a finite number.
        """
        if state not in ("COMPLETE", "PRUNED"):
            raise InvalidTransition(
                f"finish_trial() ends a trial as COMPLETE or PRUNED; got {state!r}. "
                f"Use fail_trial() for failures."
            )
        values = _validate.metrics(metrics)
        with transaction(self._engine, write=True) as conn:
            self._move(conn, trial_id, state, finished=utcnow())
            if values:
                conn.execute(
                    insert(conn, Metric),
                    [{"trial_id": trial_id, "name": k, "value": v} for k, v in values.items()],
                )

    def fail_trial(self, trial_id: int, error: str, *, requeue: bool = False) -> None:
        """Mark a RUNNING trial FAILED, or put it back in the queue counting one retry."""
        with transaction(self._engine, write=True) as conn:
            self._fail(conn, trial_id, error, requeue)

    def _fail(self, conn: Connection, trial_id: int, error: str, requeue: bool) -> None:
        if requeue:
            self._move(conn, trial_id, "QUEUED", error=error, worker=None, node=None,
                       started=None, heartbeat=None, retries=Trial.retries + 1)
        else:
            self._move(conn, trial_id, "FAILED", error=error, finished=utcnow())

    def _move(self, conn: Connection, trial_id: int, state: str, **values: Any) -> None:
        allowed = [old for old, new in TRANSITIONS.items() if state in new]
        # A conditional UPDATE checks and changes the state in one statement, so two processes
        # racing to finish the same trial cannot both succeed (cf. optuna/optuna#5582).
        done = conn.execute(
            update(Trial)
            .where(Trial.id == trial_id, Trial.state.in_(allowed))
            .values(state=state, **values)
        ).rowcount
        if done == 1:
            return
        current = conn.execute(select(Trial.state).where(Trial.id == trial_id)).scalar()
        if current is None:
            raise TrialNotFound(f"No trial has id {trial_id}. Run `nas trials STUDY` to list ids.")
        raise InvalidTransition(
            f"A trial may become {state} only from {' or '.join(allowed)}; trial {trial_id} is "
            f"{current}. {_FIX[state]}"
        )

    def report(self, trial_id: int, name: str, step: int, value: float) -> None:
        """Record an intermediate value of a RUNNING trial; a repeated step overwrites."""
        number = _validate.metric_value(name, value)
        with transaction(self._engine, write=True) as conn:
            current = conn.execute(select(Trial.state).where(Trial.id == trial_id)).scalar()
            if current is None:
                raise TrialNotFound(f"No trial has id {trial_id}.")
            if current != "RUNNING":
                raise InvalidTransition(
                    f"Intermediate values are reported only by RUNNING trials; trial {trial_id} "
                    f"is {current}."
                )
            statement = insert(conn, IntermediateValue).values(
                trial_id=trial_id, name=name, step=int(step), value=number
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["trial_id", "name", "step"],
                    set_={"value": statement.excluded.value},
                )
            )

    def recover(
        self,
        study: str,
        *,
        alive: Iterable[str] | None = None,
        workers: Iterable[str] | None = None,
        stale_after: float | None = None,
        lease_s: float | None = None,
        requeue: bool = False,
        error: str = "worker died while the trial was running",
    ) -> list[int]:
        """Fail or re-queue RUNNING trials whose worker is gone; returns their ids.

        Call it when a runner (re)starts: with no arguments every RUNNING trial of the study is
        taken to be orphaned.

        Args:
            study: study name.
            alive: workers known to be running; their trials are left alone.
            workers: only trials of these workers (known to be dead).
            stale_after: only trials started more than this many seconds ago.
            lease_s: only trials whose lease was last renewed (:meth:`renew_leases`) more than
                this many seconds ago, whatever host they ran on: the one routine by which
                drivers take back the work of a dead one.
            requeue: re-queue (counting a retry) instead of marking FAILED.
            error: text stored as the trial's error.
        """
        info = self._study(study)
        query = select(Trial.id).where(Trial.study_id == info.id, Trial.state == "RUNNING")
        if alive is not None:
            query = query.where(Trial.worker.not_in(list(alive)))
        if workers is not None:
            query = query.where(Trial.worker.in_(list(workers)))
        if stale_after is not None:
            query = query.where(Trial.started < utcnow() - timedelta(seconds=stale_after))
        if lease_s is not None:
            renewed = func.coalesce(Trial.heartbeat, Trial.started, Trial.queued)
            query = query.where(renewed < utcnow() - timedelta(seconds=lease_s))
        with transaction(self._engine, write=True) as conn:
            ids = list(conn.execute(query.order_by(Trial.id).with_for_update()).scalars())
            for trial_id in ids:
                self._fail(conn, trial_id, error, requeue)
        return ids

    def trial(self, trial_id: int) -> TrialRecord:
        """One trial by global id.

        Raises:
            TrialNotFound: no trial has that id.
        """
        with transaction(self._engine, write=False) as conn:
            found = trials_by_id(conn, [trial_id])
        if not found:
            raise TrialNotFound(
                f"No trial has id {trial_id}. Run `nas trials STUDY` to list trial ids."
            )
        return found[0]

    def intermediate_values(self, study: str) -> dict[int, list[tuple[str, int, float]]]:
        """Every trial's reported ``(name, step, value)`` triples, by trial id, in step order;
        trials that reported nothing are absent. A resumed run's pruner is rebuilt from them."""
        info = self._study(study)
        query = (
            select(IntermediateValue.trial_id, IntermediateValue.name, IntermediateValue.step,
                   IntermediateValue.value)
            .join(Trial, Trial.id == IntermediateValue.trial_id)
            .where(Trial.study_id == info.id)
            .order_by(IntermediateValue.trial_id, IntermediateValue.step, IntermediateValue.name)
        )
        out: dict[int, list[tuple[str, int, float]]] = {}
        with transaction(self._engine, write=False) as conn:
            for trial_id, name, step, value in conn.execute(query):
                out.setdefault(trial_id, []).append((name, step, value))
        return out

    def trials(self, study: str, state: str | None = None) -> list[TrialRecord]:
        """The study's trials in number order, optionally only those in one state."""
        info = self._study(study)
        if state is not None and state not in TRIAL_STATES:
            raise InvalidQuery(f"Trial states are {', '.join(TRIAL_STATES)}; got {state!r}.")
        query = trial_select().where(Trial.study_id == info.id)
        if state is not None:
            query = query.where(Trial.state == state)
        with transaction(self._engine, write=False) as conn:
            return trial_records(conn, query.order_by(Trial.number))


def _present(conn: Connection, study_id: int, arch_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = list(dict.fromkeys(arch_ids))
    for i in range(0, len(unique), CHUNK):
        found.update(conn.execute(
            select(Trial.arch_id).where(Trial.study_id == study_id,
                                        Trial.arch_id.in_(unique[i:i + CHUNK]))
        ).scalars())
    return found


def _state_counts(conn: Connection, study_id: int) -> dict[str, int]:
    query = (select(Trial.state, func.count()).where(Trial.study_id == study_id)
             .group_by(Trial.state))
    return dict(conn.execute(query).all())
