"""Bounces arrive by themselves: suppressions get an id, a reason and a lift; each bounce is
kept (soft ones count within 30 days); mail the receiver could not read is kept whole.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "suppressions",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
    )
    op.create_unique_constraint(op.f("uq_suppressions_id"), "suppressions", ["id"])
    op.add_column("suppressions", sa.Column("reason", sa.String(length=20), nullable=True))
    op.add_column(
        "suppressions", sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE suppressions SET reason = 'hard_bounce' WHERE suppressed_at IS NOT NULL")
    op.create_index(op.f("ix_suppressions_suppressed_at"), "suppressions", ["suppressed_at"])
    op.create_table(
        "bounces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
    )
    op.create_index(
        "ix_bounces_email_hash_received_at", "bounces", ["email_hash", "received_at"]
    )
    op.create_table(
        "bounce_mail",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("mail_from", sa.String(length=500), nullable=False),
        sa.Column("rcpt_to", sa.String(length=500), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_mail")),
    )
    op.create_index(op.f("ix_bounce_mail_received_at"), "bounce_mail", ["received_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_bounce_mail_received_at"), table_name="bounce_mail")
    op.drop_table("bounce_mail")
    op.drop_index("ix_bounces_email_hash_received_at", table_name="bounces")
    op.drop_table("bounces")
    op.drop_index(op.f("ix_suppressions_suppressed_at"), table_name="suppressions")
    op.drop_column("suppressions", "lifted_at")
    op.drop_column("suppressions", "reason")
    op.drop_constraint(op.f("uq_suppressions_id"), "suppressions", type_="unique")
    op.drop_column("suppressions", "id")
