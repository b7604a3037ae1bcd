"""The states a delivery and a newsletter go through, named once (StrEnums: each equals the
string the database and the API carry)."""

from __future__ import annotations

import enum


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    #: Claimed by a list-mail batch chain.
    SENDING = "sending"
    RETRYING = "retrying"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


#: Not settled yet: waiting, being sent by a chain, or waiting for a retry.
OPEN_DELIVERY = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING)


class NewsletterStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
