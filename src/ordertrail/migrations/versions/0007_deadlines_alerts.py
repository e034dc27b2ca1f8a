"""stage deadlines and alerts

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time() -> sa.types.TypeEngine:
    return ordertrail.kit.types.UTCDateTime(timezone=True)


_VISIT_INDEXES = (("ix_stage_visits_warn", "warn_at", "warn_state"),
                  ("ix_stage_visits_due", "due_at", "due_state"),
                  ("ix_stage_visits_late_risk", "late_risk_at", "late_state"))


def upgrade() -> None:
    with op.batch_alter_table("stage_visits") as batch_op:
        batch_op.add_column(sa.Column("calendar_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("target_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("due_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("warn_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("remaining_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("late_risk_at", _time(), nullable=True))
        batch_op.add_column(sa.Column("warn_state", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("due_state", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("late_state", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("variance_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("stage_visits") as batch_op:
        for name, column, state in _VISIT_INDEXES:
            where = sa.text(f"{state} = 'pending'")
            batch_op.create_index(name, [column], unique=False, sqlite_where=where,
                                  postgresql_where=where)
    with op.batch_alter_table("shipments") as batch_op:
        batch_op.add_column(sa.Column("silence_alerted_at", _time(), nullable=True))

    op.create_table(
        "alerts",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("order_id", _id(), nullable=True),
        sa.Column("order_no", sa.String(length=64), nullable=True),
        sa.Column("shipment_id", _id(), nullable=True),
        sa.Column("visit_id", _id(), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("responsible_role", sa.String(length=32), nullable=True),
        sa.Column("responsible_user_id", _id(), nullable=True),
        sa.Column("assignee_id", _id(), nullable=True),
        sa.Column("title", _json(), nullable=False),
        sa.Column("detail", _json(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("due_at", _time(), nullable=True),
        sa.Column("opened_at", _time(), nullable=False),
        sa.Column("calendar_id", sa.String(length=32), nullable=True),
        sa.Column("escalate_after", sa.Integer(), nullable=True),
        sa.Column("escalation_roles", _json(), nullable=False),
        sa.Column("escalate_at", _time(), nullable=True),
        sa.Column("last_escalated_at", _time(), nullable=True),
        sa.Column("acked_at", _time(), nullable=True),
        sa.Column("acked_by", _id(), nullable=True),
        sa.Column("resolved_at", _time(), nullable=True),
        sa.Column("resolved_by", _id(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"],
                                name=op.f("fk_alerts_shipment_id_shipments"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["responsible_user_id"], ["users.id"],
                                name=op.f("fk_alerts_responsible_user_id_users")),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"],
                                name=op.f("fk_alerts_assignee_id_users")),
        sa.ForeignKeyConstraint(["acked_by"], ["users.id"],
                                name=op.f("fk_alerts_acked_by_users")),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"],
                                name=op.f("fk_alerts_resolved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("cause", name=op.f("uq_alerts_cause")),
    )
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.create_index("ix_alerts_escalate", ["escalate_at"], unique=False,
                              sqlite_where=sa.text("state = 'open'"),
                              postgresql_where=sa.text("state = 'open'"))
        batch_op.create_index("ix_alerts_state", ["state", "id"], unique=False)
        batch_op.create_index("ix_alerts_order", ["order_id", "state"], unique=False)
        batch_op.create_index("ix_alerts_shipment", ["shipment_id"], unique=False,
                              sqlite_where=sa.text("shipment_id IS NOT NULL"),
                              postgresql_where=sa.text("shipment_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("alerts")
    with op.batch_alter_table("shipments") as batch_op:
        batch_op.drop_column("silence_alerted_at")
    with op.batch_alter_table("stage_visits") as batch_op:
        for name, _column, _state in _VISIT_INDEXES:
            batch_op.drop_index(name)
    with op.batch_alter_table("stage_visits") as batch_op:
        for column in ("variance_seconds", "outcome", "late_state", "due_state", "warn_state",
                       "late_risk_at", "remaining_seconds", "warn_at", "due_at",
                       "target_seconds", "calendar_id"):
            batch_op.drop_column(column)
