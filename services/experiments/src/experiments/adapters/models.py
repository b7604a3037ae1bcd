"""The experiments database: typed models plus the event tables."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Computed,
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
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from uskalla_events import event_tables
from uskalla_kit.db import NAMING_CONVENTION

from experiments.domain.vocabulary import SEARCH_CONFIGS


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EVENT_TABLES = event_tables(Base.metadata)


def _document(config: str) -> str:
    """One language's weighted document: title A, summary B, the body C, the evaluation D."""
    parts = {
        "A": "title",
        "B": "summary",
        "C": "coalesce(description, '') || ' ' || coalesce(problem, '') || ' ' || "
        "coalesce(goals, '') || ' ' || coalesce(organisation, '')",
        "D": "coalesce(lessons, '') || ' ' || coalesce(what_worked, '') || ' ' || "
        "coalesce(what_failed, '') || ' ' || coalesce(next_steps, '') || ' ' || "
        "coalesce(looking_for, '')",
    }
    return " || ".join(
        f"setweight(to_tsvector('{config}'::regconfig, coalesce({sql}, '')), '{weight}')"
        for weight, sql in parts.items()
    )


def _head(config: str) -> str:
    return (
        f"setweight(to_tsvector('{config}'::regconfig, coalesce(title, '')), 'A') || "
        f"setweight(to_tsvector('{config}'::regconfig, coalesce(summary, '')), 'B')"
    )


def _by_language(document: Callable[[str], str]) -> str:
    return (
        "CASE language "
        + " ".join(f"WHEN '{lang}' THEN {document(cfg)}" for lang, cfg in SEARCH_CONFIGS.items())
        + f" ELSE {document('simple')} END"
    )


#: The stored search document, in the text search configuration of the experiment's language.
SEARCH_DOCUMENT = _by_language(_document)
#: Title and summary only: small enough to stay in the row, so ranking thousands of matches
#: does not read every large document back from TOAST storage.
SEARCH_HEAD = _by_language(_head)


class Author(Base):
    """A projection of members: the names shown beside experiments and comments.

    The e-mail address is kept only so that erasure can find it in free text and redact it.
    """

    __tablename__ = "authors"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
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
        Index("ix_experiments_search", "search", postgresql_using="gin"),
        Index("ix_experiments_themes", "themes", postgresql_using="gin"),
        Index("ix_experiments_municipality_codes", "municipality_codes", postgresql_using="gin"),
        Index(
            "ix_experiments_published_at",
            "published_at",
            postgresql_where=text("published_at IS NOT NULL"),
        ),
        Index("ix_experiments_updated_at", "updated_at"),
        Index("ix_experiments_stage", "stage"),
        Index("ix_experiments_outcome", "outcome"),
        Index("ix_experiments_kind", "kind"),
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
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True))
    search_head: Mapped[Any] = mapped_column(TSVECTOR, Computed(SEARCH_HEAD, persisted=True))


class ExperimentOwner(Base):
    __tablename__ = "experiment_owners"

    experiment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
