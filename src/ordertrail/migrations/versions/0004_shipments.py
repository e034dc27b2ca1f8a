"""shipments, tracking events, unmatched updates, dead letters, carrier accounts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 00:51:22.737657
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "carrier_accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column(
            "credentials",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_accounts")),
        sa.UniqueConstraint("provider", name=op.f("uq_carrier_accounts_provider")),
    )
    op.create_table(
        "webhook_dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("received_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=True),
        sa.Column(
            "headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "query",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("replayed_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replay_result", sa.Text(), nullable=True),
        sa.Column("replay_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_dead_letters")),
    )
    with op.batch_alter_table("webhook_dead_letters", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_dead_letters_open", ["replayed_at", "id"], unique=False)

    op.create_table(
        "shipments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("carrier", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("origin_city", sa.String(length=64), nullable=True),
        sa.Column("origin_province", sa.String(length=64), nullable=True),
        sa.Column("origin_country", sa.String(length=2), nullable=True),
        sa.Column("destination_city", sa.String(length=64), nullable=True),
        sa.Column("destination_province", sa.String(length=64), nullable=True),
        sa.Column("destination_country", sa.String(length=2), nullable=True),
        sa.Column("weight_kg", ordertrail.kit.types.ExactDecimal(12, 3), nullable=True),
        sa.Column("shipped_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("carrier_eta", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("eta", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("substatus", sa.String(length=48), nullable=False),
        sa.Column("progress_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_event", sa.Text(), nullable=True),
        sa.Column("last_location", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("registered_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_checked_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("next_check_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_failures", sa.Integer(), nullable=False),
        sa.Column("stopped_reason", sa.String(length=200), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_shipments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_shipments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
        sa.UniqueConstraint("carrier", "tracking_number", name="uq_shipments_carrier_number"),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipments_next_check",
            ["next_check_at"],
            unique=False,
            sqlite_where=sa.text("next_check_at IS NOT NULL"),
            postgresql_where=sa.text("next_check_at IS NOT NULL"),
        )
        batch_op.create_index("ix_shipments_order", ["order_id"], unique=False)
        batch_op.create_index("ix_shipments_status", ["status", "last_event_at"], unique=False)
        batch_op.create_index("ix_shipments_tracking_number", ["tracking_number"], unique=False)

    op.create_table(
        "shipment_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "shipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "order_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("qty", ordertrail.kit.types.ExactDecimal(18, 3), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_line_id"],
            ["order_lines.id"],
            name=op.f("fk_shipment_lines_order_line_id_order_lines"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_lines_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_lines")),
        sa.UniqueConstraint("shipment_id", "order_line_id", name="uq_shipment_lines_line"),
    )
    with op.batch_alter_table("shipment_lines", schema=None) as batch_op:
        batch_op.create_index("ix_shipment_lines_order_line", ["order_line_id"], unique=False)

    op.create_table(
        "tracking_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "shipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("substatus", sa.String(length=48), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("received_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_tracking_events_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracking_events")),
        sa.UniqueConstraint("shipment_id", "fingerprint", name="uq_tracking_events_fingerprint"),
    )
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tracking_events_shipment_time", ["shipment_id", "occurred_at"], unique=False
        )

    op.create_table(
        "unmatched_updates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("tracking_number", sa.String(length=64), nullable=False),
        sa.Column("courier", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("received_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attached_at", ordertrail.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "shipment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_unmatched_updates_shipment_id_shipments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_updates")),
    )
    with op.batch_alter_table("unmatched_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_unmatched_updates_number",
            ["tracking_number"],
            unique=False,
            sqlite_where=sa.text("attached_at IS NULL"),
            postgresql_where=sa.text("attached_at IS NULL"),
        )


def downgrade() -> None:

    with op.batch_alter_table("unmatched_updates", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_unmatched_updates_number",
            sqlite_where=sa.text("attached_at IS NULL"),
            postgresql_where=sa.text("attached_at IS NULL"),
        )

    op.drop_table("unmatched_updates")
    with op.batch_alter_table("tracking_events", schema=None) as batch_op:
        batch_op.drop_index("ix_tracking_events_shipment_time")

    op.drop_table("tracking_events")
    with op.batch_alter_table("shipment_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_lines_order_line")

    op.drop_table("shipment_lines")
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_tracking_number")
        batch_op.drop_index("ix_shipments_status")
        batch_op.drop_index("ix_shipments_order")
        batch_op.drop_index(
            "ix_shipments_next_check",
            sqlite_where=sa.text("next_check_at IS NOT NULL"),
            postgresql_where=sa.text("next_check_at IS NOT NULL"),
        )

    op.drop_table("shipments")
    with op.batch_alter_table("webhook_dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_dead_letters_open")

    op.drop_table("webhook_dead_letters")
    op.drop_table("carrier_accounts")
