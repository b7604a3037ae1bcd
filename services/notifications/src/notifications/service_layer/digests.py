"""Digests (list `digest`): daily or weekly, what is new for a member in their interests.

A period ends at `DIGEST_HOUR` local time (`DIGEST_TIMEZONE`, Europe/Helsinki) each day, or on
`DIGEST_WEEKDAY` (Monday) each week. Each beat of the relay (`run`) takes the latest period that
has ended and, unless its pass has finished (`digest_periods`), goes over the members with that
frequency, `BATCH` to a transaction: the experiments published in the period that match their
themes or municipalities, and the activity on experiments they follow that waited for it; the
upcoming gatherings come along. Nothing for an empty period. A period is never sent twice: the
delivery's cause is `{member}:{period}` (unique with kind and address), the member's row is
locked while theirs is built and it is not built once it exists; a killed run's transaction
rolls back (its activity rows with it) and the next run does that batch again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Database
from uskalla_events.vocabulary import DigestFrequency

from notifications.adapters.models import (
    Delivery,
    DigestPeriod,
    ExperimentNews,
    Gathering,
    Recipient,
)
from notifications.config import Settings
from notifications.domain import links
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.follows import take_activity, with_links

KIND = "digest"
#: Members gone over per transaction.
BATCH = 100
#: New experiments and gatherings a digest lists at most.
MOST = 20


@dataclass(frozen=True)
class Period:
    frequency: DigestFrequency
    starts_at: datetime
    ends_at: datetime
    key: str

    def cause(self, member_id: uuid.UUID) -> str:
        return f"{member_id}:{self.key}"


def period(
    frequency: DigestFrequency, moment: datetime, *, hour: int, weekday: int, zone: ZoneInfo
) -> Period:
    """The latest period of `frequency` that has ended at `moment` (local wall-clock hours, so
    a week is a week across a change of daylight saving time)."""
    step = timedelta(days=7 if frequency == DigestFrequency.WEEKLY else 1)
    end_day = moment.astimezone(zone).date()
    if frequency == DigestFrequency.WEEKLY:
        end_day -= timedelta(days=(end_day.weekday() - weekday) % 7)

    def at(day: date) -> datetime:
        return datetime.combine(day, time(hour), tzinfo=zone)

    if at(end_day) > moment:
        end_day -= step
    return Period(
        frequency,
        at(end_day - step).astimezone(UTC),
        at(end_day).astimezone(UTC),
        f"{frequency.value}:{end_day.isoformat()}",
    )


class Digests:
    def __init__(self, settings: Settings, db: Database, deliveries: Deliveries) -> None:
        self.settings = settings
        self.db = db
        self.deliveries = deliveries
        self.base = settings.common.public_base_url
        self.zone = ZoneInfo(settings.digest_timezone)
        #: Called after each member's digest is built (tests stop a run midway with it).
        self.after_member: Callable[[uuid.UUID], None] = lambda member_id: None

    def period(self, frequency: DigestFrequency, moment: datetime) -> Period:
        return period(
            frequency,
            moment,
            hour=self.settings.digest_hour,
            weekday=self.settings.digest_weekday,
            zone=self.zone,
        )

    def run(self, moment: datetime | None = None) -> int:
        """A relay job (and `notifications digests`): the digests of the latest ended periods;
        how many were scheduled."""
        moment = moment or datetime.now(UTC)
        scheduled = 0
        for frequency in (DigestFrequency.DAILY, DigestFrequency.WEEKLY):
            scheduled += self.run_period(self.period(frequency, moment))
        return scheduled

    def run_period(self, p: Period) -> int:
        with self.db.transaction() as session:
            if session.get(DigestPeriod, p.key) is not None:
                return 0
            news = self.news(session, p)
            gatherings = self.gatherings(session)
        scheduled, cursor = 0, None
        while True:
            with self.db.transaction() as session:
                members = self.members(session, p, cursor)
                for member_id in members:
                    scheduled += self.build(session, member_id, p, news, gatherings) is not None
                    self.after_member(member_id)
            if len(members) < BATCH:
                break
            cursor = members[-1]
        with self.db.transaction() as session:
            session.execute(
                insert(DigestPeriod)
                .values(key=p.key, starts_at=p.starts_at, ends_at=p.ends_at)
                .on_conflict_do_nothing()
            )
        return scheduled

    def members(self, session: Session, p: Period, cursor: uuid.UUID | None) -> list[uuid.UUID]:
        """Members with this frequency after `cursor` who have no digest of the period yet."""
        cause = func.concat(cast(Recipient.member_id, String), ":" + p.key)
        query = select(Recipient.member_id).where(
            Recipient.active.is_(True),
            Recipient.digest == p.frequency,
            ~exists().where(Delivery.kind == KIND, Delivery.cause == cause),
        )
        if cursor is not None:
            query = query.where(Recipient.member_id > cursor)
        return list(session.scalars(query.order_by(Recipient.member_id).limit(BATCH)).all())

    def news(self, session: Session, p: Period) -> list[ExperimentNews]:
        return list(
            session.scalars(
                select(ExperimentNews)
                .where(
                    ExperimentNews.published_at >= p.starts_at,
                    ExperimentNews.published_at < p.ends_at,
                )
                .order_by(ExperimentNews.published_at, ExperimentNews.experiment_id)
            ).all()
        )

    def gatherings(self, session: Session) -> list[Gathering]:
        moment = datetime.now(UTC)
        return list(
            session.scalars(
                select(Gathering)
                .where(
                    Gathering.cancelled.is_(False),
                    Gathering.starts_at > moment,
                    Gathering.starts_at
                    <= moment + timedelta(days=self.settings.digest_gathering_days),
                )
                .order_by(Gathering.starts_at)
                .limit(MOST)
            ).all()
        )

    def build(
        self,
        session: Session,
        member_id: uuid.UUID,
        p: Period,
        news: list[ExperimentNews],
        gatherings: list[Gathering],
    ) -> uuid.UUID | None:
        """One member's digest of the period, if there is anything in it and they have none."""
        member = session.scalar(
            select(Recipient).where(Recipient.member_id == member_id).with_for_update()
        )
        if member is None or member.digest != p.frequency or not member.active:
            return None
        sent = session.scalar(
            select(Delivery.id).where(Delivery.kind == KIND, Delivery.cause == p.cause(member_id))
        )
        if sent is not None:
            return None  # a racing run made it while this one waited for the row
        themes, places = set(member.themes or []), set(member.municipality_codes or [])
        language = member.language
        experiments = [
            {
                "experiment_id": str(n.experiment_id),
                "title": n.title,
                "summary": n.summary,
                "experiment_url": links.experiment(self.base, language, str(n.experiment_id)),
            }
            for n in news
            if themes & set(n.themes or []) or places & set(n.municipality_codes or [])
        ][:MOST]
        activity = take_activity(session, member_id, before=p.ends_at)
        if not experiments and not activity:
            return None  # nothing for an empty period
        return self.deliveries.schedule(
            session,
            kind=KIND,
            email=member.email,
            language=language,
            cause=p.cause(member_id),
            context={
                "name": member.name,
                "frequency": p.frequency.value,
                "period_start": p.starts_at.isoformat(),
                "period_end": p.ends_at.isoformat(),
                "experiments": experiments,
                "items": with_links(self.base, language, activity),
                "gatherings": [self.gathering(g, language) for g in gatherings],
            },
            member_id=member.member_id,
        )

    def gathering(self, g: Gathering, language: str) -> dict[str, Any]:
        return {
            "title": g.title,
            "kind": g.kind,
            "starts_at": g.starts_at.isoformat(),
            "gathering_url": links.gathering(self.base, language, str(g.gathering_id)),
        }
