"""Outbox receipts: confirmed_at, redelivered_at, redeliveries.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from uskalla_events.tables import add_outbox_receipts, drop_outbox_receipts

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_receipts(op)


def downgrade() -> None:
    drop_outbox_receipts(op)
