"""follows and digests: digest periods done; members' interests and lists on the recipient; follow activity waiting
for its e-mail or digest

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    empty = sa.text("'[]'::jsonb")
    op.add_column(
        "recipients",
        sa.Column(
            "municipality_codes", postgresql.JSONB(), server_default=empty, nullable=False
        ),
    )
    op.add_column(
        "recipients",
        sa.Column("digest", sa.String(length=10), server_default="off", nullable=False),
    )
    op.add_column(
        "recipients", sa.Column("follows", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "recipients", sa.Column("comments", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        "recipients", sa.Column("interests_changed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "follow_activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.String(length=40), server_default="", nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_activity")),
        sa.UniqueConstraint(
            "member_id", "kind", "source", name="uq_follow_activity_member_kind_source"
        ),
    )
    op.create_index(
        "ix_follow_activity_member_id_created_at", "follow_activity", ["member_id", "created_at"]
    )
    op.create_table(
        "digest_periods",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "finished_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_digest_periods")),
    )


def downgrade() -> None:
    op.drop_table("digest_periods")
    op.drop_index("ix_follow_activity_member_id_created_at", table_name="follow_activity")
    op.drop_table("follow_activity")
    for column in ("interests_changed_at", "comments", "follows", "digest", "municipality_codes"):
        op.drop_column("recipients", column)
