"""Gatherings, registrations and experiments: the projections, invitations and notices."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session
from uskalla_events import TemporaryFailure
from uskalla_reference.gatherings import parse_time

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

    def gathering_published(self, session: Session, d: dict[str, Any]) -> None:
        upsert(
            session,
            Gathering,
            Gathering.gathering_id,
            {
                "gathering_id": d["gathering_id"],
                "title": d["title"],
                "kind": d["kind"],
                "starts_at": parse_time(d["starts_at"]),
                "ends_at": parse_time(d["ends_at"]),
                "location": d["location"],
                "online_url": d["online_url"],
                "language": d["language"],
                "description": d["description"] or "",
            },
        )
        # One invitation per member per gathering, however often it is (re)published.
        self.fanouts.start(
            session,
            kind="invitation",
            cause=str(d["gathering_id"]),
            audience={"list": "invitations", "language": "all", "municipality_codes": []},
        )

    def registration_changed(self, session: Session, d: dict[str, Any], cause: str) -> None:
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
            gathering_url=links.gathering(self.base, member.language, d["gathering_id"]),
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

    def comment_posted(self, session: Session, d: dict[str, Any]) -> None:
        """A notice to each owner of the experiment but the comment's author."""
        owners = {str(o) for o in d["owner_ids"]} - {str(d["author_id"])}
        for owner in sorted(owners):
            member = recipient(session, owner)
            if member is None or not member.active:
                log.info("comment notice skipped: owner unknown here", extra={"member_id": owner})
                continue
            self.deliveries.schedule(
                session,
                kind="comment",
                email=member.email,
                language=member.language,
                cause=str(d["comment_id"]),
                context={
                    "name": member.name,
                    "experiment_title": d["experiment_title"],
                    "experiment_url": links.experiment(
                        self.base, member.language, str(d["experiment_id"])
                    ),
                },
                member_id=member.member_id,
            )

    def experiment_published(self, session: Session, d: dict[str, Any]) -> None:
        """Kept as newsletter material."""
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
                "published_at": parse_time(d["published_at"]),
            },
        )
