"""Search reads narrow side tables kept by triggers, not the wide experiments rows.

Revision ID: 0005
Revises: 0004

`experiment_search` holds one row per published experiment with only what search needs: the
filter columns, the sort keys and the weighted document (title A, summary B, body C,
evaluation D, in the experiment's language; stored out of line, so a row is ~170 bytes). One
multi-column GIN index (btree_gin for the scalar columns) matches the words and the filters
together. `experiment_search_heads` holds the title/summary vector that relevance ranks (and the
sort keys again), with GIN indexes on it and on its title words, so that only matches with a
query word in their title or summary are ranked.

Statement-level triggers on `experiments` keep both in the same transaction as every insert and
update (publishing adds the rows; any edit, evaluation or redaction rewrites them). The
document and head expressions are frozen here on purpose; a later change is a new migration.

The experiments table loses what only search used: the `search` and `search_head` columns
(0002, 0003) and the indexes for the filters; `ix_experiments_published_at` stays for the feed.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
BODY = ("description", "problem", "goals", "organisation")
EVALUATION = ("lessons", "what_worked", "what_failed", "next_steps", "looking_for")
FILTERS = ("stage", "kind", "scale", "outcome", "themes", "municipality_codes")


def _joined(col: Callable[[str], str], names: Sequence[str]) -> str:
    return " || ' ' || ".join(f"coalesce({col(n)}, '')" for n in names)


def _weighted(config: str, col: Callable[[str], str], head_only: bool) -> str:
    parts = {"A": col("title"), "B": col("summary")}
    if not head_only:
        parts |= {"C": _joined(col, BODY), "D": _joined(col, EVALUATION)}
    return " || ".join(
        f"setweight(to_tsvector('{config}'::regconfig, coalesce({sql}, '')), '{weight}')"
        for weight, sql in parts.items()
    )


def vector(alias: str = "", head_only: bool = False) -> str:
    """The document (or the head) of the row `alias`, in its language's configuration."""

    def col(name: str) -> str:
        return f"{alias}.{name}" if alias else name

    whens = " ".join(
        f"WHEN '{lang}' THEN {_weighted(cfg, col, head_only)}" for lang, cfg in CONFIGS.items()
    )
    return f"CASE {col('language')} {whens} ELSE {_weighted('simple', col, head_only)} END"


COLUMNS = ("published_at", "updated_at", "language", *FILTERS)

SYNC = f"""
CREATE FUNCTION experiment_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM experiment_search s USING changed c
        WHERE s.experiment_id = c.id AND c.published_at IS NULL;
    INSERT INTO experiment_search AS s (experiment_id, {", ".join(COLUMNS)}, document)
        SELECT c.id, {", ".join(f"c.{n}" for n in COLUMNS)}, {vector("c")}
        FROM changed c WHERE c.published_at IS NOT NULL
        ON CONFLICT (experiment_id) DO UPDATE SET
            {", ".join(f"{n} = excluded.{n}" for n in COLUMNS)}, document = excluded.document;
    INSERT INTO experiment_search_heads AS h (experiment_id, published_at, updated_at, head)
        SELECT c.id, c.published_at, c.updated_at, {vector("c", head_only=True)}
        FROM changed c WHERE c.published_at IS NOT NULL
        ON CONFLICT (experiment_id) DO UPDATE SET published_at = excluded.published_at,
            updated_at = excluded.updated_at, head = excluded.head;
    RETURN NULL;
END
$$
"""

OLD_INDEXES = (
    ("ix_experiments_themes", "themes", "gin"),
    ("ix_experiments_municipality_codes", "municipality_codes", "gin"),
    ("ix_experiments_stage", "stage", None),
    ("ix_experiments_outcome", "outcome", None),
    ("ix_experiments_kind", "kind", None),
    ("ix_experiments_updated_at", "updated_at", None),
)


