"""v0.1.0.c: an architecture at most once per study, and a lease on every RUNNING trial.

Revision ID: v0.1.0.c
Revises: v0.1.0.b
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.1.0.c"
down_revision = "v0.1.0.b"
branch_labels = None
depends_on = None

_DUPLICATES = """
SELECT s.name, COUNT(*) - COUNT(DISTINCT t.arch_id)
FROM trials t JOIN studies s ON s.id = t.study_id
GROUP BY s.name HAVING COUNT(*) > COUNT(DISTINCT t.arch_id)
"""


def upgrade() -> None:
    # Drivers that shared a study before this revision could evaluate one architecture twice;
    # such rows are real measurements, so the upgrade names them instead of dropping any.
    duplicates = op.get_bind().execute(sa.text(_DUPLICATES)).all()
    if duplicates:
        from storage._errors import SchemaError

        listed = ", ".join(f"{name!r} ({n} repeated)" for name, n in duplicates)
        raise SchemaError(
            f"Upgrade to v0.1.0.c needs every architecture at most once per study; these "
            f"studies repeat some: {listed}. Copy the study you want to keep to a new "
            "database (`nas copy`) or delete the later repeats with SQL, then upgrade again."
        )
    op.create_index("uq_trials_study_id_arch_id", "trials", ["study_id", "arch_id"],
                    unique=True)
    op.add_column("trials", sa.Column("heartbeat", sa.DateTime(), nullable=True))
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.c', library_version = '0.1.0'")


def downgrade() -> None:
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("heartbeat")
    op.drop_index("uq_trials_study_id_arch_id", "trials")
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.b'")
