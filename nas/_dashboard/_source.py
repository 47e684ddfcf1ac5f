"""The dashboard's one view of storage: a read-only connection and JSON-ready rows.

Every storage call the dashboard makes is here, so a change in what storage returns (dicts
today) touches this module only. Rows are small on purpose: a 20,000-trial study is sent to the
browser once, then only the trials that changed.
"""

from __future__ import annotations

import operator
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

    def close(self) -> None:
        self._db.close()

    def studies(self) -> list[dict[str, Any]]:
        """Every study with its counts and the best feasible value of each objective."""
        out = []
        for info in self._db.studies():
            best: dict[str, Any] = {}
            for name in info["objectives"]:
                found = self._db.best(info["name"], k=1, objective=name)
                if found:
                    best[name] = {"value": found[0]["metrics"][name], "trial": found[0]["trial"],
                                  "id": found[0]["id"]}
            out.append({**_study(info), "best": best})
        return out

    def study(self, name: str) -> dict[str, Any]:
        info = self._db.get_study(name)
        return {**_study(info), "spec_source": info["spec_source"]}

    def changes(self, name: str, constraints: list[dict[str, Any]],
                since: str | None) -> tuple[dict[str, Any], str]:
        """The trials changed since ``since`` (all of them for ``None``) as columns, with
        ``ok`` (meets every constraint) beside them, and the next cursor."""
        columns, cursor = self._db.trial_columns(name, since)
        metrics = columns["metrics"]
        checks = [(metrics.get(c["metric"]), _OPS[c["op"]], float(c["bound"]))
                  for c in constraints]
        columns["ok"] = [
            all(values is not None and values[i] is not None and op(values[i], bound)
                for values, op, bound in checks)
            for i in range(len(columns["id"]))
        ]
        return columns, cursor

    def matching_ids(self, name: str, where: str) -> list[int]:
        return self._db.matching_ids(name, where)

    def curves(self, name: str) -> dict[int, dict[str, list[list[float]]]]:
        """Intermediate values by trial id and metric name, as ``[step, value]`` pairs."""
        out: dict[int, dict[str, list[list[float]]]] = {}
        for trial_id, values in self._db.intermediate_values(name).items():
            for metric, step, value in values:
                out.setdefault(trial_id, {}).setdefault(metric, []).append([step, value])
        return out

    def trials(self, name: str, state: str | None) -> list[dict[str, Any]]:
        return self._db.trials(name, state=state)

    def trial(self, trial_id: int) -> dict[str, Any]:
        return self._db.trial(trial_id)

    def arch_json(self, arch_id: str) -> str:
        return self._db.architecture_json(arch_id)


def _study(info: Mapping[str, Any]) -> dict[str, Any]:
    return {key: info[key] for key in ("name", "id", "objectives", "constraints", "searcher",
                                       "created", "counts", "trials", "settings")}

