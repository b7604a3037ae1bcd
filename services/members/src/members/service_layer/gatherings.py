"""Gathering use cases: drafts, editing, publishing, reading and listing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem, validation_problem

from members.adapters.calendar import calendar_feed, gathering_calendar
from members.adapters.models import Gathering, Member
from members.config import Settings
from members.domain.gatherings import after_event_refusal, schedule_errors
from members.service_layer import events
from members.service_layer.access import is_coordinator
from members.service_layer.clock import now
from members.service_layer.registrations import Registrations, locked_gathering
from members.service_layer.views import gathering_url, gathering_view

EDITABLE = (
    "title",
    "kind",
    "description",
    "starts_at",
    "ends_at",
    "location",
    "online_url",
    "capacity",
    "registration_deadline",
    "language",
)
#: What anyone may see: published gatherings, and cancelled ones shown as cancelled.
PUBLIC = ("published", "cancelled")
#: How far back the calendar feed reaches.
FEED_DAYS = 90


class Gatherings:
    def __init__(self, settings: Settings, outbox: Outbox, registrations: Registrations) -> None:
        self.settings = settings
        self.outbox = outbox
        self.registrations = registrations

    def create(self, session: Session, author: Member, data: dict[str, Any]) -> Gathering:
        moment = now()
        gathering = Gathering(
            id=uuid.uuid4(),
            status="draft",
            sequence=0,
            created_by=author.id,
            created_at=moment,
            updated_at=moment,
            **{k: data.get(k) for k in EDITABLE},
        )
        gathering.description = data.get("description") or ""
        session.add(gathering)
        session.flush()
        return gathering

    def update(
        self, session: Session, gathering_id: uuid.UUID, changes: dict[str, Any]
    ) -> Gathering:
        gathering = locked_gathering(session, gathering_id)
        if gathering.status == "cancelled":
            raise Problem(409, "Conflict", "The gathering is cancelled; it cannot be edited.")
        merged = {k: changes.get(k, getattr(gathering, k)) for k in EDITABLE}
        errors = schedule_errors(
            merged["starts_at"],
            merged["ends_at"],
            merged["registration_deadline"],
            merged["location"],
            merged["online_url"],
        )
        registered, _ = self.registrations.counts(session, [gathering.id])[gathering.id]
        if merged["capacity"] is not None and merged["capacity"] < registered:
            errors["capacity"] = [
                f"{registered} people are already registered; the capacity cannot be lower."
            ]
        if errors:
            raise validation_problem(errors)
        changed = [k for k in EDITABLE if k in changes and getattr(gathering, k) != merged[k]]
        if changed:
            for key in changed:
                setattr(gathering, key, merged[key])
            gathering.sequence += 1
            gathering.updated_at = now()
            session.flush()
            if gathering.status == "published":
                self.outbox.add(session, events.gathering_changed(gathering, changed))
            self.registrations.promote(session, gathering)
        return gathering

    def cancel(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        """A published gathering will not take place; its registrants are told (once: again
        changes nothing). Registrations stay, so who was coming can still be seen."""
        gathering = locked_gathering(session, gathering_id)
        if gathering.status == "draft":
            raise Problem(409, "Conflict", "A draft is not published; there is nothing to cancel.")
        if gathering.status == "published":
            gathering.status = "cancelled"
            gathering.sequence += 1
            gathering.updated_at = now()
            session.flush()
            self.outbox.add(session, events.gathering_cancelled(gathering))
        return gathering

    def publish(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        gathering = locked_gathering(session, gathering_id)
        if gathering.status != "draft":
            raise Problem(409, "Conflict", f"The gathering is already {gathering.status}.")
        gathering.status = "published"
        gathering.published_at = gathering.updated_at = now()
        session.flush()
        self.outbox.add(session, events.gathering_published(gathering))
        return gathering

    def record(self, session: Session, gathering_id: uuid.UUID, data: dict[str, Any]) -> Gathering:
        """What a started gathering left behind, all replaced: its summary, the materials
        (title and link) and the ids of the experiments it discussed."""
        gathering = self.after_event(session, gathering_id)
        gathering.summary = data["summary"]
        gathering.materials = [{"title": m["title"], "url": m["url"]} for m in data["materials"]]
        gathering.experiment_ids = [str(e) for e in data["experiment_ids"]]
        gathering.updated_at = now()
        session.flush()
        return gathering

    def mark_attendance(
        self, session: Session, gathering_id: uuid.UUID, attended: list[uuid.UUID]
    ) -> dict[str, Any]:
        gathering = self.after_event(session, gathering_id)
        return self.registrations.mark_attendance(session, gathering, attended)

    def attendance(self, session: Session, gathering_id: uuid.UUID) -> dict[str, Any]:
        return self.registrations.attendance(session, self.get(session, gathering_id))

    def after_event(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        """The gathering's row, locked, if it has started and was not cancelled (else 409)."""
        gathering = locked_gathering(session, gathering_id)
        refusal = after_event_refusal(gathering.status, gathering.starts_at, now())
        if refusal:
            raise Problem(409, "Conflict", refusal)
        return gathering

    def get(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        """A published gathering, or a draft for an active coordinator (404 otherwise)."""
        gathering = session.get(Gathering, gathering_id)
        if gathering is None or (gathering.status == "draft" and not is_coordinator(session)):
            raise Problem(404, "Not found", "No such gathering.")
        return gathering

    def view(
        self, session: Session, gathering: Gathering, viewer: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """The gathering with its counts, and the viewer's own registration if any."""
        counts = self.registrations.counts(session, [gathering.id])[gathering.id]
        mine = None
        if viewer is not None:
            mine = self.registrations.registration_of(session, gathering.id, viewer)
        attended = self.registrations.attended_counts(session, [gathering.id])[gathering.id]
        return gathering_view(gathering, self.base_url, counts, mine, attended)

    def read(
        self, session: Session, gathering_id: uuid.UUID, viewer: uuid.UUID | None
    ) -> dict[str, Any]:
        return self.view(session, self.get(session, gathering_id), viewer)

    def calendar_file(self, session: Session, gathering_id: uuid.UUID) -> bytes:
        gathering = self.get(session, gathering_id)
        return gathering_calendar(gathering, gathering_url(self.base_url, gathering), now())

    def feed(self, session: Session) -> bytes:
        """Every published gathering, upcoming and of the last `FEED_DAYS` days, cancelled
        ones marked so: the subscribable calendar (one builder with downloads and e-mail)."""
        found = session.scalars(
            select(Gathering)
            .where(
                Gathering.status.in_(PUBLIC),
                Gathering.ends_at >= now() - timedelta(days=FEED_DAYS),
            )
            .order_by(Gathering.starts_at, Gathering.id)
        ).all()
        pages = [(g, gathering_url(self.base_url, g)) for g in found]
        return calendar_feed(pages, self.base_url, now())

    @property
    def base_url(self) -> str:
        return self.settings.common.public_base_url

    def listing(
        self,
        session: Session,
        *,
        status: str,
        when: str,
        kind: str | None,
        language: str | None,
        page: int,
        per_page: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of gatherings with their counts, and how many there are in all: `upcoming`
        (not ended, soonest first), `past` (ended, latest first) or `all` (latest first)."""
        # Cancelled gatherings stay in the public list, shown as cancelled.
        shown = PUBLIC if status == "published" else (status,)
        query: Select[Gathering] = select(Gathering).where(Gathering.status.in_(shown))
        if when == "upcoming":
            query = query.where(Gathering.ends_at >= now())
        elif when == "past":
            query = query.where(Gathering.ends_at < now())
        if kind:
            query = query.where(Gathering.kind == kind)
        if language:
            query = query.where(Gathering.language == language)
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        order = Gathering.starts_at.asc() if when == "upcoming" else Gathering.starts_at.desc()
        found = session.scalars(
            query.order_by(order, Gathering.id).offset((page - 1) * per_page).limit(per_page)
        ).all()
        ids = [g.id for g in found]
        counts = self.registrations.counts(session, ids)
        attended = self.registrations.attended_counts(session, ids)
        items = [
            gathering_view(g, self.base_url, counts[g.id], attended=attended[g.id]) for g in found
        ]
        return items, int(total or 0)
