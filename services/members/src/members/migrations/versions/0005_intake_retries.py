"""intake: failed requests back off and are held after too many attempts

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intake", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "intake",
        sa.Column(
            "retry_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
    )
    op.add_column("intake", sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("intake", "held_at")
    op.drop_column("intake", "retry_at")
    op.drop_column("intake", "attempts")
