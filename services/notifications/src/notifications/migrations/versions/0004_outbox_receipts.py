"""Outbox receipts: confirmed_at, redelivered_at, redeliveries.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from uskalla_events.tables import add_outbox_receipts, drop_outbox_receipts

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_receipts(op)


def downgrade() -> None:
    drop_outbox_receipts(op)
