"""procurement: suppliers, purchase orders, supplier updates, receipts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
QTY = ordertrail.kit.types.ExactDecimal(18, 3)
PRICE = ordertrail.kit.types.ExactDecimal(18, 4)


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=128), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("code", name=op.f("uq_suppliers_code")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("po_no", sa.String(length=64), nullable=False),
        sa.Column("supplier_id", BIGID, nullable=False),
        sa.Column("warehouse", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _time("expected_at", True),
        _time("confirmed_at", True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("shipment_id", BIGID, nullable=True),
        sa.Column("receive_on_delivery", sa.Boolean(), nullable=False),
        _time("sent_at", True),
        _time("received_at", True),
        _time("cancelled_at", True),
        _time("created_at", False),
        _time("updated_at", False),
        sa.Column("created_by", BIGID, nullable=True),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_purchase_orders_supplier_id_suppliers")),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"],
                                name=op.f("fk_purchase_orders_shipment_id_shipments"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_purchase_orders_created_by_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
        sa.UniqueConstraint("po_no", name=op.f("uq_purchase_orders_po_no")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_orders_status", ["status", "id"], unique=False)
        batch_op.create_index("ix_purchase_orders_supplier", ["supplier_id", "id"],
                              unique=False)
        batch_op.create_index("ix_purchase_orders_shipment", ["shipment_id"], unique=False)
    op.create_table(
        "purchase_order_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("po_id", BIGID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", QTY, nullable=False),
        sa.Column("unit_price", PRICE, nullable=False),
        sa.Column("received_qty", QTY, nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"],
                                name=op.f("fk_purchase_order_lines_po_id_purchase_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
        sa.UniqueConstraint("po_id", "sku", name="uq_purchase_order_lines_po_sku"),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_order_lines_sku", ["sku", "po_id"], unique=False)
    op.create_table(
        "purchase_order_orders",
        sa.Column("po_id", BIGID, nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("short_qty", QTY, nullable=True),
        _time("linked_at", False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"],
                                name=op.f("fk_purchase_order_orders_po_id_purchase_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_purchase_order_orders_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("po_id", "order_id", "sku",
                                name=op.f("pk_purchase_order_orders")),
    )
    with op.batch_alter_table("purchase_order_orders", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_order_orders_order", ["order_id"], unique=False)
    op.create_table(
        "purchase_order_history",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("po_id", BIGID, nullable=False),
        _time("at", False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_id", BIGID, nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        _time("old_date", True),
        _time("new_date", True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.ForeignKeyConstraint(["po_id"], ["purchase_orders.id"],
                                name=op.f("fk_purchase_order_history_po_id_purchase_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_purchase_order_history_actor_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_history")),
    )
    with op.batch_alter_table("purchase_order_history", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_order_history_po", ["po_id", "at", "id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("purchase_order_history", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_history_po")
    op.drop_table("purchase_order_history")
    with op.batch_alter_table("purchase_order_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_orders_order")
    op.drop_table("purchase_order_orders")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_lines_sku")
    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_orders_shipment")
        batch_op.drop_index("ix_purchase_orders_supplier")
        batch_op.drop_index("ix_purchase_orders_status")
    op.drop_table("purchase_orders")
    op.drop_table("suppliers")
