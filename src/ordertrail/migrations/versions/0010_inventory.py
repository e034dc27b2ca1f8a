"""inventory: products, warehouses, stock ledger, reservations

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.UTCDateTime(timezone=True), nullable=nullable)


def _qty(name: str) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.ExactDecimal(18, 3), nullable=False)


# The ledger is append-only: an UPDATE of a movement is refused by the database itself.
_PG_IMMUTABLE = """
CREATE OR REPLACE FUNCTION stock_movements_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock movements are immutable';
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = ("CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements "
               "FOR EACH ROW EXECUTE FUNCTION stock_movements_immutable()")
_SQLITE_TRIGGER = ("CREATE TRIGGER stock_movements_no_update BEFORE UPDATE ON stock_movements "
                   "BEGIN SELECT RAISE(ABORT, 'stock movements are immutable'); END")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("make_to_order", sa.Boolean(), nullable=False),
        sa.Column("bom", JSON, nullable=False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_table(
        "warehouses",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        _time("created_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouses")),
        sa.UniqueConstraint("code", name=op.f("uq_warehouses_code")),
    )
    op.create_table(
        "stock_levels",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", BIGID, nullable=False),
        _qty("on_hand"),
        _qty("reserved"),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"],
                                name=op.f("fk_stock_levels_sku_products")),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"],
                                name=op.f("fk_stock_levels_warehouse_id_warehouses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_levels")),
        sa.UniqueConstraint("sku", "warehouse_id", name="uq_stock_levels_sku_warehouse"),
    )
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.create_index("ix_stock_levels_warehouse", ["warehouse_id", "sku"],
                              unique=False)
    op.create_table(
        "stock_movements",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", BIGID, nullable=False),
        _qty("qty"),
        _qty("balance"),
        sa.Column("transfer_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_id", BIGID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ref_type", sa.String(length=32), nullable=True),
        sa.Column("ref_id", sa.String(length=64), nullable=True),
        sa.Column("order_id", BIGID, nullable=True),
        _time("at", False),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"],
                                name=op.f("fk_stock_movements_sku_products")),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"],
                                name=op.f("fk_stock_movements_warehouse_id_warehouses")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_stock_movements_actor_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_stock_movements_order_id_orders"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index("ix_stock_movements_stock", ["sku", "warehouse_id", "id"],
                              unique=False)
        batch_op.create_index("ix_stock_movements_ref", ["ref_type", "ref_id"], unique=False)
        batch_op.create_index("ix_stock_movements_order", ["order_id", "id"], unique=False)
        batch_op.create_index("ix_stock_movements_at", ["at", "id"], unique=False)
    op.create_table(
        "reservations",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("order_line_id", BIGID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", BIGID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("component_of", sa.String(length=64), nullable=True),
        _qty("qty"),
        _qty("consumed"),
        _qty("released"),
        _time("created_at", False),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_reservations_order_id_orders"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"],
                                name=op.f("fk_reservations_order_line_id_order_lines"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sku"], ["products.sku"],
                                name=op.f("fk_reservations_sku_products")),
        sa.ForeignKeyConstraint(["warehouse_id"], ["warehouses.id"],
                                name=op.f("fk_reservations_warehouse_id_warehouses")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
        sa.UniqueConstraint("order_id", "order_line_id", "sku", "warehouse_id", "purpose",
                            name="uq_reservations_need"),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_stock", ["sku", "warehouse_id"], unique=False)
    op.create_table(
        "order_stock",
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shortfall", JSON, nullable=False),
        _time("waiting_since", True),
        _time("expected_at", True),
        _time("reserved_at", True),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_order_stock_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_stock")),
    )
    op.create_table(
        "stock_waits",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        _qty("short_qty"),
        _time("since_at", False),
        _time("expected_at", True),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_stock_waits_order_id_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_waits")),
        sa.UniqueConstraint("order_id", "sku", name="uq_stock_waits_order_sku"),
    )
    with op.batch_alter_table("stock_waits", schema=None) as batch_op:
        batch_op.create_index("ix_stock_waits_sku", ["sku", "order_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_IMMUTABLE)
        op.execute(_PG_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS stock_movements_no_update"
               + (" ON stock_movements" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS stock_movements_immutable()")
    with op.batch_alter_table("stock_waits", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_waits_sku")
    op.drop_table("stock_waits")
    op.drop_table("order_stock")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_stock")
    op.drop_table("reservations")
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_at")
        batch_op.drop_index("ix_stock_movements_order")
        batch_op.drop_index("ix_stock_movements_ref")
        batch_op.drop_index("ix_stock_movements_stock")
    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_levels", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_levels_warehouse")
    op.drop_table("stock_levels")
    op.drop_table("warehouses")
    op.drop_table("products")
