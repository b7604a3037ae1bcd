"""Followers of experiments; the owners of that time follow their own.

Revision ID: 0007
Revises: 0006

A follower is told (by notifications, from this service's events) when a followed experiment
changes stage, gets or changes its evaluation, or gets a comment. Owners follow their own
experiments: the owners already here become followers, as of when they became owners.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiment_followers",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "followed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_followers_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "member_id", name=op.f("pk_experiment_followers")),
    )
    op.create_index(
        op.f("ix_experiment_followers_member_id"),
        "experiment_followers",
        ["member_id"],
        unique=False,
    )
    op.execute(
        "INSERT INTO experiment_followers (experiment_id, member_id, followed_at)"
        " SELECT experiment_id, member_id, added_at FROM experiment_owners"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_experiment_followers_member_id"), table_name="experiment_followers")
    op.drop_table("experiment_followers")
