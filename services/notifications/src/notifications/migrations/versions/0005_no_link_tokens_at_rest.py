"""No link token at rest: links made from raw tokens leave the delivery log and dead letters.

Revision ID: 0005
Revises: 0004

Deliveries now keep the token sealed (`context.token`) until they are settled, and build the
link only while the message is composed. Rows from before kept the finished link, with the raw
token, for good: it goes. One still waiting to be sent then fails ("the link token does not
open"): the member asks for a new link. Dead-lettered events from before members sealed their
tokens lose the raw token too (retried, they are dead letters again, for the same reason).
Nothing is brought back by a downgrade.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE deliveries SET context = context - 'confirm_url' - 'sign_in_url'"
        " WHERE context ?| array['confirm_url', 'sign_in_url']"
    )
    op.execute(
        "UPDATE event_dead_letters SET envelope = envelope #- '{data,token}'"
        " WHERE type IN ('members.member.registered.v1', 'members.sign_in.requested.v1')"
        " AND envelope -> 'data' ->> 'token' NOT LIKE 'sealed:%'"
    )


def downgrade() -> None:
    pass
