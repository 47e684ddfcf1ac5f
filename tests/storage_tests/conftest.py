"""Fixtures of the storage tests: an open database per backend, and small helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import storage

OBJECTIVES = {"accuracy": "max", "latency_ms": "min"}


def arch(i: int) -> tuple[str, str]:
    """An (arch_id, canonical JSON) pair standing in for ``Architecture.id``/``to_json()``."""
    return f"arch{i:05d}", json.dumps({"e0": i % 3, "width": i}, sort_keys=True)


@pytest.fixture
def db(storage_url: str) -> Iterator[storage.Database]:
    database = storage.connect(storage_url)
    yield database
    database.close()


@pytest.fixture
def study(db: storage.Database) -> str:
    db.create_study(
        "demo",
        objectives=OBJECTIVES,
        constraints=[{"metric": "latency_ms", "op": "<=", "bound": 5.0}],
        spec_source="study = ...\n",
        searcher="random",
    )
    return "demo"
