"""Re-create the frozen database of one schema revision (run once per release, then commit).

    python tests/storage_tests/upgrade_assets/make_assets.py v0.1.0.a

The file holds a study "frozen" with two COMPLETE trials and one QUEUED trial, written with
plain SQL against that revision's tables, so the upgrade test can check the data survives.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine
from sqlalchemy import text

from storage._schema import _config

ROWS = """
INSERT INTO studies (id, name, objectives, constraints, settings, created)
VALUES (1, 'frozen', '{"accuracy": "max", "latency_ms": "min"}',
        '[{"metric": "latency_ms", "op": "<=", "bound": 5.0}]', '{}', '2026-11-24 00:00:00');
INSERT INTO architectures (id, json, created) VALUES
    ('a0', '{"e0":"conv3x3"}', '2026-11-24 00:00:00'),
    ('a1', '{"e0":"skip"}', '2026-11-24 00:00:00'),
    ('a2', '{"e0":"none"}', '2026-11-24 00:00:00');
INSERT INTO trials (id, study_id, number, state, arch_id, queued, started, finished, retries)
VALUES (1, 1, 0, 'COMPLETE', 'a0', '2026-11-24 00:00:00', '2026-11-24 00:00:01',
        '2026-11-24 00:00:02', 0),
       (2, 1, 1, 'COMPLETE', 'a1', '2026-11-24 00:00:00', '2026-11-24 00:00:01',
        '2026-11-24 00:00:02', 0),
       (3, 1, 2, 'QUEUED', 'a2', '2026-11-24 00:00:00', NULL, NULL, 0);
INSERT INTO metrics (trial_id, name, value) VALUES
    (1, 'accuracy', 0.9), (1, 'latency_ms', 4.0), (2, 'accuracy', 0.8), (2, 'latency_ms', 2.0);
"""


def main(revision: str) -> None:
    path = Path(__file__).with_name(f"{revision}.db")
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)
        for statement in ROWS.split(";"):
            if statement.strip():
                conn.execute(text(statement))
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1])
