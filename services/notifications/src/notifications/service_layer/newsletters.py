"""Newsletter use cases: drafts, a test copy to oneself, sending once to the audience (now or
at a scheduled time, started by the relay's beat), cancel, the public archive."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from uskalla_kit import Problem
from uskalla_reference.markdown import preheader
from uskalla_reference.municipalities import municipalities

from notifications.adapters.composer import Composer, newsletter_context
from notifications.adapters.models import Delivery, Fanout, Newsletter, Recipient
from notifications.adapters.templates import Rendered, render
from notifications.domain import links
from notifications.domain.statuses import DeliveryStatus, NewsletterStatus
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.fanouts import Fanouts

PROGRESS_OF_STATUS: dict[str, str] = {
    DeliveryStatus.SENT: "sent",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.PENDING: "pending",
    DeliveryStatus.SENDING: "pending",
    DeliveryStatus.RETRYING: "pending",
    DeliveryStatus.SUPPRESSED: "skipped",
    DeliveryStatus.SKIPPED: "skipped",
    DeliveryStatus.CANCELLED: "cancelled",
}


def now() -> datetime:
    return datetime.now(UTC)


def progress_of(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """{recipients, sent, failed, pending, skipped, cancelled} per newsletter, in one query."""
    result = {
        i: {"recipients": 0, "sent": 0, "failed": 0, "pending": 0, "skipped": 0, "cancelled": 0}
        for i in ids
    }
    if not ids:
        return result
    rows = session.execute(
        select(Delivery.cause, Delivery.status, func.count())
        .where(Delivery.kind == "newsletter", Delivery.cause.in_([str(i) for i in ids]))
        .group_by(Delivery.cause, Delivery.status)
    ).all()
    for cause, status, count in rows:
        counts = result[uuid.UUID(cause)]
        counts["recipients"] += count
        counts[PROGRESS_OF_STATUS.get(status, "pending")] += count
    return result


def view(n: Newsletter, progress: dict[str, int], frozen: bool | None) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "subject": n.subject,
        "body": n.body,
        "language": n.language,
        "municipality_codes": list(n.municipality_codes or []),
        "region_codes": list(n.region_codes or []),
        "themes": list(n.themes or []),
        "public": n.public,
        "status": n.status,
        "send_at": n.send_at.isoformat() if n.send_at else None,
        "created_by": str(n.created_by) if n.created_by else None,
        "created_at": n.created_at.isoformat(),
        "updated_at": n.updated_at.isoformat(),
        "send_requested_at": n.send_requested_at.isoformat() if n.send_requested_at else None,
        "finished_at": n.finished_at.isoformat() if n.finished_at else None,
        "audience_complete": bool(frozen),
        "progress": progress,
    }


class Newsletters:
    def __init__(self, deliveries: Deliveries, fanouts: Fanouts) -> None:
        self.deliveries = deliveries
        self.fanouts = fanouts
        self.archive = Archive(deliveries.composer)

    def listing(
        self, session: Session, status: str | None, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of newsletters, newest first, with their progress; and how many there are."""
        query = select(Newsletter)
        if status is not None:
            query = query.where(Newsletter.status == status)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(Newsletter.created_at.desc(), Newsletter.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return self.views(session, list(rows)), total

    def get(self, session: Session, newsletter_id: uuid.UUID, *, lock: bool = False) -> Newsletter:
        query = select(Newsletter).where(Newsletter.id == newsletter_id)
        newsletter = session.scalar(query.with_for_update() if lock else query)
        if newsletter is None:
            raise Problem(404, "Not found", "No such newsletter.")
        return newsletter

    def views(self, session: Session, newsletters: list[Newsletter]) -> list[dict[str, Any]]:
        ids = [n.id for n in newsletters]
        progress = progress_of(session, ids)
        frozen = dict(
            session.execute(
                select(Fanout.cause, Fanout.frozen_at.is_not(None)).where(
                    Fanout.kind == "newsletter", Fanout.cause.in_([str(i) for i in ids])
                )
            ).all()
        )
        return [view(n, progress[n.id], frozen.get(str(n.id))) for n in newsletters]

    def create(self, session: Session, data: dict[str, Any], author: str) -> Newsletter:
        newsletter = Newsletter(
            id=uuid.uuid4(), status=NewsletterStatus.DRAFT, created_by=uuid.UUID(author)
        )
        for key, value in data.items():
            setattr(newsletter, key, value)
        session.add(newsletter)
        session.flush()
        session.refresh(newsletter)
        return newsletter

    def update(
        self, session: Session, newsletter_id: uuid.UUID, data: dict[str, Any]
    ) -> Newsletter:
        newsletter = self.get(session, newsletter_id, lock=True)
        if newsletter.status != NewsletterStatus.DRAFT:
            raise Problem(
                409, "Conflict", f"A newsletter that is {newsletter.status} cannot change."
            )
        for key, value in data.items():
            setattr(newsletter, key, value)
        newsletter.updated_at = now()
        session.flush()
        return newsletter

    def send_test(self, session: Session, newsletter_id: uuid.UUID, member_id: str) -> str:
        newsletter = self.get(session, newsletter_id)
        if newsletter.status == NewsletterStatus.CANCELLED:
            raise Problem(409, "Conflict", "The newsletter is cancelled.")
        me = session.get(Recipient, uuid.UUID(member_id))
        if me is None:
            raise Problem(409, "Conflict", "Your e-mail address is not known to notifications yet.")
        language = newsletter.language if newsletter.language != "all" else me.language
        self.deliveries.schedule(
            session,
            kind="newsletter_test",
            email=me.email,
            language=language,
            cause=f"{newsletter.id}:{uuid.uuid4()}",
            context={"newsletter_id": str(newsletter.id)},
            member_id=me.member_id,
        )
        return me.email

    def send(self, session: Session, newsletter_id: uuid.UUID) -> Newsletter:
        newsletter = self.get(session, newsletter_id, lock=True)
        if newsletter.status not in (NewsletterStatus.DRAFT, NewsletterStatus.SCHEDULED):
            raise Problem(409, "Conflict", f"The newsletter is already {newsletter.status}.")
        newsletter.status = NewsletterStatus.SENDING
        self._start(session, newsletter)
        return newsletter

    def _start(self, session: Session, newsletter: Newsletter) -> None:
        """The fan-out to the audience, in the transaction that made the newsletter sending."""
        newsletter.send_requested_at = now()
        self.fanouts.start(
            session,
            kind="newsletter",
            cause=str(newsletter.id),
            audience={
                "list": "newsletter",
                "language": newsletter.language,
                "municipality_codes": places(newsletter),
                "themes": list(newsletter.themes or []),
            },
        )

    def schedule(self, session: Session, newsletter_id: uuid.UUID, send_at: datetime) -> Newsletter:
        """Send by itself at `send_at` (a scheduled one is moved; the view has checked it is
        in the future)."""
        newsletter = self.get(session, newsletter_id, lock=True)
        if newsletter.status not in (NewsletterStatus.DRAFT, NewsletterStatus.SCHEDULED):
            raise Problem(409, "Conflict", f"The newsletter is already {newsletter.status}.")
        newsletter.status = NewsletterStatus.SCHEDULED
        newsletter.send_at = send_at
        newsletter.updated_at = now()
        return newsletter

    def unschedule(self, session: Session, newsletter_id: uuid.UUID) -> Newsletter:
        newsletter = self.get(session, newsletter_id, lock=True)
        if newsletter.status != NewsletterStatus.SCHEDULED:
            raise Problem(409, "Conflict", f"The newsletter is {newsletter.status}, not scheduled.")
        newsletter.status = NewsletterStatus.DRAFT
        newsletter.send_at = None
        newsletter.updated_at = now()
        return newsletter

    def start_due(self) -> int:
        """Start every scheduled newsletter whose time has come (a job of the relay's beat).

        The UPDATE decides who starts one: a second scheduler racing for the same row waits
        for the first one's commit, finds it no longer `scheduled` and skips it; the fan-out's
        unique (kind, cause) would refuse a second start anyway."""
        with self.fanouts.db.transaction() as session:
            return self._start_due(session)

    def _start_due(self, session: Session) -> int:
        due = session.scalars(
            update(Newsletter)
            .where(Newsletter.status == NewsletterStatus.SCHEDULED, Newsletter.send_at <= now())
            .values(status=NewsletterStatus.SENDING)
            .returning(Newsletter),
            execution_options={"synchronize_session": False},
        ).all()
        for newsletter in due:
            self._start(session, newsletter)
        return len(due)

    def cancel(self, session: Session, newsletter_id: uuid.UUID) -> Newsletter:
        # A fan-out's finish locks the fan-out, then the newsletter: the same order here, or
        # the two deadlock when a cancel comes as the last mail goes.
        self.fanouts.lock(session, kind="newsletter", cause=str(newsletter_id))
        newsletter = self.get(session, newsletter_id, lock=True)
        if newsletter.status in (NewsletterStatus.SENT, NewsletterStatus.CANCELLED):
            raise Problem(409, "Conflict", f"The newsletter is already {newsletter.status}.")
        if newsletter.status == NewsletterStatus.SENDING:
            self.fanouts.cancel(session, kind="newsletter", cause=str(newsletter.id))
        newsletter.status = NewsletterStatus.CANCELLED
        newsletter.finished_at = now()
        return newsletter


def places(newsletter: Newsletter) -> list[str]:
    """The municipality codes of the audience: those named, and every one in a region named
    (none at all: everywhere)."""
    regions = set(newsletter.region_codes or [])
    codes = set(newsletter.municipality_codes or [])
    codes |= {m.code for m in municipalities().values() if m.region_code in regions}
    return sorted(codes)


def archived(n: Newsletter) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "subject": n.subject,
        "language": n.language,
        "preheader": preheader(n.body),
        "sent_at": (n.finished_at or n.send_requested_at or n.updated_at).isoformat(),
    }


