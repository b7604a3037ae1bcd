"""Deliveries: schedule each e-mail once per cause, send it, retry what can be retried."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from uskalla_events import Database, EventSystem, after_commit
from uskalla_kit.text import normalise_email

from notifications.adapters.composer import (
    LINK_TOKEN,
    LIST_OF_KIND,
    TEMPLATE_OF_KIND,
    Composer,
    Outgoing,
)
from notifications.adapters.finalcommit import PendingCommit
from notifications.adapters.mailer import Mailer, PermanentMailError, TemporaryMailError
from notifications.adapters.models import Delivery, Recipient
from notifications.config import Settings
from notifications.domain.statuses import DeliveryStatus
from notifications.domain.verp import Verp
from notifications.service_layer.suppressions import is_suppressed, record_bounce

log = logging.getLogger(__name__)

SEND_TASK = "notifications.send_delivery"
MAIL_QUEUE = "notifications.mail"
#: Kinds sent by fan-out batch chains while pending (their retries go one by one like the rest).
FANOUT_KINDS = ("newsletter", "invitation")
#: List mail sent only while the reader still wants the list (a test copy goes regardless).
CHECKED_LISTS = (*FANOUT_KINDS, "follows", "comment", "digest")
#: What a single send may pick up (a `sending` row belongs to a batch chain).
OPEN = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


def now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: 5, 10, 20, ... capped at ten minutes."""
    return float(min(600.0, 5.0 * 2 ** (attempts - 1)))


def new_message_id(kind: str, domain: str) -> str:
    return make_msgid(idstring=kind.replace("_", "-"), domain=domain)


def settle(delivery: Delivery, status: str, error: str | None = None) -> None:
    """A status the delivery will not leave: its link token (sealed as it is) goes, so not even
    the key holder can make its link from the log once the mail is sent or given up."""
    delivery.status, delivery.error = status, error
    if LINK_TOKEN in (delivery.context or {}):
        delivery.context = {k: v for k, v in delivery.context.items() if k != LINK_TOKEN}


