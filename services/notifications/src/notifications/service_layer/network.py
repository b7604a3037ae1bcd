"""Gatherings, registrations and experiments: the projections, invitations and notices."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session
from uskalla_events import TemporaryFailure
from uskalla_events.contracts import (
    CommentPosted,
    ExperimentPublished,
    GatheringPublished,
    RegistrationChanged,
)

from notifications.adapters.composer import gathering_context
from notifications.adapters.models import ExperimentNews, Gathering
from notifications.domain import links
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.fanouts import Fanouts
from notifications.service_layer.projections import upsert
from notifications.service_layer.recipients import recipient
from notifications.service_layer.standing import is_erased

log = logging.getLogger(__name__)


class Network:
    def __init__(self, deliveries: Deliveries, fanouts: Fanouts) -> None:
        self.deliveries = deliveries
        self.fanouts = fanouts
        self.base = deliveries.settings.common.public_base_url

    def gathering_published(self, session: Session, e: GatheringPublished) -> None:
        upsert(
            session,
            Gathering,
            Gathering.gathering_id,
            {
                "gathering_id": e.gathering_id,
                "title": e.title,
                "kind": e.kind,
                "starts_at": e.starts_at,
                "ends_at": e.ends_at,
                "location": e.location,
                "online_url": e.online_url,
                "language": e.language,
                "description": e.description,
            },
        )
        # One invitation per member per gathering, however often it is (re)published.
        self.fanouts.start(
            session,
            kind="invitation",
            cause=str(e.gathering_id),
            audience={"list": "invitations", "language": "all", "municipality_codes": []},
        )

    def registration_changed(self, session: Session, e: RegistrationChanged, cause: str) -> None:
        member = recipient(session, e.member_id)
        if member is None:
            if is_erased(session, e.member_id):
                return
            # The member's joined event may not have been handled yet: try again later.
            raise TemporaryFailure(f"no recipient {e.member_id} yet")
        gathering = session.get(Gathering, e.gathering_id)
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
        """A notice to each owner of the experiment but the comment's author."""
        owners = set(e.owner_ids) - {e.author_id}
        for owner in sorted(owners):
            member = recipient(session, owner)
            if member is None or not member.active:
                log.info(
                    "comment notice skipped: owner unknown here", extra={"member_id": str(owner)}
                )
                continue
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
