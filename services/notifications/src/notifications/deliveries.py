"""Deliveries: schedule each e-mail once per cause, send it, retry what can be retried."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Database, after_commit

from notifications.adapters.mailer import Mailer, PermanentMailError, TemporaryMailError
from notifications.adapters.models import Delivery
from notifications.adapters.templates import render
from notifications.config import Settings

log = logging.getLogger(__name__)

SEND_TASK = "notifications.send_delivery"
MAIL_QUEUE = "notifications.mail"


def now() -> datetime:
    return datetime.now(UTC)


def site_url(base: str, language: str) -> str:
    return base if language == "fi" else f"{base}/{language}"


class Deliveries:
    def __init__(
        self, settings: Settings, db: Database, enqueue: Callable[[str, float], None]
    ) -> None:
        self.settings = settings
        self.db = db
        self.enqueue = enqueue

    def schedule(
        self,
        session: Session,
        *,
        kind: str,
        email: str,
        language: str,
        cause: str,
        context: dict[str, Any],
        member_id: str | None = None,
    ) -> uuid.UUID | None:
        """Record an e-mail to send after commit; None if this cause already mailed this address."""
        domain = self.settings.mail_from.rsplit("@", 1)[-1].rstrip(">") or "uskalla.fi"
        delivery_id = uuid.uuid4()
        inserted = session.execute(
            insert(Delivery)
            .values(
                id=delivery_id,
                kind=kind,
                email=email.lower(),
                language=language,
                cause=cause,
                context=context,
                member_id=member_id,
                status="pending",
                attempts=0,
                message_id=make_msgid(idstring=kind, domain=domain),
                enqueued_at=now(),
            )
            .on_conflict_do_nothing(constraint="uq_deliveries_kind_email_cause")
            .returning(Delivery.id)
        ).first()
        if inserted is None:
            return None
        after_commit(session, lambda: self.enqueue(str(delivery_id), 0))
        return delivery_id

    def compose(self, delivery: Delivery) -> EmailMessage:
        base = self.settings.common.public_base_url
        context = {
            "site_url": site_url(base, delivery.language),
            "base_url": base,
            **delivery.context,
        }
        rendered = render(delivery.kind, delivery.language, context)
        message = EmailMessage()
        message["Subject"] = rendered.subject
        message["From"] = self.settings.mail_from
        message["To"] = delivery.email
        message["Message-ID"] = delivery.message_id
        message["Auto-Submitted"] = "auto-generated"
        for header, value in delivery.context.get("_headers", {}).items():
            message[header] = value
        message.set_content(rendered.text)
        if rendered.html:
            message.add_alternative(rendered.html, subtype="html")
        message["Content-Language"] = (
            delivery.language
        )  # after the body: set_content drops Content-*
        return message

    def send(self, delivery_id: str, mailer: Mailer | None = None) -> str:
        """Send one delivery if it is due; the row stays locked while SMTP talks, so never twice."""
        with self.db.transaction() as session:
            delivery = session.scalar(
                select(Delivery)
                .where(
                    Delivery.id == uuid.UUID(delivery_id),
                    Delivery.status.in_(("pending", "retrying")),
                )
                .with_for_update(skip_locked=True)
            )
            if delivery is None:
                return "skipped"
            if delivery.next_attempt_at and delivery.next_attempt_at > now() + timedelta(seconds=1):
                return "not_due"
            delivery.attempts += 1
            try:
                if mailer is None:
                    with Mailer(self.settings) as own:
                        own.send(self.compose(delivery))
                else:
                    mailer.send(self.compose(delivery))
            except TemporaryMailError as exc:
                return self._temporary_failure(session, delivery, exc)
            except PermanentMailError as exc:
                delivery.status, delivery.error = "failed", str(exc)[:2000]
                log.warning("delivery failed for good", extra={"delivery_id": delivery_id})
                return "failed"
            delivery.status, delivery.sent_at, delivery.error = "sent", now(), None
            return "sent"

    def _temporary_failure(self, session: Session, delivery: Delivery, exc: Exception) -> str:
        delivery.error = str(exc)[:2000]
        if delivery.attempts >= self.settings.mail_max_attempts:
            delivery.status = "failed"
            return "failed"
        delay = min(600.0, 5.0 * 2 ** (delivery.attempts - 1))
        delivery.status = "retrying"
        delivery.next_attempt_at = now() + timedelta(seconds=delay)
        delivery.enqueued_at = now()
        delivery_id = str(delivery.id)
        after_commit(session, lambda: self.enqueue(delivery_id, delay))
        log.info("delivery will be retried", extra={"delivery_id": delivery_id, "delay": delay})
        return "retrying"

    def sweep(self) -> int:
        """Enqueue due deliveries whose task was lost (a crash between commit and enqueue)."""
        stale = now() - timedelta(seconds=self.settings.mail_requeue_after)
        with self.db.transaction() as session:
            ids = session.scalars(
                update(Delivery)
                .where(
                    Delivery.status.in_(("pending", "retrying")),
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now()),
                    or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < stale),
                )
                .values(enqueued_at=now())
                .returning(Delivery.id)
            ).all()
        for delivery_id in ids:
            self.enqueue(str(delivery_id), 0)
        return len(ids)
