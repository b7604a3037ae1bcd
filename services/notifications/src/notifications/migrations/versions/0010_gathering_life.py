"""gatherings' life: the projection keeps SEQUENCE and cancellation; who is registered for what
(whom changes, cancellations and reminders go to)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "gatherings", sa.Column("sequence", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "gatherings",
        sa.Column("cancelled", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "gathering_registrations",
        sa.Column("gathering_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "gathering_id", "member_id", name=op.f("pk_gathering_registrations")
        ),
    )
    op.create_index(
        "ix_gathering_registrations_member_id", "gathering_registrations", ["member_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_gathering_registrations_member_id", table_name="gathering_registrations")
    op.drop_table("gathering_registrations")
    op.drop_column("gatherings", "cancelled")
    op.drop_column("gatherings", "sequence")
