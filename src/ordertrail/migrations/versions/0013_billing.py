"""billing: invoices, payments, payment imports

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ordertrail.kit.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
PENDING = sa.text("overdue_alert_state = 'pending'")


def _time(name: str, nullable: bool) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.UTCDateTime(timezone=True), nullable=nullable)


def _money(name: str) -> sa.Column:
    return sa.Column(name, ordertrail.kit.types.ExactDecimal(18, 2), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str | None = None,
        ) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "invoices",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("amount"),
        _money("paid_amount"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.String(length=32), nullable=False),
        _time("issued_at", False),
        _time("due_at", False),
        _time("paid_at", True),
        _time("voided_at", True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("overdue_alert_state", sa.String(length=8), nullable=True),
        sa.Column("created_by", BIGID, nullable=True),
        sa.Column("created_by_name", sa.String(length=128), nullable=False),
        _fk("invoices", "order_id", "orders", "CASCADE"),
        _fk("invoices", "created_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index("ix_invoices_order", ["order_id", "id"], unique=False)
        batch_op.create_index("ix_invoices_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_invoices_overdue", ["due_at"], unique=False,
                              sqlite_where=PENDING, postgresql_where=PENDING)
    op.create_table(
        "invoice_lines",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("invoice_id", BIGID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("order_line_id", BIGID, nullable=True),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("qty", ordertrail.kit.types.ExactDecimal(18, 3), nullable=False),
        _money("amount"),
        _fk("invoice_lines", "invoice_id", "invoices", "CASCADE"),
        _fk("invoice_lines", "order_line_id", "order_lines", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.create_index("ix_invoice_lines_invoice", ["invoice_id", "line_no"],
                              unique=False)
        batch_op.create_index("ix_invoice_lines_order_line", ["order_line_id"], unique=False)
    op.create_table(
        "payment_imports",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        _time("at", False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("actor_id", BIGID, nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("report", JSON, nullable=False),
        _fk("payment_imports", "actor_id", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_imports")),
    )
    op.create_table(
        "payments",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("order_id", BIGID, nullable=False),
        _money("amount"),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _money("unallocated"),
        _time("received_at", False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=128), nullable=True),
        sa.Column("payer", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("import_id", BIGID, nullable=True),
        _time("created_at", False),
        sa.Column("created_by", BIGID, nullable=True),
        sa.Column("created_by_name", sa.String(length=128), nullable=False),
        _fk("payments", "order_id", "orders", "CASCADE"),
        _fk("payments", "import_id", "payment_imports", "SET NULL"),
        _fk("payments", "created_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("source", "reference", name="uq_payments_source_reference"),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_order", ["order_id", "received_at"], unique=False)
        batch_op.create_index("ix_payments_received", ["received_at", "id"], unique=False)
    op.create_table(
        "payment_allocations",
        sa.Column("id", BIGID, autoincrement=True, nullable=False),
        sa.Column("payment_id", BIGID, nullable=False),
        sa.Column("invoice_id", BIGID, nullable=False),
        _money("amount"),
        _time("at", False),
        _fk("payment_allocations", "payment_id", "payments", "CASCADE"),
        _fk("payment_allocations", "invoice_id", "invoices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_allocations")),
    )
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.create_index("ix_payment_allocations_invoice", ["invoice_id", "at"],
                              unique=False)
        batch_op.create_index("ix_payment_allocations_payment", ["payment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_allocations_payment")
        batch_op.drop_index("ix_payment_allocations_invoice")
    op.drop_table("payment_allocations")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_received")
        batch_op.drop_index("ix_payments_order")
    op.drop_table("payments")
    op.drop_table("payment_imports")
    with op.batch_alter_table("invoice_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_lines_order_line")
        batch_op.drop_index("ix_invoice_lines_invoice")
    op.drop_table("invoice_lines")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_overdue", sqlite_where=PENDING,
                            postgresql_where=PENDING)
        batch_op.drop_index("ix_invoices_status_due")
        batch_op.drop_index("ix_invoices_order")
    op.drop_table("invoices")
