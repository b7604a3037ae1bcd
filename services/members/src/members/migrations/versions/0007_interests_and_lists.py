"""members: interests (themes, municipalities, digest) and the follows/comments lists

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Members who joined before interests existed never asked for a digest: theirs is off.
    op.add_column(
        "members",
        sa.Column("themes", ARRAY(sa.String(length=60)), server_default="{}", nullable=False),
    )
    op.add_column(
        "members",
        sa.Column(
            "interest_municipality_codes",
            ARRAY(sa.String(length=3)),
            server_default="{}",
            nullable=False,
        ),
    )
    op.add_column(
        "members",
        sa.Column("digest", sa.String(length=10), server_default="off", nullable=False),
    )
    op.add_column(
        "members", sa.Column("follows", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "members", sa.Column("comments", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_members_digest_frequency"), "members", "digest IN ('off', 'daily', 'weekly')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_members_digest_frequency"), "members", type_="check")
    for column in ("comments", "follows", "digest", "interest_municipality_codes", "themes"):
        op.drop_column("members", column)
