"""The members database: typed SQLAlchemy models plus the event tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from uskalla_events import event_tables
from uskalla_kit.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EVENT_TABLES = event_tables(Base.metadata)


class Member(Base):
    """A person in the network: `pending` until the double opt-in is confirmed."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("digest IN ('off', 'daily', 'weekly')", name="digest_frequency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    municipality_code: Mapped[str | None] = mapped_column(String(3))
    title: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    newsletter: Mapped[bool] = mapped_column(Boolean, default=True)
    invitations: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str] = mapped_column(String(20), default="member")
    # pending (not confirmed yet), active, deactivated (by a coordinator)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    consent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    privacy_notice_version: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    joined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirm_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    undeliverable: Mapped[bool] = mapped_column(Boolean, default=False)
    # Lists beside newsletter/invitations: e-mails about followed experiments, and owners'
    # comment e-mails.
    follows: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    comments: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Interests: what the member wants to hear about (theme slugs, municipality codes) and
    # how often the digest of them comes (DigestFrequency).
    themes: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list, server_default="{}")
    interest_municipality_codes: Mapped[list[str]] = mapped_column(
        ARRAY(String(3)), default=list, server_default="{}"
    )
    digest: Mapped[str] = mapped_column(String(10), default="off", server_default="off")


class SignInToken(Base):
    """A one-time sign-in link: only its hash is kept; used once, then spent."""

    __tablename__ = "sign_in_tokens"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Intake(Base):
    """A join or sign-in request as it arrived, waiting for the relay to act on it.

    Answering writes only this row, the same for every address, so neither the answer nor
    the work behind it tells a known address from an unknown one; the relay then does what
    the address calls for (a new member, a link, an "already a member" e-mail, or nothing).
    """

    __tablename__ = "intake"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # join, sign_in
    data: Mapped[dict[str, object]] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # A request that failed waits (doubling, at most an hour) before the next try; after
    # INTAKE_MAX_ATTEMPTS it is held for an operator (`members intake --release`), never lost.
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    retry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    held_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Gathering(Base):
    """A forum, Tarinapaja, network meeting or webinar: a draft until published."""

    __tablename__ = "gatherings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="positive_capacity"),
        Index("ix_gatherings_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    capacity: Mapped[int | None] = mapped_column(Integer)
    registration_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    status: Mapped[str] = mapped_column(String(20), default="draft")  # draft, published
    # Bumped on every edit so calendar programs replace the event they imported (RFC 5545).
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("members.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # After the event (coordinators, once it has started): what was learned, in the plain-text
    # format; links to materials ({"title", "url"}); the experiments discussed (their ids only:
    # they live in the experiments service).
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    materials: Mapped[list[dict[str, str]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    experiment_ids: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )


class Registration(Base):
    """A member's place at a gathering, or in its waitlist (ordered by `seq`)."""

    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("gathering_id", "member_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # The arrival order: the waitlist is promoted first come, first served.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    gathering_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("gatherings.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("members.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))  # registered, waitlisted
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Marked by coordinators after the start; None until attendance is marked.
    attended: Mapped[bool | None] = mapped_column(Boolean)
