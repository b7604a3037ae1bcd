"""Newsletters are scheduled (`send_at`), reach regions (`region_codes`) and may be archived
in public (`public`); recipients keep the themes their member chose (`themes`).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EMPTY = sa.text("'[]'::jsonb")


def upgrade() -> None:
    op.add_column("newsletters", sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "newsletters",
        sa.Column("region_codes", postgresql.JSONB(), server_default=EMPTY, nullable=False),
    )
    op.add_column(
        "newsletters",
        sa.Column("public", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    # The scheduler's question on every beat: which scheduled newsletters are due.
    op.create_index(
        "ix_newsletters_due",
        "newsletters",
        ["send_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.add_column(
        "recipients",
        sa.Column("themes", postgresql.JSONB(), server_default=EMPTY, nullable=False),
    )


def downgrade() -> None:
    op.drop_column("recipients", "themes")
    op.drop_index("ix_newsletters_due", table_name="newsletters")
    op.drop_column("newsletters", "public")
    op.drop_column("newsletters", "region_codes")
    op.drop_column("newsletters", "send_at")
