"""batch claims: claimed_by / claimed_until on deliveries, open-rows index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('deliveries', sa.Column('claimed_by', sa.Uuid(), nullable=True))
    op.add_column('deliveries', sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.drop_index('ix_deliveries_pending_cause', table_name='deliveries', postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_deliveries_open_cause', 'deliveries', ['cause', 'kind'], unique=False, postgresql_where=sa.text("status IN ('pending', 'sending')"))


def downgrade() -> None:
    op.drop_index('ix_deliveries_open_cause', table_name='deliveries', postgresql_where=sa.text("status IN ('pending', 'sending')"))
    op.create_index('ix_deliveries_pending_cause', 'deliveries', ['cause', 'kind'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.drop_column('deliveries', 'claimed_until')
    op.drop_column('deliveries', 'claimed_by')
