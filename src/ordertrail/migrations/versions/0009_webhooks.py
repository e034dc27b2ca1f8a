"""outbound webhook endpoints, messages and attempts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
PENDING = sa.text("state = 'pending'")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _time("disabled_at", True),
        sa.Column("disabled_reason", sa.String(length=500), nullable=True),
        sa.Column("failure_streak", sa.Integer(), nullable=False),
        _time("first_failure_at", True),
        _time("next_attempt_at", True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        _time("lease_until", True),
        _time("created_at", False),
        sa.Column("created_by", BIGID, nullable=True),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_webhook_endpoints_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("endpoint_id", BIGID, nullable=False),
        sa.Column("event_id", BIGID, nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("msg_id", sa.String(length=64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _time("next_attempt_at", True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        _time("created_at", False),
        _time("delivered_at", True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"],
                                name=op.f("fk_webhook_messages_endpoint_id_webhook_endpoints"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_messages")),
        sa.UniqueConstraint("endpoint_id", "event_id",
                            name="uq_webhook_messages_endpoint_event"),
        sa.UniqueConstraint("msg_id", name="uq_webhook_messages_msg_id"),
    )
    with op.batch_alter_table("webhook_messages", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_messages_pending", ["endpoint_id", "id"],
                              unique=False, sqlite_where=PENDING, postgresql_where=PENDING)
        batch_op.create_index("ix_webhook_messages_endpoint", ["endpoint_id", "created_at"],
                              unique=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("message_id", BIGID, nullable=False),
        sa.Column("endpoint_id", BIGID, nullable=False),
        _time("at", False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("trigger", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["webhook_messages.id"],
                                name=op.f("fk_webhook_attempts_message_id_webhook_messages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"],
                                name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_attempts_message", ["message_id", "id"], unique=False)
        batch_op.create_index("ix_webhook_attempts_endpoint", ["endpoint_id", "at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_attempts_endpoint")
        batch_op.drop_index("ix_webhook_attempts_message")
    op.drop_table("webhook_attempts")
    with op.batch_alter_table("webhook_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_messages_endpoint")
        batch_op.drop_index("ix_webhook_messages_pending", sqlite_where=PENDING,
                            postgresql_where=PENDING)
    op.drop_table("webhook_messages")
    op.drop_table("webhook_endpoints")
