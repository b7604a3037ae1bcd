"""gatherings after the event: attendance, a summary, materials and the experiments discussed

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("gatherings", sa.Column("summary", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "gatherings",
        sa.Column("materials", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.add_column(
        "gatherings",
        sa.Column("experiment_ids", JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    # NULL: not marked yet; a marked gathering's registered members are true or false.
    op.add_column("registrations", sa.Column("attended", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("registrations", "attended")
    op.drop_column("gatherings", "experiment_ids")
    op.drop_column("gatherings", "materials")
    op.drop_column("gatherings", "summary")
