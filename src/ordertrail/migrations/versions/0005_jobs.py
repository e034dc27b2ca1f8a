"""durable jobs, dead letters and periodic schedules

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "state IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("run_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["state", "run_at", "id"], unique=False)
        batch_op.create_index("uq_jobs_open_key", ["key"], unique=True,
                              sqlite_where=sa.text(_OPEN), postgresql_where=sa.text(_OPEN))

    op.create_table(
        "job_schedules",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("next_run_at", ordertrail.kit.types.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column("last_run_at", ordertrail.kit.types.UTCDateTime(timezone=True),
                  nullable=True),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_job_schedules")),
    )


def downgrade() -> None:
    op.drop_table("job_schedules")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("uq_jobs_open_key")
        batch_op.drop_index("ix_jobs_claim")
    op.drop_table("jobs")
