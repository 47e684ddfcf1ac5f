"""What the study database keeps besides trials: searcher state, devices, kernel profiles,
latency models and artifacts."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select

from storage._engine import insert
from storage._engine import transaction
from storage._errors import TrialNotFound
from storage._models import Artifact
from storage._models import Device
from storage._models import KernelProfile
from storage._models import LatencyModel
from storage._models import SearcherState
from storage._models import Trial
from storage._records import StudyRecord
from storage._time import from_db
from storage._time import to_db
from storage._time import utcnow


def _device_id(
    conn: Connection, name: str, kind: str | None = None, spec: Mapping[str, Any] | None = None
) -> int:
    statement = insert(conn, Device).values(
        name=name, kind=kind or name.split(":")[0].split("-")[0], spec=dict(spec or {})
    )
    conn.execute(statement.on_conflict_do_nothing(index_elements=["name"]))
    return int(conn.execute(select(Device.id).where(Device.name == name)).scalar_one())


class ResourceMixin:
    _engine: Engine
    _study: Callable[[str], StudyRecord]

    def save_searcher_state(self, study: str, state: Mapping[str, Any]) -> None:
        """Keep the searcher's JSON ``state_dict()`` (replacing the previous one)."""
        study_id = self._study(study).id
        with transaction(self._engine, write=True) as conn:
            statement = insert(conn, SearcherState).values(
                study_id=study_id, state=dict(state), updated=utcnow()
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["study_id"],
                    set_={
                        "state": statement.excluded.state,
                        "updated": statement.excluded.updated,
                    },
                )
            )

    def searcher_state(self, study: str) -> dict[str, Any] | None:
        """The last saved searcher state, or ``None``."""
        study_id = self._study(study).id
        with transaction(self._engine, write=False) as conn:
            state = conn.execute(
                select(SearcherState.state).where(SearcherState.study_id == study_id)
            ).scalar()
        return None if state is None else dict(state)

    def add_device(self, name: str, *, kind: str, spec: Mapping[str, Any] | None = None) -> None:
        """Register a device (a no-op when the name exists)."""
        with transaction(self._engine, write=True) as conn:
            _device_id(conn, name, kind, spec)

    def devices(self) -> list[dict[str, Any]]:
        """Every known device: ``name``, ``kind``, ``spec``."""
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(select(Device).order_by(Device.name)).all()
        return [{"name": d.name, "kind": d.kind, "spec": dict(d.spec)} for d in rows]

    def add_profiles(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Store kernel profile records (the ``kernels.profile`` form); returns how many."""
        records = list(records)
        with transaction(self._engine, write=True) as conn:
            devices = {
                name: _device_id(
                    conn,
                    name,
                    spec=next((r.get("hardware") or {}) for r in records if r["device"] == name),
                )
                for name in {r["device"] for r in records}
            }
            if records:
                conn.execute(
                    insert(conn, KernelProfile),
                    [
                        {
                            "device_id": devices[r["device"]],
                            "op": r["op"],
                            "shape": dict(r["shape"]),
                            "dtype": r.get("dtype", "float32"),
                            "median_ms": float(r["median_ms"]),
                            "spread": float(r["spread"]),
                            "repeats": int(r["repeats"]),
                            "threads": r.get("threads"),
                            "software": dict(r.get("software") or {}),
                            "hardware": dict(r.get("hardware") or {}),
                            "measured_at": to_db(r.get("measured_at")),
                        }
                        for r in records
                    ],
                )
        return len(records)

    def profiles(self, device: str, op: str | None = None) -> list[dict[str, Any]]:
        """The device's kernel profile records (``kernels.profile`` form), oldest first;
        empty when the device was never profiled."""
        query = (
            select(KernelProfile, Device.name.label("device_name"))
            .join(Device, Device.id == KernelProfile.device_id)
            .where(Device.name == device)
        )
        if op is not None:
            query = query.where(KernelProfile.op == op)
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(query.order_by(KernelProfile.id)).all()
        return [
            {
                "device": p.device_name,
                "op": p.op,
                "shape": dict(p.shape),
                "dtype": p.dtype,
                "median_ms": p.median_ms,
                "spread": p.spread,
                "repeats": p.repeats,
                "threads": p.threads,
                "software": dict(p.software),
                "hardware": dict(p.hardware),
                "measured_at": from_db(p.measured_at),
            }
            for p in rows
        ]

    def save_latency_model(
        self, device: str, params: Mapping[str, Any], validation: Mapping[str, Any]
    ) -> int:
        """Store a calibrated latency model as the device's next version; returns the version."""
        with transaction(self._engine, write=True) as conn:
            device_id = _device_id(conn, device)
            conn.execute(select(Device.id).where(Device.id == device_id).with_for_update())
            last = conn.execute(
                select(func.max(LatencyModel.version)).where(LatencyModel.device_id == device_id)
            ).scalar()
            version = 1 if last is None else last + 1
            conn.execute(
                insert(conn, LatencyModel).values(
                    device_id=device_id,
                    version=version,
                    params=dict(params),
                    validation=dict(validation),
                    created=utcnow(),
                )
            )
        return version

    def latency_model(self, device: str) -> dict[str, Any] | None:
        """The device's newest latency model, or ``None``."""
        with transaction(self._engine, write=False) as conn:
            row = conn.execute(
                select(LatencyModel)
                .join(Device, Device.id == LatencyModel.device_id)
                .where(Device.name == device)
                .order_by(LatencyModel.version.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        return {
            "device": device,
            "version": row.version,
            "params": dict(row.params),
            "validation": dict(row.validation),
            "created": from_db(row.created),
        }

    def add_artifact(self, trial_id: int, path: str, sha256: str, kind: str = "file") -> int:
        """Record a file a trial produced (checkpoint, log); returns the artifact id."""
        with transaction(self._engine, write=True) as conn:
            study_id = conn.execute(select(Trial.study_id).where(Trial.id == trial_id)).first()
            if study_id is None:
                raise TrialNotFound(f"No trial has id {trial_id}.")
            return int(
                conn.execute(
                    insert(conn, Artifact)
                    .values(trial_id=trial_id, study_id=study_id[0], kind=kind, path=str(path),
                            sha256=sha256, created=utcnow())
                    .returning(Artifact.id)
                ).scalar_one()
            )

    def add_study_artifact(self, study: str, kind: str, path: str, sha256: str) -> int:
        """Record a file that belongs to a whole study (e.g. a one-shot supernet checkpoint,
        ``kind="supernet"``); returns the artifact id."""
        study_id = self._study(study).id
        with transaction(self._engine, write=True) as conn:
            return int(
                conn.execute(
                    insert(conn, Artifact)
                    .values(study_id=study_id, kind=kind, path=str(path), sha256=sha256,
                            created=utcnow())
                    .returning(Artifact.id)
                ).scalar_one()
            )

    def artifacts(self, trial_id: int) -> list[dict[str, Any]]:
        """The trial's artifacts: ``kind``, ``path``, ``sha256``, ``created``."""
        return self._artifacts(Artifact.trial_id == trial_id)

    def study_artifacts(self, study: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The study's own artifacts (not its trials'), oldest first, of ``kind`` if given."""
        where = (Artifact.study_id == self._study(study).id) & Artifact.trial_id.is_(None)
        return self._artifacts(where if kind is None else where & (Artifact.kind == kind))

    def _artifacts(self, where: Any) -> list[dict[str, Any]]:
        with transaction(self._engine, write=False) as conn:
            rows = conn.execute(select(Artifact).where(where).order_by(Artifact.id)).all()
            return [{"kind": a.kind, "path": a.path, "sha256": a.sha256,
                     "created": from_db(a.created)} for a in rows]
