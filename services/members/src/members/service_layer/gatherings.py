"""Gathering use cases: drafts, editing, publishing, reading and listing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from uskalla_events.outbox import Outbox
from uskalla_kit import Problem, validation_problem

from members.adapters.calendar import gathering_calendar
from members.adapters.models import Gathering, Member
from members.config import Settings
from members.domain.gatherings import schedule_errors
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
        changed = False
        for key in EDITABLE:
            if key in changes and getattr(gathering, key) != merged[key]:
                setattr(gathering, key, merged[key])
                changed = True
        if changed:
            gathering.sequence += 1
            gathering.updated_at = now()
            session.flush()
            self.registrations.promote(session, gathering)
        return gathering

    def publish(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        gathering = locked_gathering(session, gathering_id)
        if gathering.status == "published":
            raise Problem(409, "Conflict", "The gathering is already published.")
        gathering.status = "published"
        gathering.published_at = gathering.updated_at = now()
        session.flush()
        self.outbox.add(session, events.gathering_published(gathering))
        return gathering

    def get(self, session: Session, gathering_id: uuid.UUID) -> Gathering:
        """A published gathering, or a draft for an active coordinator (404 otherwise)."""
        gathering = session.get(Gathering, gathering_id)
        if gathering is None or (gathering.status != "published" and not is_coordinator(session)):
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
        return gathering_view(gathering, self.base_url, counts, mine)

    def read(
        self, session: Session, gathering_id: uuid.UUID, viewer: uuid.UUID | None
    ) -> dict[str, Any]:
        return self.view(session, self.get(session, gathering_id), viewer)

    def calendar_file(self, session: Session, gathering_id: uuid.UUID) -> bytes:
        gathering = self.get(session, gathering_id)
        return gathering_calendar(gathering, gathering_url(self.base_url, gathering), now())

    @property
    def base_url(self) -> str:
        return self.settings.common.public_base_url

    def listing(
        self,
        session: Session,
        *,
        status: str,
        upcoming: bool,
        kind: str | None,
        language: str | None,
        page: int,
        per_page: int,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of gatherings with their counts, and how many there are in all."""
        query: Select[Gathering] = select(Gathering).where(Gathering.status == status)
        if upcoming:
            query = query.where(Gathering.ends_at >= now())
        if kind:
            query = query.where(Gathering.kind == kind)
        if language:
            query = query.where(Gathering.language == language)
        total = session.scalar(select(func.count()).select_from(query.subquery()))
        order = Gathering.starts_at.asc() if upcoming else Gathering.starts_at.desc()
        found = session.scalars(
            query.order_by(order, Gathering.id).offset((page - 1) * per_page).limit(per_page)
        ).all()
        counts = self.registrations.counts(session, [g.id for g in found])
        items = [gathering_view(g, self.base_url, counts[g.id]) for g in found]
        return items, int(total or 0)