def upgrade() -> None:
    # Trusted since PostgreSQL 13: the database owner may create it; managed services and the
    # postgres images have it. A server built without contrib (the embedded one `make dev`
    # falls back to without Docker) gets the index without the scalar filter columns: the same
    # answers, the scalar filters checked on the narrow rows instead.
    btree_gin = bool(
        op.get_bind()
        .execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin'"))
        .first()
    )
    if btree_gin:
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    op.create_table(
        "experiment_search",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("scale", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("themes", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("municipality_codes", postgresql.ARRAY(sa.String(length=3)), nullable=False),
        sa.Column("document", postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_search_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiment_search")),
    )
    # The document always out of line (and never compressed: a tsvector hardly shrinks), so
    # rows stay narrow; only a recheck (phrase queries) reads it.
    op.execute("ALTER TABLE experiment_search SET (toast_tuple_target = 128)")
    op.execute("ALTER TABLE experiment_search ALTER COLUMN document SET STORAGE EXTERNAL")
    op.create_table(
        "experiment_search_heads",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("head", postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiment_search.experiment_id"],
            name=op.f("fk_experiment_search_heads_experiment_id_experiment_search"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiment_search_heads")),
    )
    op.execute(
        f"INSERT INTO experiment_search (experiment_id, {', '.join(COLUMNS)}, document)"
        f" SELECT e.id, {', '.join(f'e.{n}' for n in COLUMNS)}, {vector('e')}"
        " FROM experiments e WHERE e.published_at IS NOT NULL"
    )
    op.execute(
        "INSERT INTO experiment_search_heads (experiment_id, published_at, updated_at, head)"
        f" SELECT e.id, e.published_at, e.updated_at, {vector('e', head_only=True)}"
        " FROM experiments e WHERE e.published_at IS NOT NULL"
    )
    op.create_index(
        "ix_experiment_search_match",
        "experiment_search",
        [
            "document",
            "themes",
            "municipality_codes",
            *(("stage", "kind", "scale", "outcome", "language") if btree_gin else ()),
        ],
        postgresql_using="gin",
    )
    op.create_index("ix_experiment_search_published_at", "experiment_search", ["published_at"])
    op.create_index("ix_experiment_search_updated_at", "experiment_search", ["updated_at"])
    op.create_index(
        "ix_experiment_search_heads_head",
        "experiment_search_heads",
        ["head"],
        postgresql_using="gin",
    )
    # The title's words: the head's A-weighted lexemes.
    op.create_index(
        "ix_experiment_search_heads_title",
        "experiment_search_heads",
        [sa.text("""ts_filter(head, '{a}'::"char"[])""")],
        postgresql_using="gin",
    )
    op.execute(SYNC)
    for event in ("INSERT", "UPDATE"):
        op.execute(
            f"CREATE TRIGGER experiment_search_on_{event.lower()} AFTER {event} ON experiments"
            " REFERENCING NEW TABLE AS changed"
            " FOR EACH STATEMENT EXECUTE FUNCTION experiment_search_sync()"
        )
    for name, _, _ in OLD_INDEXES:
        op.drop_index(name, table_name="experiments")
    op.drop_index("ix_experiments_search", table_name="experiments")
    op.drop_column("experiments", "search_head")
    op.drop_column("experiments", "search")


def downgrade() -> None:
    op.add_column(
        "experiments",
        sa.Column(
            "search", postgresql.TSVECTOR(), sa.Computed(vector(), persisted=True), nullable=False
        ),
    )
    op.add_column(
        "experiments",
        sa.Column(
            "search_head",
            postgresql.TSVECTOR(),
            sa.Computed(vector(head_only=True), persisted=True),
            nullable=False,
        ),
    )
    op.create_index("ix_experiments_search", "experiments", ["search"], postgresql_using="gin")
    for name, column, using in OLD_INDEXES:
        op.create_index(name, "experiments", [column], postgresql_using=using)
    for event in ("insert", "update"):
        op.execute(f"DROP TRIGGER experiment_search_on_{event} ON experiments")
    op.execute("DROP FUNCTION experiment_search_sync()")
    op.drop_table("experiment_search_heads")
    op.drop_table("experiment_search")
    op.execute("DROP EXTENSION IF EXISTS btree_gin")
