"""A small title-and-summary search vector for ranking.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 11:12:00

`search_head` (title A, summary B, in the experiment's language) stays inside the row, so
ranking many matches by relevance does not read each large `search` document back from TOAST.
`search` (with its GIN index) still decides what matches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "experiments",
        sa.Column(
            "search_head",
            postgresql.TSVECTOR(),
            sa.Computed(
                "CASE language WHEN 'fi' THEN setweight(to_tsvector('finnish'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('finnish'::regconfig, coalesce(summary, '')), 'B') WHEN 'sv' THEN setweight(to_tsvector('swedish'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('swedish'::regconfig, coalesce(summary, '')), 'B') WHEN 'en' THEN setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') ELSE setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(summary, '')), 'B') END",
                persisted=True,
            ),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("experiments", "search_head")
