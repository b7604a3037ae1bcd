"""Mail that comes back to a VERP address: which delivery it is about and what it reports.

A bounce or complaint about a delivery we signed counts for that delivery's address (the
address in the report's text is never trusted: a forwarded address may bounce under another
name); whatever cannot be read, or names no delivery, is kept whole for a coordinator.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from uskalla_events import Database, EventSystem

from notifications.adapters.bounce_reports import read_report
from notifications.adapters.models import BounceMail, Delivery
from notifications.config import Settings
from notifications.domain.verp import Verp
from notifications.service_layer.suppressions import record_bounce

log = logging.getLogger(__name__)

#: Role addresses the bounce domain answers besides VERP ones (RFC 2142; feedback loops).
ROLE_ADDRESSES = ("postmaster", "abuse")
#: Deliveries of erased members carry such an address: nothing left to suppress.
ERASED_DOMAIN = "@invalid"
#: How much of a kept message is read for its subject.
HEADER_BYTES = 8192


class BounceReceiver:
    def __init__(self, settings: Settings, db: Database, events: EventSystem) -> None:
        self.settings = settings
        self.db = db
        self.events = events
        self.verp = Verp(settings.verp_key, settings.bounce_domain)

    def accepts(self, address: str) -> bool:
        """Whether the bounce server takes mail for `address` (at RCPT)."""
        local, _, domain = address.strip().strip("<>").lower().rpartition("@")
        if domain == self.verp.domain and local in ROLE_ADDRESSES:
            return True
        return self.verp.read(address) is not None

    def delivery_named(self, addresses: Iterable[str]) -> uuid.UUID | None:
        for address in addresses:
            delivery_id = self.verp.read(address)
            if delivery_id is not None:
                return delivery_id
        return None

    def receive(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        """Record what a message reports: `hard`, `soft`, `complaint`, `kept` or `dropped`."""
        report = read_report(raw)
        delivery_id = self.delivery_named([*rcpt_tos, *report.senders])
        with self.db.transaction() as session:
            delivery = session.get(Delivery, delivery_id) if delivery_id else None
            if delivery is not None and delivery.email.endswith(ERASED_DOMAIN):
                log.info("a bounce for an erased member's mail", extra={"delivery": delivery_id})
                return "dropped"
            if report.kind is not None and delivery is not None:
                record_bounce(
                    session,
                    self.events,
                    email=delivery.email,
                    kind=report.kind,
                    reason=report.detail,
                    source="arf" if report.kind == "complaint" else "dsn",
                    delivery_id=delivery.id,
                    member_id=delivery.member_id,
                    soft_limit=self.settings.soft_bounce_limit,
                )
                return report.kind
            note = (
                "not a bounce or complaint we can read"
                if report.kind is None
                else "names no delivery we know (purged, or not ours)"
            )
            session.add(
                BounceMail(
                    mail_from=mail_from[:500],
                    rcpt_to=",".join(rcpt_tos)[:500],
                    delivery_id=delivery_id,
                    note=f"{note}: {report.detail}"[:500],
                    raw=raw,
                )
            )
            return "kept"


def kept_mail(session: Session, *, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    """Mail the receiver kept unread, newest first, as summaries for a coordinator (who sent
    it, its subject and size, why it was kept; never the body)."""
    total = session.scalar(select(func.count()).select_from(BounceMail)) or 0
    rows = session.execute(
        select(
            BounceMail.id,
            BounceMail.received_at,
            BounceMail.mail_from,
            BounceMail.rcpt_to,
            BounceMail.delivery_id,
            BounceMail.note,
            func.length(BounceMail.raw).label("size"),
            # The headers only: a subject is read without loading whole messages.
            func.substring(BounceMail.raw, 1, HEADER_BYTES).label("head"),
        )
        .order_by(BounceMail.received_at.desc(), BounceMail.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return [
        {
            "id": r.id,
            "received_at": r.received_at,
            "mail_from": r.mail_from,
            "rcpt_to": r.rcpt_to,
            "delivery_id": r.delivery_id,
            "note": r.note,
            "size": r.size,
            "subject": _subject(r.head),
        }
        for r in rows
    ], total


def _subject(head: bytes) -> str:
    """The decoded Subject of a message's first bytes ("" when it has none or it is garbled)."""
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(head)
        return " ".join(str(headers.get("Subject", "")).split())[:300]
    except (ValueError, LookupError):
        return ""
