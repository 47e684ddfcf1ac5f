"""The dashboard's one view of storage: a read-only connection and JSON-ready rows.

Every storage call the dashboard makes is here, so a change in what storage returns (typed
records) touches this module only: the rest of the dashboard sees JSON-ready dicts. Trials go
to the browser as columns, a 20,000-trial study once, then only the trials that changed; the
server keeps each study's columns and brings them up to date with the same incremental reads,
so a reload does not read the whole study again.
"""

from __future__ import annotations

import json
import operator
import threading
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import storage

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}


def feasible(metrics: Mapping[str, float], constraints: list[dict[str, Any]]) -> bool:
    """Whether a trial's metrics meet every constraint (a missing metric fails it), as
    ``storage.best`` and ``storage.pareto`` judge it."""
    return all(
        c["metric"] in metrics and _OPS[c["op"]](metrics[c["metric"]], float(c["bound"]))
        for c in constraints
    )


class Source:
    """A read-only study database as the dashboard reads it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = storage.connect(url, read_only=True)
        self._columns: dict[str, _Columns] = {}
        # Starlette runs each request in a worker thread; one study's columns change under one.
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def studies(self) -> list[dict[str, Any]]:
        """Every study with its counts and the best feasible value of each objective."""
        out = []
        for info in self._db.studies():
            best: dict[str, Any] = {}
            for name in info.objectives:
                found = self._db.best(info.name, k=1, objective=name)
                if found:
                    best[name] = {"value": found[0].metrics[name], "trial": found[0].number,
                                  "id": found[0].id}
            out.append({**_study(info), "best": best})
        return out

    def study(self, name: str) -> dict[str, Any]:
        info = self._db.get_study(name)
        return {**_study(info), "spec_source": info.spec_source}

    def study_trials(self, info: Mapping[str, Any]) -> tuple[bytes, str]:
        """Every trial of the study as the page's encoded columns (see
        :meth:`_Columns.payload`), and the cursor for its polls.

        The columns stay in this process and each call brings them up to date with the same
        incremental read a poll makes, so only a study's first load reads all of its trials;
        the encoding is redone only when a trial changed.
        """
        with self._lock:
            kept = self._columns.get(info["name"])
            if kept is None or kept.study != (info["id"], info["created"]):
                arrays, cursor = self._db.trial_arrays(info["name"])
                kept = _Columns((info["id"], info["created"]), info["constraints"])
                self._columns[info["name"]] = kept
            else:
                arrays, cursor = self._db.trial_arrays(info["name"], kept.cursor)
            kept.merge(arrays)
            kept.cursor = cursor
            if kept.body is None:
                kept.body = _dumps(kept.payload())
            return kept.body, cursor

    def changes(self, name: str, constraints: list[dict[str, Any]],
                since: str | None) -> tuple[dict[str, Any], str]:
        """The trials changed since the cursor ``since`` (all of them for ``None``), as the
        page's columns (see :meth:`_Columns.payload`), and the next cursor."""
        arrays, cursor = self._db.trial_arrays(name, since)
        columns = _Columns(None, constraints)
        columns.merge(arrays)
        return columns.payload(), cursor

    def matching_ids(self, name: str, where: str) -> list[int]:
        return self._db.matching_ids(name, where)

    def curves(self, name: str) -> dict[int, dict[str, list[list[float]]]]:
        """Intermediate values by trial id and metric name, as ``[step, value]`` pairs."""
        out: dict[int, dict[str, list[list[float]]]] = {}
        for trial_id, values in self._db.intermediate_values(name).items():
            for metric, step, value in values:
                out.setdefault(trial_id, {}).setdefault(metric, []).append([step, value])
        return out

    def trials(self, name: str, state: str | None) -> list[storage.TrialRecord]:
        return self._db.trials(name, state=state)

    def trial(self, trial_id: int) -> dict[str, Any]:
        """The trial as JSON (``trial`` is its per-study number, ``id`` the global one)."""
        return self._db.trial(trial_id).to_json()

    def arch_json(self, arch_id: str) -> str:
        return self._db.architecture_json(arch_id)


def _study(info: storage.StudyRecord) -> dict[str, Any]:
    return {key: getattr(info, key) for key in (
        "name", "id", "objectives", "constraints", "searcher", "created", "counts", "trials",
        "settings")}


_STATE_CODE = {state: code for code, state in enumerate(storage.TRIAL_STATES)}


