"""Study management and results out: delete, rename and copy a study; trials as a table.

A copy keeps everything the database holds about the study (its row, trials with their numbers,
states, times and errors, metrics, intermediate values, architectures, artifact rows and the
searcher state) and runs in one transaction on the target, so a failed copy leaves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from storage import _validate
from storage._engine import insert
from storage._engine import transaction
from storage._errors import InvalidTransition
from storage._errors import StudyExists
from storage._models import Architecture
from storage._models import Artifact
from storage._models import IntermediateValue
from storage._models import Metric
from storage._models import SearcherState
from storage._models import Study
from storage._models import Trial
from storage._records import StudyRecord
from storage._records import TrialRecord

if TYPE_CHECKING:
    import pandas

# Columns of a trial table before its metrics, in order; ``trial`` is the per-study number.
TRIAL_COLUMNS = ("trial", "id", "state", "arch_id", "searcher", "worker", "node", "started",
                 "finished", "retries", "error")
_ATTRIBUTES = tuple("number" if c == "trial" else c for c in TRIAL_COLUMNS)
# Rows per INSERT of a copy: far below SQLite's bound-parameter limit for the widest table.
_CHUNK = 500


def trial_table(trials: Sequence[TrialRecord]) -> tuple[list[str], list[list[Any]]]:
    """Trials as one row per trial: :data:`TRIAL_COLUMNS`, then one column per metric
    (sorted; a metric named like a fixed column gets a ``metric.`` prefix), empty where a trial
    lacks it. ``nas trials --csv`` and :meth:`ManageMixin.trials_frame` print this table."""
    metrics = sorted({name for t in trials for name in t.metrics})
    headers = [f"metric.{m}" if m in TRIAL_COLUMNS else m for m in metrics]
    rows = [[getattr(t, a) for a in _ATTRIBUTES] + [t.metrics.get(m) for m in metrics]
            for t in trials]
    return [*TRIAL_COLUMNS, *headers], rows


def _rows(conn: Any, query: Any) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in conn.execute(query)]


class ManageMixin:
    _engine: Engine
    _study: Callable[[str], StudyRecord]
    _study_cache: dict[str, StudyRecord]
    url: str
    trials: Callable[..., list[TrialRecord]]

    def _idle(self, name: str, force: bool, action: str) -> StudyRecord:
        """The study, refusing (without ``force``) one whose driver may be running it."""
        self._study_cache.pop(name, None)
        info = self._study(name)
        running = self.trial_counts(name)["RUNNING"]  # type: ignore[attr-defined]
        if running and not force:
            raise InvalidTransition(
                f"Study {name!r} has {running} RUNNING trials, so a driver may be running it; "
                f"{action} it only after that run ends (or pass force=True / --force)."
            )
        return info

    def delete_study(self, name: str, *, force: bool = False) -> int:
        """Delete a study with its trials, metrics, intermediate values, artifact rows and
        searcher state; architectures no other study uses go too. Returns the trials deleted.

        Raises:
            StudyNotFound: no study has that name.
            InvalidTransition: trials are RUNNING and ``force`` is false.
        """
        info = self._idle(name, force, "delete")
        trial_ids = select(Trial.id).where(Trial.study_id == info.id)
        with transaction(self._engine, write=True) as conn:
            archs = set(conn.execute(select(Trial.arch_id).where(Trial.study_id == info.id))
                        .scalars())
            # Explicit, child tables first: SQLite honours ON DELETE CASCADE only with its
            # foreign keys on, and a copy of the file opened elsewhere may have them off.
            for model in (Metric, IntermediateValue, Artifact):
                conn.execute(delete(model).where(model.trial_id.in_(trial_ids)))
            conn.execute(delete(Artifact).where(Artifact.study_id == info.id))
            conn.execute(delete(SearcherState).where(SearcherState.study_id == info.id))
            count = conn.execute(delete(Trial).where(Trial.study_id == info.id)).rowcount
            conn.execute(delete(Study).where(Study.id == info.id))
            still_used = select(Trial.arch_id).where(Trial.arch_id.in_(archs))
            conn.execute(delete(Architecture).where(Architecture.id.in_(archs),
                                                    Architecture.id.not_in(still_used)))
        self._study_cache.pop(name, None)
        return int(count)

    def rename_study(self, old: str, new: str, *, force: bool = False) -> None:
        """Give a study another name; its trials and results stay as they are.

        Raises:
            StudyNotFound: no study is named ``old``.
            StudyExists: a study is named ``new`` already.
            InvalidTransition: trials are RUNNING and ``force`` is false.
        """
        _validate.study_name(new)
        info = self._idle(old, force, "rename")
        with transaction(self._engine, write=True) as conn:
            if conn.execute(select(Study.id).where(Study.name == new)).first() is not None:
                raise StudyExists(
                    f"Cannot rename {old!r} to {new!r}: a study of that name exists. Choose "
                    "another name, or delete that study first (nas delete)."
                )
            conn.execute(update(Study).where(Study.id == info.id).values(name=new))
        self._study_cache.pop(old, None)

    def copy_study(self, name: str, target: Any, *, new_name: str | None = None) -> int:
        """Copy a study, everything kept, into the database ``target`` (another
        :class:`storage.Database`, on either backend). Returns the trials copied.

        Trials keep their numbers, states, times, errors and retries, and get new global ids
        in the target. Architectures the target has already are shared, not duplicated.

        Raises:
            StudyNotFound: no study has that name.
            StudyExists: the target has a study named ``new_name`` (default: ``name``).
        """
        new_name = _validate.study_name(name if new_name is None else new_name)
        info = self._study(name)
        trial_ids = select(Trial.id).where(Trial.study_id == info.id)
        with transaction(self._engine, write=False) as conn:
            study = _rows(conn, select(Study).where(Study.id == info.id))[0]
            trials = _rows(conn, select(Trial).where(Trial.study_id == info.id)
                           .order_by(Trial.number))
            archs = _rows(conn, select(Architecture).where(
                Architecture.id.in_(select(Trial.arch_id).where(Trial.study_id == info.id))))
            children = {model: _rows(conn, select(model).where(model.trial_id.in_(trial_ids)))
                        for model in (Metric, IntermediateValue, Artifact)}
            state = _rows(conn, select(SearcherState).where(
                SearcherState.study_id == info.id))
            own = _rows(conn, select(Artifact).where(Artifact.study_id == info.id,
                                                     Artifact.trial_id.is_(None)))
        with transaction(target._engine, write=True) as conn:
            if conn.execute(select(Study.id).where(Study.name == new_name)).first() is not None:
                raise StudyExists(
                    f"Cannot copy study {name!r}: {target.url} has a study named {new_name!r}. "
                    "Copy it under another name (--as NEW), or delete that one first."
                )
            study_id = conn.execute(
                insert(conn, Study).values({**_without_id(study), "name": new_name})
                .returning(Study.id)).scalar_one()
            _insert(conn, insert(conn, Architecture).on_conflict_do_nothing(
                index_elements=["id"]), archs)
            new_ids: dict[int, int] = {}
            statement = insert(conn, Trial).returning(Trial.id, sort_by_parameter_order=True)
            for start in range(0, len(trials), _CHUNK):
                chunk = trials[start : start + _CHUNK]
                ids = conn.execute(statement, [{**_without_id(t), "study_id": study_id}
                                               for t in chunk]).scalars().all()
                new_ids.update(zip((t["id"] for t in chunk), ids, strict=True))
            for model, rows in children.items():
                _insert(conn, insert(conn, model),
                        [{**_without_id(row), "trial_id": new_ids[row["trial_id"]],
                          **({"study_id": study_id} if model is Artifact else {})}
                         for row in rows])
            _insert(conn, insert(conn, Artifact),
                    [{**_without_id(row), "study_id": study_id} for row in own])
            _insert(conn, insert(conn, SearcherState),
                    [{**row, "study_id": study_id} for row in state])
        return len(trials)

    def trials_frame(self, study: str, state: str | None = None) -> pandas.DataFrame:
        """The study's trials as a pandas DataFrame, one row per trial and a column per metric
        (the table of :func:`storage.trial_table`), indexed by the per-study number ``trial``.

        Raises:
            ImportError: pandas is not installed (``pip install 'hetnas[frames]'``).
        """
        try:
            import pandas
        except ImportError as exc:
            raise ImportError(
                "trials_frame needs pandas, which is not installed. Install it with "
                "pip install 'hetnas[frames]' (or pip install pandas)."
            ) from exc
        columns, rows = trial_table(self.trials(study, state=state))
        frame = pandas.DataFrame(rows, columns=columns)
        for column in ("started", "finished"):
            frame[column] = pandas.to_datetime(frame[column], utc=True)
        return frame.set_index("trial")


def _insert(conn: Any, statement: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), _CHUNK):
        conn.execute(statement, rows[start : start + _CHUNK])


def _without_id(row: dict[str, Any]) -> dict[str, Any]:
    # The target numbers its own rows; PostgreSQL refuses an explicit NULL key.
    return {k: v for k, v in row.items() if k != "id"}
