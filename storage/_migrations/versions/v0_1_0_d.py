"""v0.1.0.d: indexes on when trials were queued and finished, for incremental polls.

A live view asks for the trials queued or finished since its last poll; with these indexes that
is two short range scans instead of a pass over every trial of the study.

Revision ID: v0.1.0.d
Revises: v0.1.0.e
"""

from __future__ import annotations

from alembic import op

revision = "v0.1.0.d"
down_revision = "v0.1.0.e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trials_study_id_finished", "trials", ["study_id", "finished"])
    op.create_index("ix_trials_study_id_queued", "trials", ["study_id", "queued"])
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.d', library_version = '0.1.0'")


def downgrade() -> None:
    op.drop_index("ix_trials_study_id_queued", "trials")
    op.drop_index("ix_trials_study_id_finished", "trials")
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.e'")
