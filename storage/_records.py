"""What the database hands back: one frozen record per study and per trial.

A trial has two numbers that are easy to confuse: ``number`` counts the trials of its study
from 0 (what a person reads in ``nas trials``), ``id`` is unique across the database (what
``Database.trial`` and ``nas export`` take). The records name them apart; :meth:`to_json` is
the JSON form of ``contract.md``, in which the per-study number is ``trial``, as in the
``trial_metrics`` SQL view.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class TrialRecord:
    """One trial as stored.

    Attributes:
        number: the trial's number within its study (``trial`` in JSON, tables and SQL views).
        id: the global id, unique across studies (``Database.trial``, ``nas export``).
        study: the study's name.
        state: ``QUEUED``, ``RUNNING``, ``COMPLETE``, ``FAILED`` or ``PRUNED``.
        arch_id: the architecture's id.
        metrics: name -> value of the metrics it recorded.
        searcher: the searcher that proposed it.
        worker: the driver that ran it (or runs it).
        node: that driver's host.
        started: ISO time it started, or None.
        finished: ISO time it finished, or None.
        error: why it failed (a traceback), or None.
        retries: how often it was re-queued.
        arch: the architecture's ``to_dict()`` form, or None where the read left it out.
    """

    number: int
    id: int
    study: str
    state: str
    arch_id: str
    metrics: dict[str, float]
    searcher: str | None = None
    worker: str | None = None
    node: str | None = None
    started: str | None = None
    finished: str | None = None
    error: str | None = None
    retries: int = 0
    arch: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The trial as ``--json`` prints it: ``trial`` is :attr:`number`; ``arch`` is absent
        where the read left it out."""
        out = {("trial" if k == "number" else k): v
               for k, v in dataclasses.asdict(self).items()}
        if self.arch is None:
            del out["arch"]
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class StudyRecord:
    """One study as stored, with its trial counts when read.

    Attributes:
        name: the study's unique name.
        id: its global id.
        objectives: metric name -> ``"min"`` or ``"max"``; the first is the primary one.
        constraints: dicts with ``metric``, ``op`` and ``bound``.
        searcher: name of the searcher that drives it.
        spec_source: the spec file's text, or None.
        spec_hash: that text's sha256, or None.
        space_hash: ``Space.hash`` of its search space, or None.
        settings: the JSON-able options kept with it (``changes`` lists accepted changes).
        created: ISO time it was created.
        counts: trials per state, every state present.
        trials: trials in all.
    """

    name: str
    id: int
    objectives: dict[str, str]
    constraints: list[dict[str, Any]]
    searcher: str | None
    spec_source: str | None
    spec_hash: str | None
    space_hash: str | None
    settings: dict[str, Any]
    created: str | None
    counts: dict[str, int]
    trials: int

    def to_json(self) -> dict[str, Any]:
        """The study as ``nas studies --json`` prints it."""
        return dataclasses.asdict(self)