def _dumps(value: Any) -> bytes:
    # As Starlette's JSONResponse encodes: compact, and no NaN (not JSON).
    return json.dumps(value, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode()


class _Columns:
    """One study's trials as parallel lists, merged by id from ``Database.trial_arrays``.

    Trials keep the position they were first seen at (the page orders them itself).
    """

    def __init__(self, study: Any, constraints: list[dict[str, Any]]) -> None:
        self.study = study  # what tells this study from one made again under its name
        self.constraints = [(c["metric"], _OPS[c["op"]], float(c["bound"])) for c in constraints]
        self.cursor: str | None = None
        self.position: dict[int, int] = {}
        self.id: list[int] = []
        self.number: list[int] = []
        self.state: list[int] = []
        self.worker: list[int | None] = []
        self.finished: list[int | None] = []
        self.ok: list[int] = []
        self.metrics: dict[str, list[float | None]] = {}
        self.workers: dict[str, int] = {}
        self.body: bytes | None = None

    def merge(self, arrays: Mapping[str, Any]) -> None:
        """Take in the rows of ``arrays``; forget the encoded body if anything differs."""
        ids = arrays["id"]
        if not ids:
            return
        for name in arrays["metrics"]:
            if name not in self.metrics:
                self.metrics[name] = [None] * len(self.id)
        if not self.id:  # a study's first read: whole columns at once
            self._append_all(arrays)
            return
        missing = [name for name in self.metrics if name not in arrays["metrics"]]
        values = [(self.metrics[name], arrays["metrics"][name]) for name in arrays["metrics"]]
        for i, trial_id in enumerate(ids):
            row = (_STATE_CODE[arrays["state"][i]], self._worker(arrays["worker"][i]),
                   arrays["finished"][i])
            p = self.position.get(trial_id)
            if p is None:
                p = self.position[trial_id] = len(self.id)
                self.id.append(trial_id)
                self.number.append(arrays["number"][i])
                self.state.append(row[0])
                self.worker.append(row[1])
                self.finished.append(row[2])
                self.ok.append(0)
                for column in self.metrics.values():
                    column.append(None)
            elif (row == (self.state[p], self.worker[p], self.finished[p])
                  and all(mine[p] == theirs[i] for mine, theirs in values)
                  and all(self.metrics[name][p] is None for name in missing)):
                continue
            self.state[p], self.worker[p], self.finished[p] = row
            for mine, theirs in values:
                mine[p] = theirs[i]
            for name in missing:
                self.metrics[name][p] = None
            self.ok[p] = int(self._meets(p))
            self.body = None

    def _append_all(self, arrays: Mapping[str, Any]) -> None:
        n = len(arrays["id"])
        self.id = list(arrays["id"])
        self.position = {trial_id: p for p, trial_id in enumerate(self.id)}
        self.number = list(arrays["number"])
        self.state = [_STATE_CODE[s] for s in arrays["state"]]
        self.worker = [self._worker(w) for w in arrays["worker"]]
        self.finished = list(arrays["finished"])
        for name, column in arrays["metrics"].items():
            self.metrics[name] = list(column)
        for column in self.metrics.values():
            if len(column) < n:
                column.extend([None] * (n - len(column)))
        ok = [1] * n
        for metric, op, bound in self.constraints:
            column = self.metrics.get(metric, [None] * n)
            ok = [int(o and v is not None and op(v, bound))
                  for o, v in zip(ok, column, strict=True)]
        self.ok = ok
        self.body = None

    def _worker(self, name: str | None) -> int | None:
        if name is None:
            return None
        return self.workers.setdefault(name, len(self.workers))

    def _meets(self, p: int) -> bool:
        for metric, op, bound in self.constraints:
            column = self.metrics.get(metric)
            if column is None or column[p] is None or not op(column[p], bound):
                return False
        return True

    def payload(self) -> dict[str, Any]:
        """The page's form of the trials: one list per column, no object per trial.

        ``{"id", "number": ints; "state": codes into "states"; "worker": codes into
        "workers" or null; "finished": epoch milliseconds or null; "ok": 1 where every
        constraint holds, else 0; "metrics": {name: numbers or null}}``, lists of one length.
        """
        return {"id": self.id, "number": self.number, "states": list(storage.TRIAL_STATES),
                "state": self.state, "workers": list(self.workers), "worker": self.worker,
                "finished": self.finished, "ok": self.ok, "metrics": self.metrics}