class Archive:
    """The public archive: newsletters marked `public` once they are sent, as sent."""

    def __init__(self, composer: Composer) -> None:
        self.composer = composer

    def listing(
        self, session: Session, *, page: int, per_page: int
    ) -> tuple[list[dict[str, Any]], int]:
        query = select(Newsletter).where(
            Newsletter.public, Newsletter.status == NewsletterStatus.SENT
        )
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(Newsletter.finished_at.desc(), Newsletter.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return [archived(n) for n in rows], total

    def letter(self, session: Session, newsletter_id: uuid.UUID, language: str) -> dict[str, Any]:
        n = session.get(Newsletter, newsletter_id)
        if n is None or not n.public or n.status != NewsletterStatus.SENT:
            raise Problem(404, "Not found", "No such newsletter in the archive.")
        page = self.page(n, n.language if n.language != "all" else language)
        return archived(n) | {"html": page.html or "", "text": page.text}

    def preview(self, subject: str, body: str, language: str) -> dict[str, Any]:
        """A draft as it would be sent (the same layout as the mail and the archive)."""
        page = self.page(Newsletter(subject=subject, body=body), language)
        return {"subject": page.subject, "html": page.html or "", "text": page.text}

    def page(self, newsletter: Newsletter, language: str) -> Rendered:
        """A newsletter as a reader gets it, but nobody's: the mail's template with the reader's
        own page in place of the personal unsubscribe link (no token to sign)."""
        base = self.composer.base
        my_url = links.my_page(base, language)
        return render(
            "newsletter",
            language,
            {
                "site_url": links.site(base, language),
                "base_url": base,
                "my_url": my_url,
                "unsubscribe_url": my_url,
                "test": False,
                **newsletter_context(newsletter),
            },
        )
