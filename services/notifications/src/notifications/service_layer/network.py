"""Gatherings, registrations and experiments: the projections, invitations and notices."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import TemporaryFailure
from uskalla_events.contracts import (
    CommentPosted,
    ExperimentPublished,
    GatheringCancelled,
    GatheringChanged,
    GatheringPublished,
    RegistrationChanged,
)
from uskalla_events.vocabulary import RegistrationStatus

from notifications.adapters.composer import gathering_context
from notifications.adapters.models import (
    ExperimentNews,
    Gathering,
    GatheringRegistration,
    Recipient,
)
from notifications.domain import links
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.fanouts import Fanouts
from notifications.service_layer.projections import upsert
from notifications.service_layer.recipients import recipient
from notifications.service_layer.standing import is_erased

log = logging.getLogger(__name__)

#: Changes registrants are told of: when and where (or how online) to come.
TOLD = frozenset({"starts_at", "ends_at", "location", "online_url"})
#: Who a gathering's change or cancellation goes to.
ATTENDING = ("registered", "waitlisted")


class Network:
    def __init__(self, deliveries: Deliveries, fanouts: Fanouts) -> None:
        self.deliveries = deliveries
        self.fanouts = fanouts
        self.base = deliveries.settings.common.public_base_url

    def gathering_published(self, session: Session, e: GatheringPublished) -> None:
        self.keep_gathering(session, e)
        # One invitation per member per gathering, however often it is (re)published.
        self.fanouts.start(
            session,
            kind="invitation",
            cause=str(e.gathering_id),
            audience={"list": "invitations", "language": "all", "municipality_codes": []},
        )

    def keep_gathering(self, session: Session, e: GatheringPublished | GatheringChanged) -> bool:
        """The projection as the event says, unless a later one was kept already; kept?"""
        values = {
            "gathering_id": e.gathering_id,
            "title": e.title,
            "kind": e.kind,
            "starts_at": e.starts_at,
            "ends_at": e.ends_at,
            "location": e.location,
            "online_url": e.online_url,
            "language": e.language,
            "description": e.description,
            "sequence": e.sequence,
        }
        statement = insert(Gathering).values(**values)
        kept = session.execute(
            statement.on_conflict_do_update(
                index_elements=[Gathering.gathering_id],
                set_={k: statement.excluded[k] for k in values if k != "gathering_id"},
                where=Gathering.sequence < statement.excluded.sequence,
            ).returning(Gathering.gathering_id)
        ).first()
        return kept is not None

    def gathering_changed(self, session: Session, e: GatheringChanged) -> None:
        """Every later e-mail says what it is now; a new time or place is told to whoever
        is registered or waitlisted, with the calendar entry's higher SEQUENCE."""
        if self.keep_gathering(session, e) and TOLD & set(e.changed):
            self.tell_attending(session, e.gathering_id, "gathering_changed", str(e.sequence))

    def gathering_cancelled(self, session: Session, e: GatheringCancelled) -> None:
        cancelled = session.execute(
            update(Gathering)
            .where(Gathering.gathering_id == e.gathering_id, Gathering.sequence < e.sequence)
            .values(cancelled=True, sequence=e.sequence)
            .returning(Gathering.gathering_id)
        ).first()
        if cancelled is None:
            if session.get(Gathering, e.gathering_id) is None:
                # Its published event has not been handled yet: try again later.
                raise TemporaryFailure(f"no gathering {e.gathering_id} yet")
            return
        self.tell_attending(session, e.gathering_id, "gathering_cancelled", "cancelled")

    def tell_attending(self, session: Session, gathering_id: uuid.UUID, kind: str, why: str) -> int:
        """A `kind` e-mail about the gathering as it is now to each registered and waitlisted
        member, once per (gathering, `why`); how many were scheduled."""
        gathering = session.get(Gathering, gathering_id)
        if gathering is None:
            return 0
        rows = session.execute(
            select(GatheringRegistration.status, Recipient)
            .join(Recipient, Recipient.member_id == GatheringRegistration.member_id)
            .where(
                GatheringRegistration.gathering_id == gathering_id,
                GatheringRegistration.status.in_(ATTENDING),
                Recipient.active.is_(True),
            )
            .order_by(Recipient.member_id)
        ).all()
        for status, member in rows:
            self.mail_about(
                session, gathering, member, kind, cause=f"{gathering_id}:{why}", status=status
            )
        return len(rows)

    def mail_about(
        self,
        session: Session,
        gathering: Gathering,
        member: Recipient,
        kind: str,
        *,
        cause: str,
        status: str,
    ) -> uuid.UUID | None:
        """One e-mail about a gathering to one member, in their language (None if this cause
        mailed them already)."""
        context = gathering_context(gathering) | {
            "name": member.name,
            "status": status,
            "gathering_url": links.gathering(
                self.base, member.language, str(gathering.gathering_id)
            ),
        }
        return self.deliveries.schedule(
            session,
            kind=kind,
            email=member.email,
            language=member.language,
            cause=cause,
            context=context,
            member_id=member.member_id,
        )

    def keep_registration(self, session: Session, e: RegistrationChanged, at: datetime) -> None:
        """Who is coming, as the latest of members' events says (a cancelled one is kept as
        such, so an older event arriving late cannot bring it back)."""
        status = {
            RegistrationStatus.PROMOTED: "registered",
            RegistrationStatus.CANCELLED: "cancelled",
        }.get(e.status, e.status.value)
        statement = insert(GatheringRegistration).values(
            gathering_id=e.gathering_id, member_id=e.member_id, status=status, changed_at=at
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    GatheringRegistration.gathering_id,
                    GatheringRegistration.member_id,
                ],
                set_={"status": status, "changed_at": at},
                where=GatheringRegistration.changed_at <= at,
            )
        )

    def registration_changed(
        self, session: Session, e: RegistrationChanged, cause: str, at: datetime
    ) -> None:
        member = recipient(session, e.member_id)
        if member is None:
            if is_erased(session, e.member_id):
                return
            # The member's joined event may not have been handled yet: try again later.
            raise TemporaryFailure(f"no recipient {e.member_id} yet")
        self.keep_registration(session, e, at)
        gathering = session.get(Gathering, e.gathering_id)
        if gathering is not None and gathering.cancelled:
            return  # its cancellation said all there is to say
        # The delivery's context is kept as JSON: strings for the ids, the time and the status.
        context: dict[str, Any] = {
            "gathering_id": str(e.gathering_id),
            "title": e.title,
            "starts_at": e.starts_at.isoformat(),
            "location": None,
            "online_url": None,
            "has_calendar": False,
        }
        if gathering is not None:
            context.update(gathering_context(gathering), has_calendar=True)
            context["title"] = e.title
        context.update(
            name=member.name,
            status=e.status.value,
            gathering_url=links.gathering(self.base, member.language, str(e.gathering_id)),
        )
        self.deliveries.schedule(
            session,
            kind="registration",
            email=member.email,
            language=member.language,
            cause=cause,
            context=context,
            member_id=member.member_id,
        )

    def comment_posted(self, session: Session, e: CommentPosted) -> None:
        """A notice to each owner of the experiment but the comment's author (list
        `comments`, one-click unsubscribe)."""
        owners = set(e.owner_ids) - {e.author_id}
        for owner in sorted(owners):
            member = recipient(session, owner)
            if member is None or not member.active:
                log.info(
                    "comment notice skipped: owner unknown here", extra={"member_id": str(owner)}
                )
                continue
            if not member.comments:
                continue  # they turned the list `comments` off
            self.deliveries.schedule(
                session,
                kind="comment",
                email=member.email,
                language=member.language,
                cause=str(e.comment_id),
                context={
                    "name": member.name,
                    "experiment_title": e.experiment_title,
                    "experiment_url": links.experiment(
                        self.base, member.language, str(e.experiment_id)
                    ),
                },
                member_id=member.member_id,
            )

    def experiment_published(self, session: Session, e: ExperimentPublished) -> None:
        """Kept as newsletter material."""
        upsert(
            session,
            ExperimentNews,
            ExperimentNews.experiment_id,
            {
                "experiment_id": e.experiment_id,
                "title": e.title,
                "summary": e.summary,
                "themes": e.themes,
                "municipality_codes": e.municipality_codes,
                "published_at": e.published_at,
            },
        )
