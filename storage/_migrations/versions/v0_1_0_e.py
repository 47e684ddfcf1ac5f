"""v0.1.0.e: study-level artifacts (a one-shot study's supernet checkpoint).

``artifacts`` gains ``study_id`` (filled from the trial for existing rows) and ``kind``;
``trial_id`` becomes nullable, so a file can belong to a study rather than to one trial.

Revision ID: v0.1.0.e
Revises: v0.1.0.c
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.1.0.e"
down_revision = "v0.1.0.c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifacts") as batch:
        batch.add_column(sa.Column("study_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("kind", sa.String(32), nullable=False, server_default="file")
        )
        batch.alter_column("trial_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(
            op.f("fk_artifacts_study_id_studies"),
            "studies",
            ["study_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_artifacts_study_id", ["study_id"])
    op.execute(
        "UPDATE artifacts SET study_id = "
        "(SELECT trials.study_id FROM trials WHERE trials.id = artifacts.trial_id)"
    )
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.e'")


def downgrade() -> None:
    op.execute("DELETE FROM artifacts WHERE trial_id IS NULL")
    with op.batch_alter_table("artifacts") as batch:
        batch.drop_index("ix_artifacts_study_id")
        batch.drop_constraint(op.f("fk_artifacts_study_id_studies"), type_="foreignkey")
        batch.alter_column("trial_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("kind")
        batch.drop_column("study_id")
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.b'")
