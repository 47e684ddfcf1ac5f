"""v0.1.0.a: the first schema (studies, trials, architectures, metrics, profiles, ...).

Revision ID: v0.1.0.a
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "v0.1.0.a"
down_revision = None
branch_labels = None
depends_on = None

TRIAL_METRICS_VIEW = """
CREATE VIEW trial_metrics AS
SELECT s.name AS study, t.id AS trial_id, t.number AS trial, t.state AS state,
       t.arch_id AS arch_id, m.name AS metric, m.value AS value
FROM metrics m
JOIN trials t ON t.id = m.trial_id
JOIN studies s ON s.id = t.study_id
"""


def upgrade() -> None:
    op.create_table(
        "version_info",
        sa.Column("version_info_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("schema_version", sa.String(32), nullable=False),
        sa.Column("library_version", sa.String(32), nullable=False),
        sa.CheckConstraint("version_info_id = 1", name=op.f("ck_version_info_one_row")),
        sa.PrimaryKeyConstraint("version_info_id", name=op.f("pk_version_info")),
    )
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("spec_source", sa.Text(), nullable=True),
        sa.Column("spec_hash", sa.String(64), nullable=True),
        sa.Column("space_hash", sa.String(64), nullable=True),
        sa.Column("searcher", sa.String(64), nullable=True),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_studies_name")),
    )
    op.create_table(
        "architectures",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("json", sa.Text(), nullable=False),
        sa.Column("space_hash", sa.String(64), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_architectures")),
    )
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("arch_id", sa.String(64), nullable=False),
        sa.Column("searcher", sa.String(64), nullable=True),
        sa.Column("worker", sa.String(255), nullable=True),
        sa.Column("node", sa.String(255), nullable=True),
        sa.Column("queued", sa.DateTime(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=True),
        sa.Column("finished", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'PRUNED')",
            name=op.f("ck_trials_state"),
        ),
        sa.ForeignKeyConstraint(
            ["arch_id"], ["architectures.id"], name=op.f("fk_trials_arch_id_architectures")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_trials_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trials")),
        sa.UniqueConstraint("study_id", "number", name=op.f("uq_trials_study_id_number")),
    )
    op.create_index("ix_trials_arch_id", "trials", ["arch_id"])
    op.create_index("ix_trials_study_id_state_number", "trials", ["study_id", "state", "number"])
    op.create_table(
        "metrics",
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_metrics_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trial_id", "name", name=op.f("pk_metrics")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "intermediate_values",
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_intermediate_values_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("trial_id", "name", "step", name=op.f("pk_intermediate_values")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("name", name=op.f("uq_devices_name")),
    )
    op.create_table(
        "kernel_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(64), nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("dtype", sa.String(32), nullable=False),
        sa.Column("median_ms", sa.Float(), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=True),
        sa.Column("software", sa.JSON(), nullable=False),
        sa.Column("hardware", sa.JSON(), nullable=False),
        sa.Column("measured_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_kernel_profiles_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kernel_profiles")),
    )
    op.create_index("ix_kernel_profiles_device_id_op", "kernel_profiles", ["device_id", "op"])
    op.create_table(
        "latency_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_latency_models_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_latency_models")),
        sa.UniqueConstraint(
            "device_id", "version", name=op.f("uq_latency_models_device_id_version")
        ),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trial_id"],
            ["trials.id"],
            name=op.f("fk_artifacts_trial_id_trials"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index("ix_artifacts_trial_id", "artifacts", ["trial_id"])
    op.execute(TRIAL_METRICS_VIEW)
    op.execute(
        "INSERT INTO version_info (version_info_id, schema_version, library_version) "
        "VALUES (1, 'v0.1.0.a', '0.1.0')"
    )


def downgrade() -> None:
    op.execute("DROP VIEW trial_metrics")
    for table in (
        "artifacts",
        "latency_models",
        "kernel_profiles",
        "devices",
        "intermediate_values",
        "metrics",
        "trials",
        "architectures",
        "studies",
        "version_info",
    ):
        op.drop_table(table)
