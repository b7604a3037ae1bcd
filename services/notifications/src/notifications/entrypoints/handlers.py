"""Events notifications consumes: keep the projections current, schedule e-mails."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Envelope, EventHandlers, TemporaryFailure
from uskalla_kit.sealed import Sealer

from notifications.adapters.models import ErasedMember, ExperimentNews, Gathering, Recipient
from notifications.composer import LINK_TOKEN, gathering_context
from notifications.deliveries import Deliveries
from notifications.domain import links
from notifications.fanouts import Fanouts
from notifications.privacy import erase_member
from notifications.standing import is_erased

log = logging.getLogger(__name__)
SIGN_IN_MINUTES = 15


class UnreadableToken(Exception):
    """An event's link token does not open here: its e-mail would carry a broken link (or a
    raw value), so the event is dead-lettered instead (a permanent error)."""


def sealed_token(sealer: Sealer, event: Envelope) -> str:
    """The event's link token as it came, sealed (it is opened only when the mail is built),
    once it is certain that it opens."""
    token = event.data.get("token")
    if not isinstance(token, str) or sealer.open(token) is None:
        raise UnreadableToken(
            f"the link token of {event.type} does not open with EVENT_TOKEN_KEYS: "
            "not sealed, or sealed with a key this service does not hold"
        )
    return token


def upsert(
    session: Session, model: Any, key: Any, values: dict[str, Any], where: Any = None
) -> None:
    statement = insert(model).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={k: statement.excluded[k] for k in values if k != key.key},
            where=where,
        )
    )


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def register_handlers(handlers: EventHandlers, deliveries: Deliveries, fanouts: Fanouts) -> None:
    """Add notifications' handlers to its registry, bound to this process's services."""
    register_member_handlers(handlers, deliveries)
    register_network_handlers(handlers, deliveries, fanouts)


def recipient(session: Session, member_id: str) -> Recipient | None:
    return session.get(Recipient, uuid.UUID(member_id))


def not_older(changed_at: datetime) -> Any:
    """Only what the event is newer than (or as new as): a late event changes nothing."""
    return or_(Recipient.changed_at.is_(None), Recipient.changed_at <= changed_at)


def register_member_handlers(handlers: EventHandlers, deliveries: Deliveries) -> None:
    """Members' own events: the recipient projection and their personal e-mails."""
    sealer = deliveries.settings.link_tokens

    @handlers.on("members.member.registered.v1")
    def member_registered(session: Session, event: Envelope) -> None:
        d = event.data
        if is_erased(session, d["member_id"]):
            return
        # The address has not confirmed anything yet: these mails carry nothing the joiner
        # typed (the name), so the join form cannot send anyone wording of a stranger's choice.
        if d["already_member"]:
            kind, context = "already_member", {}
        else:
            kind = "confirmation"
            context = {LINK_TOKEN: sealed_token(sealer, event)}
        deliveries.schedule(
            session,
            kind=kind,
            email=d["email"],
            language=d["language"],
            cause=event.id,
            context=context,
            member_id=d["member_id"],
        )

    @handlers.on("members.member.joined.v1")
    def member_joined(session: Session, event: Envelope) -> None:
        d = event.data
        if is_erased(session, d["member_id"]):
            return  # a late event never brings an erased member back
        changed_at = moment(event.occurred_at)
        upsert(
            session,
            Recipient,
            Recipient.member_id,
            {
                "member_id": d["member_id"],
                "email": d["email"].lower(),
                "name": d["name"],
                "language": d["language"],
                "organisation": d["organisation"],
                "municipality_code": d["municipality_code"],
                "newsletter": d["newsletter"],
                "invitations": d["invitations"],
                "active": True,
                "role": d["role"],
                "changed_at": changed_at,
            },
            where=not_older(changed_at),
        )
        deliveries.schedule(
            session,
            kind="welcome",
            email=d["email"],
            language=d["language"],
            cause=event.id,
            context={"name": d["name"]},
            member_id=d["member_id"],
        )

    @handlers.on("members.member.updated.v1")
    def member_updated(session: Session, event: Envelope) -> None:
        d = event.data
        changed_at = moment(event.occurred_at)
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"], not_older(changed_at))
            .values(
                email=d["email"].lower(),
                name=d["name"],
                language=d["language"],
                organisation=d["organisation"],
                municipality_code=d["municipality_code"],
                active=d["active"],
                role=d["role"],
                changed_at=changed_at,
            )
        )
        if recipient(session, d["member_id"]) is None and not is_erased(session, d["member_id"]):
            # Before their joined event: a role or deactivation must not be lost. Later.
            raise TemporaryFailure(f"no recipient {d['member_id']} yet")

    @handlers.on("members.subscriptions.changed.v1")
    def subscriptions_changed(session: Session, event: Envelope) -> None:
        d = event.data
        session.execute(
            update(Recipient)
            .where(Recipient.member_id == d["member_id"])
            .values(newsletter=d["newsletter"], invitations=d["invitations"])
        )

    @handlers.on("members.sign_in.requested.v1")
    def sign_in_requested(session: Session, event: Envelope) -> None:
        d = event.data
        if is_erased(session, d["member_id"]):
            return
        deliveries.schedule(
            session,
            kind="sign_in",
            email=d["email"],
            language=d["language"],
            cause=event.id,
            context={
                "name": d["name"],
                LINK_TOKEN: sealed_token(sealer, event),
                "valid_minutes": d.get("valid_minutes") or SIGN_IN_MINUTES,
            },
            member_id=d["member_id"],
        )

    @handlers.on("members.member.erased.v1")
    def member_erased(session: Session, event: Envelope) -> None:
        member_id = uuid.UUID(event.data["member_id"])
        erase_member(session, member_id)
        session.execute(insert(ErasedMember).values(member_id=member_id).on_conflict_do_nothing())


