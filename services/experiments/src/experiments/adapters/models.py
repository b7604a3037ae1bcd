"""The experiments database: typed models plus the event tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from uskalla_events import event_tables
from uskalla_kit.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EVENT_TABLES = event_tables(Base.metadata)


class Author(Base):
    """A projection of members: the names shown beside experiments and comments, and each
    member's standing (role, active, erased) that every request's token is checked against.

    `changed_at` is when the member's data held here was current (the event's `occurred_at`):
    an older event arriving late changes nothing. `role` is None for a row from before
    migration 0006 until the member's next event: the token's role stands meanwhile.
    """

    __tablename__ = "authors"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Theme(Base):
    __tablename__ = "themes"

    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_fi: Mapped[str] = mapped_column(String(200))
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Experiment(Base):
    __tablename__ = "experiments"
    __table_args__ = (
        # The Atom feed's order. Search and its filters read experiment_search instead.
        Index(
            "ix_experiments_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(1000))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    kind: Mapped[str] = mapped_column(String(20))
    scale: Mapped[str] = mapped_column(String(10))
    themes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    municipality_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(3)), default=list, server_default="{}"
    )
    organisation: Mapped[str] = mapped_column(String(200), default="", server_default="")
    problem: Mapped[str] = mapped_column(Text, default="", server_default="")
    goals: Mapped[str] = mapped_column(Text, default="", server_default="")
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    links: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    looking_for: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="fi", server_default="fi")
    stage: Mapped[str] = mapped_column(String(20), default="idea", server_default="idea")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The evaluation lives on the experiment: one per experiment, filtered and counted with it.
    outcome: Mapped[str | None] = mapped_column(String(20))
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    what_worked: Mapped[str | None] = mapped_column(Text)
    what_failed: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


#: The weight of a title's words in a head vector (ts_filter's argument).
TITLE_WEIGHTS = """'{a}'::"char"[]"""
#: The title's words in a head vector (its A-weighted lexemes), as the title index holds them.
TITLE_WORDS = text(f"ts_filter(head, {TITLE_WEIGHTS})")


class ExperimentSearch(Base):
    """What search reads of one published experiment, and nothing more (migration 0005).

    Kept by triggers on `experiments` in the same transaction as every write: a row exists
    exactly while the experiment is published. The weighted document (title A, summary B,
    body C, evaluation D, in the experiment's language) is stored out of line, so a row is
    ~170 bytes and counting thousands of matches visits few pages. One GIN index (btree_gin
    for the scalar columns) matches the words and every filter together.
    """

    __tablename__ = "experiment_search"
    __table_args__ = (
        Index(
            "ix_experiment_search_match",
            "document",
            "themes",
            "municipality_codes",
            "stage",
            "kind",
            "scale",
            "outcome",
            "language",
            postgresql_using="gin",
        ),
        Index("ix_experiment_search_published_at", "published_at"),
        Index("ix_experiment_search_updated_at", "updated_at"),
    )

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(2))
    stage: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    scale: Mapped[str] = mapped_column(String(10))
    outcome: Mapped[str | None] = mapped_column(String(20))
    themes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    municipality_codes: Mapped[list[str]] = mapped_column(ARRAY(String(3)))
    document: Mapped[Any] = mapped_column(TSVECTOR)


class ExperimentSearchHead(Base):
    """What relevance reads of a published experiment: title (A) and summary (B) as a vector.

    Apart from experiment_search so that counting does not read it. Its GIN index finds the
    matches whose title or summary holds a query word (all others rank 0); the index on the
    title's words (the vector's A lexemes) finds those that outrank the rest for a one-word
    query. The sort keys are repeated here so that such a page needs no other table.
    """

    __tablename__ = "experiment_search_heads"
    __table_args__ = (
        Index("ix_experiment_search_heads_head", "head", postgresql_using="gin"),
        Index("ix_experiment_search_heads_title", TITLE_WORDS, postgresql_using="gin"),
    )

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiment_search.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    head: Mapped[Any] = mapped_column(TSVECTOR)


class ExperimentOwner(Base):
    __tablename__ = "experiment_owners"

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ExperimentFollower(Base):
    """A member following an experiment: told of its stage changes, evaluation and comments.

    Owners follow their own experiments from the moment they become owners (migration 0007
    made the owners of that time followers)."""

    __tablename__ = "experiment_followers"

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    followed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_experiment_created", "experiment_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    # What the member wrote, and its rendering cached beside it (re-rendered on every edit).
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(String(20))  # "reports" or "coordinator"
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Reports filed before a coordinator restored the comment no longer count towards hiding.
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CommentReport(Base):
    __tablename__ = "comment_reports"

    comment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    reason: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
