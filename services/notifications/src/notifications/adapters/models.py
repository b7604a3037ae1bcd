"""The notifications database: recipients and gatherings (projections), the delivery log,
list-mail fan-outs, newsletters, suppressed addresses and material for the newsletter."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from uskalla_events import event_tables
from uskalla_kit.db import NAMING_CONVENTION


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


EVENT_TABLES = event_tables(Base.metadata)
EMPTY_LIST = text("'[]'::jsonb")


class Recipient(Base):
    """What notifications knows of a member: where and how to write to them, and their
    standing (role, active), which every request's token is checked against.

    `changed_at` is when the member's data held here was current (the event's `occurred_at`):
    an older event arriving late changes nothing. `role` is None for a row from before
    migration 0006 until the member's next event: the token's role stands meanwhile."""

    __tablename__ = "recipients"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2))
    organisation: Mapped[str] = mapped_column(String(200), default="")
    municipality_code: Mapped[str | None] = mapped_column(String(3))
    newsletter: Mapped[bool] = mapped_column(Boolean, default=False)
    invitations: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str | None] = mapped_column(String(20))
    #: The member's interests: themes (slugs) and municipality codes, from
    #: `members.member.joined.v1` and `members.interests.changed.v1` (kept from the newest, by
    #: `interests_changed_at`). Newsletter audiences by theme and digests select on them.
    themes: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default=EMPTY_LIST)
    municipality_codes: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=EMPTY_LIST
    )
    #: How often the digest comes (`off`, `daily`, `weekly`).
    digest: Mapped[str] = mapped_column(String(10), default="off", server_default="off")
    interests_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Lists `follows` (follow e-mails) and `comments` (owners' comment e-mails).
    follows: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    comments: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ErasedMember(Base):
    """A member who was erased: only the id, so that no token of theirs works here again and
    no late event brings their recipient row back."""

    __tablename__ = "erased_members"

    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Delivery(Base):
    """One e-mail for one cause to one address: never twice for the same cause."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("kind", "email", "cause", name="uq_deliveries_kind_email_cause"),
        # List mail is claimed from here; the partial index stays as small as what is left
        # to send, so claiming the next rows never rescans the sent ones.
        Index(
            "ix_deliveries_open_cause",
            "cause",
            "kind",
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_deliveries_cause_status", "cause", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    email: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2))
    cause: Mapped[str] = mapped_column(String(100))
    context: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str] = mapped_column(String(200))
    #: Indexed for the retention purge (`DELIVERY_RETENTION_DAYS`).
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    #: The batch chain that holds the row while it is `sending` (a fencing token), and until
    #: when: a dead chain's rows go back to the others after that.
    claimed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Fanout(Base):
    """One piece of list mail to many (a newsletter, a gathering's invitations): its audience is
    frozen into delivery rows in batches, then sent by chains of batch tasks."""

    __tablename__ = "fanouts"
    __table_args__ = (UniqueConstraint("kind", "cause", name="uq_fanouts_kind_cause"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(40))
    cause: Mapped[str] = mapped_column(String(100))
    #: Which recipients: {"list", "language", "municipality_codes": [...], "themes": [...]}
    #: (no codes or no themes: no narrowing by them).
    audience: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    #: The last member id frozen into deliveries (keyset cursor; freezing resumes after it).
    cursor: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Newsletter(Base):
    """A newsletter: a Markdown draft, perhaps scheduled (`send_at`), then sent once to its
    audience; a `public` one is in the archive once sent."""

    __tablename__ = "newsletters"
    __table_args__ = (
        Index("ix_newsletters_due", "send_at", postgresql_where=text("status = 'scheduled'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(3), default="all")
    municipality_codes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    themes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    region_codes: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default=EMPTY_LIST)
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    #: When a scheduled newsletter starts sending by itself.
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    send_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Gathering(Base):
    """A published gathering, as its event told us: what invitations and notices show."""

    __tablename__ = "gatherings"

    gathering_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[str | None] = mapped_column(String(500))
    online_url: Mapped[str | None] = mapped_column(String(1000))
    language: Mapped[str] = mapped_column(String(2))
    description: Mapped[str] = mapped_column(Text, default="")
    #: The iCalendar SEQUENCE members gave its latest event: an older event changes nothing.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class GatheringRegistration(Base):
    """Who is registered or waitlisted for a gathering, as members' registration events told
    it: whom a change, a cancellation and the reminder go to."""

    __tablename__ = "gathering_registrations"
    __table_args__ = (Index("ix_gathering_registrations_member_id", "member_id"),)

    gathering_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # registered, waitlisted
    #: When members made the change (the event's time): an older event changes nothing.
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Suppression(Base):
    """Bounce history of an address, keyed by its SHA-256 so that erasure leaves no address.

    Suppressed while `suppressed_at` is set, for `reason` (`hard_bounce`, `soft_bounces`,
    `complaint`, `manual`); a coordinator lifting it sets `lifted_at` (soft bounces count
    again from then)."""

    __tablename__ = "suppressions"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, unique=True, default=uuid.uuid4, server_default=text("gen_random_uuid()")
    )
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)
    suppressed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    reason: Mapped[str | None] = mapped_column(String(20))
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_reason: Mapped[str] = mapped_column(String(500), default="")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Bounce(Base):
    """One bounce or complaint of an address (no address: its hash), for counting soft bounces
    within a window and for the coordinator's record."""

    __tablename__ = "bounces"
    __table_args__ = (Index("ix_bounces_email_hash_received_at", "email_hash", "received_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    email_hash: Mapped[str] = mapped_column(String(64))
    #: `hard`, `soft` or `complaint`.
    kind: Mapped[str] = mapped_column(String(20))
    #: Where it came from: `smtp` (refused at send time), `dsn`, `arf`, `manual`.
    source: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reason: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class BounceMail(Base):
    """Mail the bounce receiver accepted but could not read as a bounce or a complaint (an
    auto-reply, an odd report): kept whole for a coordinator, never lost."""

    __tablename__ = "bounce_mail"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    mail_from: Mapped[str] = mapped_column(String(500), default="")
    rcpt_to: Mapped[str] = mapped_column(String(500), default="")
    #: The delivery its VERP address named, if it named one.
    delivery_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    note: Mapped[str] = mapped_column(String(500), default="")
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class ExperimentNews(Base):
    """Newly published experiments: material a coordinator can put in the next newsletter."""

    __tablename__ = "experiment_news"

    experiment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    themes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    municipality_codes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class FollowActivity(Base):
    """Something that happened to an experiment a member follows, waiting for its e-mail (list
    `follows`, gathered over `FOLLOW_BATCH_MINUTES`) or the member's digest. The row is deleted
    in the transaction that puts it into a delivery: each is mailed once."""

    __tablename__ = "follow_activity"
    __table_args__ = (
        UniqueConstraint(
            "member_id", "kind", "source", name="uq_follow_activity_member_kind_source"
        ),
        Index("ix_follow_activity_member_id_created_at", "member_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    experiment_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    #: `stage_changed`, `evaluated` or `comment`.
    kind: Mapped[str] = mapped_column(String(20))
    #: What it came from (a comment's id, the experiment's stage and time): an event handled
    #: twice, or two events about one thing, make one row.
    source: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    #: The new stage, or the evaluation's outcome.
    detail: Mapped[str] = mapped_column(String(40), default="", server_default="")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DigestPeriod(Base):
    """A digest period (`weekly:2026-12-07`: the period that ended that day at `DIGEST_HOUR`)
    whose pass over the members finished: the relay's beat does not go over it again. Which
    member got one is in the deliveries (kind `digest`, cause `{member}:{period}`)."""

    __tablename__ = "digest_periods"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
