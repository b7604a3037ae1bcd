"""The experiment registry: experiments with evaluations and a search document, owners, themes,
comments and reports.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 10:37:32.756281

The search column is a stored generated tsvector in the configuration of the experiment's
language (finnish/swedish/english; weights: title A, summary B, body C, evaluation D), with a
GIN index. The expression is frozen here on purpose (models.SEARCH_DOCUMENT may change later
in a new migration). Themes are seeded here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

THEMES = [
    (
        "digital-municipality",
        "Digikuntakokeilut",
        "Digitala kommunförsök",
        "Digital municipality experiments",
    ),
    (
        "health-and-social-reform",
        "Sote-uudistus",
        "Social- och hälsovårdsreformen",
        "Health and social services reform",
    ),
    (
        "innovative-procurement",
        "Innovatiiviset hankinnat",
        "Innovativa upphandlingar",
        "Innovative procurement",
    ),
    (
        "parallel-organisations",
        "Rinnakkaisorganisaatiot",
        "Parallella organisationer",
        "Parallel organisations in development",
    ),
    (
        "participation-and-democracy",
        "Osallisuus ja demokratia",
        "Delaktighet och demokrati",
        "Participation and democracy",
    ),
    (
        "education-and-learning",
        "Kasvatus ja oppiminen",
        "Fostran och lärande",
        "Education and learning",
    ),
    ("employment", "Työllisyys", "Sysselsättning", "Employment"),
    (
        "climate-and-environment",
        "Ilmasto ja ympäristö",
        "Klimat och miljö",
        "Climate and environment",
    ),
    (
        "wellbeing-and-health",
        "Hyvinvointi ja terveys",
        "Välfärd och hälsa",
        "Wellbeing and health promotion",
    ),
    ("culture-and-leisure", "Kulttuuri ja vapaa-aika", "Kultur och fritid", "Culture and leisure"),
    ("mobility-and-transport", "Liikkuminen", "Mobilitet och trafik", "Mobility and transport"),
    (
        "vitality-and-regional-development",
        "Elinvoima ja aluekehitys",
        "Livskraft och regional utveckling",
        "Vitality and regional development",
    ),
]


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.String(length=1000), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("scale", sa.String(length=10), nullable=False),
        sa.Column(
            "themes",
            postgresql.ARRAY(sa.String(length=64)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "municipality_codes",
            postgresql.ARRAY(sa.String(length=3)),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "organisation", sa.String(length=200), server_default=sa.text("''"), nullable=False
        ),
        sa.Column("problem", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("goals", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column(
            "links", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("looking_for", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=2), server_default=sa.text("'fi'"), nullable=False),
        sa.Column("stage", sa.String(length=20), server_default=sa.text("'idea'"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("what_worked", sa.Text(), nullable=True),
        sa.Column("what_failed", sa.Text(), nullable=True),
        sa.Column("lessons", sa.Text(), nullable=True),
        sa.Column("next_steps", sa.Text(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "CASE language WHEN 'fi' THEN setweight(to_tsvector('finnish'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('finnish'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('finnish'::regconfig, coalesce(coalesce(description, '') || ' ' || coalesce(problem, '') || ' ' || coalesce(goals, '') || ' ' || coalesce(organisation, ''), '')), 'C') || setweight(to_tsvector('finnish'::regconfig, coalesce(coalesce(lessons, '') || ' ' || coalesce(what_worked, '') || ' ' || coalesce(what_failed, '') || ' ' || coalesce(next_steps, '') || ' ' || coalesce(looking_for, ''), '')), 'D') WHEN 'sv' THEN setweight(to_tsvector('swedish'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('swedish'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('swedish'::regconfig, coalesce(coalesce(description, '') || ' ' || coalesce(problem, '') || ' ' || coalesce(goals, '') || ' ' || coalesce(organisation, ''), '')), 'C') || setweight(to_tsvector('swedish'::regconfig, coalesce(coalesce(lessons, '') || ' ' || coalesce(what_worked, '') || ' ' || coalesce(what_failed, '') || ' ' || coalesce(next_steps, '') || ' ' || coalesce(looking_for, ''), '')), 'D') WHEN 'en' THEN setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('english'::regconfig, coalesce(coalesce(description, '') || ' ' || coalesce(problem, '') || ' ' || coalesce(goals, '') || ' ' || coalesce(organisation, ''), '')), 'C') || setweight(to_tsvector('english'::regconfig, coalesce(coalesce(lessons, '') || ' ' || coalesce(what_worked, '') || ' ' || coalesce(what_failed, '') || ' ' || coalesce(next_steps, '') || ' ' || coalesce(looking_for, ''), '')), 'D') ELSE setweight(to_tsvector('simple'::regconfig, coalesce(title, '')), 'A') || setweight(to_tsvector('simple'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('simple'::regconfig, coalesce(coalesce(description, '') || ' ' || coalesce(problem, '') || ' ' || coalesce(goals, '') || ' ' || coalesce(organisation, ''), '')), 'C') || setweight(to_tsvector('simple'::regconfig, coalesce(coalesce(lessons, '') || ' ' || coalesce(what_worked, '') || ' ' || coalesce(what_failed, '') || ' ' || coalesce(next_steps, '') || ' ' || coalesce(looking_for, ''), '')), 'D') END",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_index("ix_experiments_kind", "experiments", ["kind"], unique=False)
    op.create_index(
        "ix_experiments_municipality_codes",
        "experiments",
        ["municipality_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index("ix_experiments_outcome", "experiments", ["outcome"], unique=False)
    op.create_index(
        "ix_experiments_published_at",
        "experiments",
        ["published_at"],
        unique=False,
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.create_index(
        "ix_experiments_search", "experiments", ["search"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_experiments_stage", "experiments", ["stage"], unique=False)
    op.create_index(
        "ix_experiments_themes", "experiments", ["themes"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_experiments_updated_at", "experiments", ["updated_at"], unique=False)
    op.create_table(
        "themes",
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_fi", sa.String(length=200), nullable=False),
        sa.Column("name_sv", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_themes")),
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("hidden_reason", sa.String(length=20), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_comments_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    op.create_index(op.f("ix_comments_author_id"), "comments", ["author_id"], unique=False)
    op.create_index(
        "ix_comments_experiment_created", "comments", ["experiment_id", "created_at"], unique=False
    )
    op.create_table(
        "experiment_owners",
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_owners_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "member_id", name=op.f("pk_experiment_owners")),
    )
    op.create_index(
        op.f("ix_experiment_owners_member_id"), "experiment_owners", ["member_id"], unique=False
    )
    op.create_table(
        "comment_reports",
        sa.Column("comment_id", sa.Uuid(), nullable=False),
        sa.Column("member_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_comment_reports_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", "member_id", name=op.f("pk_comment_reports")),
    )
    op.create_index(
        op.f("ix_comment_reports_member_id"), "comment_reports", ["member_id"], unique=False
    )
    op.add_column("authors", sa.Column("email", sa.String(length=254), nullable=True))
    themes = sa.table(
        "themes",
        sa.column("slug", sa.String),
        sa.column("name_fi", sa.String),
        sa.column("name_sv", sa.String),
        sa.column("name_en", sa.String),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        themes,
        [
            {"slug": s, "name_fi": fi, "name_sv": sv, "name_en": en, "position": i}
            for i, (s, fi, sv, en) in enumerate(THEMES)
        ],
    )


def downgrade() -> None:
    op.drop_column("authors", "email")
    op.drop_index(op.f("ix_comment_reports_member_id"), table_name="comment_reports")
    op.drop_table("comment_reports")
    op.drop_index(op.f("ix_experiment_owners_member_id"), table_name="experiment_owners")
    op.drop_table("experiment_owners")
    op.drop_index("ix_comments_experiment_created", table_name="comments")
    op.drop_index(op.f("ix_comments_author_id"), table_name="comments")
    op.drop_table("comments")
    op.drop_table("themes")
    op.drop_index("ix_experiments_updated_at", table_name="experiments")
    op.drop_index("ix_experiments_themes", table_name="experiments", postgresql_using="gin")
    op.drop_index("ix_experiments_stage", table_name="experiments")
    op.drop_index("ix_experiments_search", table_name="experiments", postgresql_using="gin")
    op.drop_index(
        "ix_experiments_published_at",
        table_name="experiments",
        postgresql_where=sa.text("published_at IS NOT NULL"),
    )
    op.drop_index("ix_experiments_outcome", table_name="experiments")
    op.drop_index(
        "ix_experiments_municipality_codes", table_name="experiments", postgresql_using="gin"
    )
    op.drop_index("ix_experiments_kind", table_name="experiments")
    op.drop_table("experiments")
