"""v0.1.0.b: searcher state per study, and an index for best() and where-filters on metrics.

Revision ID: v0.1.0.b
Revises: v0.1.0.a
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.1.0.b"
down_revision = "v0.1.0.a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "searcher_states",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_searcher_states_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_searcher_states")),
    )
    op.create_index("ix_metrics_name_value", "metrics", ["name", "value", "trial_id"])
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.b', library_version = '0.1.0'")


def downgrade() -> None:
    op.drop_index("ix_metrics_name_value", "metrics")
    op.drop_table("searcher_states")
    op.execute("UPDATE version_info SET schema_version = 'v0.1.0.a'")
