"""production: work centers, routing steps, work orders, their steps, components and QC

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import ordertrail.kit.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NOT_CANCELLED = sa.text("status != 'cancelled'")
WATCH_START = sa.text("late_alert_state = 'watch_start'")
WATCH_FINISH = sa.text("late_alert_state IN ('watch_start', 'watch_finish')")
OPEN_STEP = sa.text("actual_finish IS NULL")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.UTCDateTime(timezone=True), nullable=nullable)


def _dec(name: str) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.ExactDecimal(18, 3), nullable=False)


def upgrade() -> None:
    op.create_table(
        "work_centers",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.String(length=32), nullable=False),
        _time("created_at", False),
        _time("updated_at", False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_centers")),
        sa.UniqueConstraint("code", name=op.f("uq_work_centers_code")),
    )
    op.create_table(
        "routing_steps",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("work_center_id", BIGID, nullable=False),
        _dec("setup_minutes"),
        _dec("minutes_per_unit"),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["work_center_id"], ["work_centers.id"],
                                name=op.f("fk_routing_steps_work_center_id_work_centers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_steps")),
        sa.UniqueConstraint("sku", "seq", name="uq_routing_steps_sku_seq"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("order_line_id", BIGID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        _dec("qty"),
        sa.Column("status", sa.String(length=16), nullable=False),
        _time("planned_start", False),
        _time("planned_finish", False),
        _time("actual_start", True),
        _time("actual_finish", True),
        sa.Column("late_alert_state", sa.String(length=16), nullable=False),
        sa.Column("rework_count", sa.Integer(), nullable=False),
        _time("created_at", False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        _time("updated_at", False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"],
                                name=op.f("fk_work_orders_order_id_orders"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"],
                                name=op.f("fk_work_orders_order_line_id_order_lines"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_work_orders_number")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index("uq_work_orders_line", ["order_line_id"], unique=True,
                              sqlite_where=NOT_CANCELLED, postgresql_where=NOT_CANCELLED)
        batch_op.create_index("ix_work_orders_order", ["order_id"], unique=False)
        batch_op.create_index("ix_work_orders_status", ["status", "id"], unique=False)
        batch_op.create_index("ix_work_orders_late_start", ["planned_start"], unique=False,
                              sqlite_where=WATCH_START, postgresql_where=WATCH_START)
        batch_op.create_index("ix_work_orders_late_finish", ["planned_finish"], unique=False,
                              sqlite_where=WATCH_FINISH, postgresql_where=WATCH_FINISH)
    op.create_table(
        "work_order_steps",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("work_order_id", BIGID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("work_center_id", BIGID, nullable=False),
        _dec("setup_minutes"),
        _dec("minutes_per_unit"),
        _dec("planned_minutes"),
        _time("planned_start", False),
        _time("planned_finish", False),
        _time("actual_start", True),
        _time("actual_finish", True),
        sa.Column("done_by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["work_center_id"], ["work_centers.id"],
                                name=op.f("fk_work_order_steps_work_center_id_work_centers")),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name=op.f("fk_work_order_steps_work_order_id_work_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_steps")),
        sa.UniqueConstraint("work_order_id", "seq",
                            name="uq_work_order_steps_work_order_id_seq"),
    )
    with op.batch_alter_table("work_order_steps", schema=None) as batch_op:
        batch_op.create_index("ix_work_order_steps_center_open",
                              ["work_center_id", "planned_finish"], unique=False,
                              sqlite_where=OPEN_STEP, postgresql_where=OPEN_STEP)
    op.create_table(
        "work_order_components",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("work_order_id", BIGID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        _dec("qty"),
        _time("consumed_at", True),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name=op.f("fk_work_order_components_work_order_id_work_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_components")),
        sa.UniqueConstraint("work_order_id", "sku",
                            name="uq_work_order_components_work_order_id_sku"),
    )
    op.create_table(
        "work_order_qc",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("work_order_id", BIGID, nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("by_user_id", BIGID, nullable=True),
        sa.Column("by_name", sa.String(length=128), nullable=False),
        _time("at", False),
        sa.ForeignKeyConstraint(["by_user_id"], ["users.id"],
                                name=op.f("fk_work_order_qc_by_user_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name=op.f("fk_work_order_qc_work_order_id_work_orders"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_qc")),
    )
    with op.batch_alter_table("work_order_qc", schema=None) as batch_op:
        batch_op.create_index("ix_work_order_qc_work_order", ["work_order_id", "id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("work_order_qc")
    op.drop_table("work_order_components")
    op.drop_table("work_order_steps")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        for name in ("ix_work_orders_late_finish", "ix_work_orders_late_start",
                     "ix_work_orders_status", "ix_work_orders_order", "uq_work_orders_line"):
            batch_op.drop_index(name)
    op.drop_table("work_orders")
    op.drop_table("routing_steps")
    op.drop_table("work_centers")