class Deliveries:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        enqueue: Callable[[str, float], None],
        events: EventSystem,
    ) -> None:
        self.settings = settings
        self.db = db
        self.enqueue = enqueue
        self.events = events
        self.composer = Composer(settings)
        #: Each message's envelope sender names its delivery: bounces find their way back.
        self.verp = Verp(settings.verp_key, settings.bounce_domain)

    def refused(
        self, session: Session, delivery_id: uuid.UUID, email: str, exc: PermanentMailError
    ) -> None:
        """A 5xx at send time that refused the address is a hard bounce."""
        if exc.bounced:
            record_bounce(
                session,
                self.events,
                email=email,
                kind="hard",
                reason=str(exc),
                source="smtp",
                delivery_id=delivery_id,
                soft_limit=self.settings.soft_bounce_limit,
            )

    def schedule(
        self,
        session: Session,
        *,
        kind: str,
        email: str,
        language: str,
        cause: str,
        context: dict[str, Any],
        member_id: str | uuid.UUID | None = None,
    ) -> uuid.UUID | None:
        """Record an e-mail to send after commit; None if this cause already mailed this address."""
        delivery_id = uuid.uuid4()
        inserted = session.execute(
            insert(Delivery)
            .values(
                id=delivery_id,
                kind=kind,
                email=normalise_email(email),
                language=language,
                cause=cause,
                context=context,
                member_id=member_id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                message_id=new_message_id(kind, self.composer.domain),
                enqueued_at=now(),
            )
            .on_conflict_do_nothing(constraint="uq_deliveries_kind_email_cause")
            .returning(Delivery.id)
        ).first()
        if inserted is None:
            return None
        after_commit(session, lambda: self.enqueue(str(delivery_id), 0))
        return delivery_id

    def send(self, delivery_id: str, mailer: Mailer | None = None) -> str:
        """Send one delivery if it is due; the row stays locked while SMTP talks, so never twice.

        "sent" is committed right behind the final dot; a refusal before it is recorded in the
        same transaction instead, one at the dot in a new one."""
        with self.db.transaction() as session:
            delivery = session.scalar(
                select(Delivery)
                .where(Delivery.id == uuid.UUID(delivery_id), Delivery.status.in_(OPEN))
                .with_for_update(skip_locked=True)
            )
            if delivery is None:
                return "skipped"
            if delivery.next_attempt_at and delivery.next_attempt_at > now() + timedelta(seconds=1):
                return "not_due"
            outcome = self.check(session, delivery)
            if outcome is not None:
                return outcome
            delivery.attempts += 1
            item = outgoing(delivery, session)
            try:
                source = None
                if delivery.kind in FANOUT_KINDS or delivery.kind in TEMPLATE_OF_KIND:
                    source = self.composer.source(session, item, cache=False)
                message = self.composer.compose(item, source)

                def mark_sent() -> Callable[[], None]:
                    # Written now, committed right behind the final dot (see finalcommit).
                    settle(delivery, DeliveryStatus.SENT)
                    delivery.sent_at = now()
                    session.flush()
                    return PendingCommit(session.connection()).commit

                envelope_from = self.verp.address(delivery.id)
                if mailer is None:
                    with Mailer(self.settings) as own:
                        own.send(message, before_final=mark_sent, envelope_from=envelope_from)
                else:
                    mailer.send(message, before_final=mark_sent, envelope_from=envelope_from)
            except TemporaryMailError as exc:
                return self.temporary_failure(session, delivery, exc)
            except (PermanentMailError, LookupError) as exc:
                settle(delivery, DeliveryStatus.FAILED, str(exc)[:2000])
                delivery.sent_at = None
                if isinstance(exc, PermanentMailError):
                    self.refused(session, delivery.id, delivery.email, exc)
                log.warning("delivery failed for good", extra={"delivery_id": delivery_id})
                return "failed"
            return "sent"

    def check(self, session: Session, delivery: Delivery) -> str | None:
        """At send time: never a suppressed address, list mail only to who still wants it."""
        if is_suppressed(session, delivery.email, list_mail=delivery.kind in LIST_OF_KIND):
            settle(delivery, DeliveryStatus.SUPPRESSED, "the address is suppressed (bounced)")
            return "suppressed"
        list_name = LIST_OF_KIND.get(delivery.kind)
        if list_name and delivery.kind in CHECKED_LISTS:
            wanted = (
                Recipient.digest != "off"
                if list_name == "digest"
                else getattr(Recipient, list_name)
            )
            wants = session.scalar(
                select(wanted).where(
                    Recipient.member_id == delivery.member_id, Recipient.active.is_(True)
                )
            )
            if not wants:
                settle(delivery, DeliveryStatus.SKIPPED, f"no longer subscribed to {list_name}")
                return "skipped"
        return None

    def temporary_failure(self, session: Session, delivery: Delivery, exc: Exception) -> str:
        delivery.error, delivery.sent_at = str(exc)[:2000], None
        if delivery.attempts >= self.settings.mail_max_attempts:
            settle(delivery, DeliveryStatus.FAILED, delivery.error)
            return "failed"
        delay = backoff(delivery.attempts)
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = now() + timedelta(seconds=delay)
        delivery.enqueued_at = now()
        delivery_id = str(delivery.id)
        after_commit(session, lambda: self.enqueue(delivery_id, delay))
        log.info("delivery will be retried", extra={"delivery_id": delivery_id, "delay": delay})
        return "retrying"

    def sweep(self) -> int:
        """Enqueue due deliveries whose task was lost (a crash between commit and enqueue).

        Pending list mail belongs to its fan-out's batch chains (swept by the fan-outs)."""
        stale = now() - timedelta(seconds=self.settings.mail_requeue_after)
        with self.db.transaction() as session:
            ids = session.scalars(
                update(Delivery)
                .where(
                    or_(
                        Delivery.status == DeliveryStatus.RETRYING,
                        and_(
                            Delivery.status == DeliveryStatus.PENDING,
                            Delivery.kind.not_in(FANOUT_KINDS),
                        ),
                    ),
                    or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now()),
                    or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < stale),
                )
                .values(enqueued_at=now())
                .returning(Delivery.id)
            ).all()
        for delivery_id in ids:
            self.enqueue(str(delivery_id), 0)
        return len(ids)


def outgoing(delivery: Delivery, session: Session | None = None) -> Outgoing:
    name = None
    if session is not None and delivery.kind in LIST_OF_KIND and delivery.member_id:
        name = session.scalar(
            select(Recipient.name).where(Recipient.member_id == delivery.member_id)
        )
    return Outgoing(
        id=delivery.id,
        kind=delivery.kind,
        email=delivery.email,
        language=delivery.language,
        cause=delivery.cause,
        message_id=delivery.message_id,
        member_id=delivery.member_id,
        context=delivery.context or {},
        name=name,
    )
