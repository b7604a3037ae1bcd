"""Authors keep each member's standing (role, active) and no e-mail address.

Revision ID: 0006
Revises: 0005

Every request's token is checked against the member's current role and state, as the members
events last told them (`role` None for the rows already here: the token's role stands until
the member's next event). `changed_at` is the `occurred_at` of the event the row reflects, so
an older event arriving late changes nothing.

The e-mail address was kept only to redact it from others' texts on erasure, which no longer
happens: the column is dropped with the addresses in it. A downgrade brings back an empty one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("authors", sa.Column("role", sa.String(length=20), nullable=True))
    op.add_column(
        "authors", sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("authors", sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_column("authors", "email")


def downgrade() -> None:
    op.add_column("authors", sa.Column("email", sa.String(length=254), nullable=True))
    op.drop_column("authors", "changed_at")
    op.drop_column("authors", "active")
    op.drop_column("authors", "role")
