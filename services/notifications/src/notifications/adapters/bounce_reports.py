"""Reading what comes back: delivery status notifications (RFC 3464, and the odd formats real
MTAs send, through Mailman's detectors in flufl.bounce) and complaint reports (RFC 5965 ARF).

A report says what happened (`hard`, `soft`, `complaint`, or None when it is neither) and
which envelope senders it names inside (an ARF's `Original-Mail-From`, the returned message's
`Return-Path`): a report sent to a fixed address still finds its VERP address there.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from email.parser import HeaderParser

from flufl.bounce import all_failures

#: Mailbox full: reported as permanent by some servers, over when the reader makes room.
_FULL = ("4.2.2", "5.2.2")


@dataclass(frozen=True)
class Report:
    kind: str | None
    #: What the report says, in a line (status, diagnostic, feedback type).
    detail: str = ""
    #: Envelope senders named inside the report (where our VERP address may be found).
    senders: tuple[str, ...] = ()


def read_report(raw: bytes) -> Report:
    """What a message sent to the bounce address reports."""
    message = message_from_bytes(raw, policy=policy.compat32)
    senders = tuple(_returned_senders(message))
    feedback = _part(message, "message/feedback-report")
    if feedback is not None:
        fields = _fields(feedback)
        original = fields.get("Original-Mail-From", "").strip().strip("<>")
        kind = fields.get("Feedback-Type", "abuse").strip().lower()
        return Report(
            "complaint", f"feedback: {kind}", (original, *senders) if original else senders
        )
    status = _part(message, "message/delivery-status")
    if status is not None:
        return _dsn(status, senders)
    try:
        temporary, permanent = all_failures(message)
    except Exception:  # a detector choking on a malformed message: keep it, never lose it
        return Report(None, "no detector could read it", senders)
    subject = str(message.get("Subject", ""))[:200]
    if permanent:
        return Report("hard", subject, senders)
    if temporary:
        return Report("soft", subject, senders)
    return Report(None, subject, senders)


def _dsn(status: Message, senders: tuple[str, ...]) -> Report:
    """RFC 3464: each recipient's block says `failed` or `delayed`, and a status code."""
    blocks = status.get_payload() if status.is_multipart() else []
    kind: str | None = None
    detail = ""
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Message):
            continue
        action = str(block.get("Action", "")).strip().lower()
        code = str(block.get("Status", "")).strip().split(" ")[0]
        if not action.startswith(("failed", "delayed")):
            continue
        hard = action.startswith("failed") and code.startswith("5") and code not in _FULL
        kind = "hard" if hard or kind == "hard" else "soft"
        diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
        detail = f"{action} {code} {diagnostic}".strip()[:500]
    return Report(kind, detail, senders)


def _part(message: Message, content_type: str) -> Message | None:
    for part in message.walk():
        if part.get_content_type() == content_type:
            return part
    return None


def _fields(part: Message) -> Message:
    """The header-like fields of a report part (the parser made them a message, or text)."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return HeaderParser().parsestr(str(payload))


def _returned_senders(message: Message) -> list[str]:
    """`Return-Path` of the returned message or its headers, if the report carries them."""
    found = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if not isinstance(inner, Message):
                continue
        elif content_type == "text/rfc822-headers":
            inner = HeaderParser().parsestr(str(part.get_payload(decode=False)))
        else:
            continue
        if inner is not None and inner.get("Return-Path"):
            found.append(str(inner["Return-Path"]).strip().strip("<>"))
    return found
