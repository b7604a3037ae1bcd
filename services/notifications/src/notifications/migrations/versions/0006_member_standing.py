"""Recipients keep each member's standing (role, since when); erased members are remembered.

Revision ID: 0006
Revises: 0005

Every request's token is checked against the member's current role and state, as the members
events last told them (`role` None for the rows already here: the token's role stands until
the member's next event). `changed_at` is the `occurred_at` of the event the row reflects, so
an older event arriving late changes nothing. `erased_members` holds only the ids of erased
members: their tokens stop working and no late event brings their recipient row back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("recipients", sa.Column("role", sa.String(length=20), nullable=True))
    op.add_column("recipients", sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erased_members",
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "erased_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_erased_members")),
    )


def downgrade() -> None:
    op.drop_table("erased_members")
    op.drop_column("recipients", "changed_at")
    op.drop_column("recipients", "role")