def register_network_handlers(
    handlers: EventHandlers, deliveries: Deliveries, fanouts: Fanouts
) -> None:
    """Gatherings, registrations and experiments: invitations and notices."""
    base = deliveries.settings.common.public_base_url

    @handlers.on("members.gathering.published.v1")
    def gathering_published(session: Session, event: Envelope) -> None:
        d = event.data
        upsert(
            session,
            Gathering,
            Gathering.gathering_id,
            {
                "gathering_id": d["gathering_id"],
                "title": d["title"],
                "kind": d["kind"],
                "starts_at": moment(d["starts_at"]),
                "ends_at": moment(d["ends_at"]),
                "location": d["location"],
                "online_url": d["online_url"],
                "language": d["language"],
                "description": d["description"] or "",
            },
        )
        # One invitation per member per gathering, however often it is (re)published.
        fanouts.start(
            session,
            kind="invitation",
            cause=str(d["gathering_id"]),
            audience={"list": "invitations", "language": "all", "municipality_codes": []},
        )

    @handlers.on("members.registration.changed.v1")
    def registration_changed(session: Session, event: Envelope) -> None:
        d = event.data
        member = recipient(session, d["member_id"])
        if member is None:
            if is_erased(session, d["member_id"]):
                return
            # The member's joined event may not have been handled yet: try again later.
            raise TemporaryFailure(f"no recipient {d['member_id']} yet")
        gathering = session.get(Gathering, uuid.UUID(d["gathering_id"]))
        context: dict[str, Any] = {
            "gathering_id": d["gathering_id"],
            "title": d["title"],
            "starts_at": d["starts_at"],
            "location": None,
            "online_url": None,
            "has_calendar": False,
        }
        if gathering is not None:
            context.update(gathering_context(gathering), has_calendar=True)
            context["title"] = d["title"]
        context.update(
            name=member.name,
            status=d["status"],
            gathering_url=links.gathering(base, member.language, d["gathering_id"]),
        )
        deliveries.schedule(
            session,
            kind="registration",
            email=member.email,
            language=member.language,
            cause=event.id,
            context=context,
            member_id=member.member_id,
        )

    @handlers.on("experiments.comment.posted.v1")
    def comment_posted(session: Session, event: Envelope) -> None:
        d = event.data
        owners = {str(o) for o in d["owner_ids"]} - {str(d["author_id"])}
        for owner in sorted(owners):
            member = recipient(session, owner)
            if member is None or not member.active:
                log.info("comment notice skipped: owner unknown here", extra={"member_id": owner})
                continue
            deliveries.schedule(
                session,
                kind="comment",
                email=member.email,
                language=member.language,
                cause=str(d["comment_id"]),
                context={
                    "name": member.name,
                    "experiment_title": d["experiment_title"],
                    "experiment_url": links.experiment(
                        base, member.language, str(d["experiment_id"])
                    ),
                },
                member_id=member.member_id,
            )

    @handlers.on("experiments.experiment.published.v1")
    def experiment_published(session: Session, event: Envelope) -> None:
        d = event.data
        upsert(
            session,
            ExperimentNews,
            ExperimentNews.experiment_id,
            {
                "experiment_id": d["experiment_id"],
                "title": d["title"],
                "summary": d["summary"],
                "themes": d["themes"],
                "municipality_codes": d["municipality_codes"],
                "published_at": moment(d["published_at"]),
            },
        )
