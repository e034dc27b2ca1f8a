"""at most one open stage visit per order (and a direct index for the current visit)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stage_visits") as batch_op:
        batch_op.create_index("uq_stage_visits_open", ["order_id"], unique=True,
                              sqlite_where=sa.text("exited_at IS NULL"),
                              postgresql_where=sa.text("exited_at IS NULL"))


def downgrade() -> None:
    with op.batch_alter_table("stage_visits") as batch_op:
        batch_op.drop_index("uq_stage_visits_open")
