"""Compose e-mails: template context per kind, list-mail headers, calendar attachments."""

from __future__ import annotations

import email
import logging
import re
import uuid
from binascii import b2a_qp
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import urlsplit

from markupsafe import escape
from sqlalchemy.orm import Session
from uskalla_kit.signed import SignedTokens
from uskalla_reference.calendar import CalendarEntry, Organizer, calendar
from uskalla_reference.markdown import newsletter_html

from notifications.adapters.mailer import wire_bytes
from notifications.adapters.models import Gathering, Newsletter
from notifications.adapters.templates import render
from notifications.config import Settings
from notifications.domain import links

#: Kinds sent to a mailing list: they carry List-Unsubscribe and go only to subscribers.
LIST_OF_KIND = {
    "newsletter": "newsletter",
    "newsletter_test": "newsletter",
    "invitation": "invitations",
    "follows": "follows",
    "comment": "comments",
    "digest": "digest",
}
#: Kinds that carry the gathering's calendar entry, and its iTIP method (RFC 5546).
METHOD_OF_KIND = {
    "invitation": "PUBLISH",
    "registration": "REQUEST",
    "gathering_changed": "REQUEST",
    "gathering_reminder": "REQUEST",
    "gathering_cancelled": "CANCEL",
}
#: Kinds whose content is a shared source row (a newsletter, a gathering), not the row's context.
TEMPLATE_OF_KIND = {"newsletter_test": "newsletter"}
#: The context key of a one-time link token, sealed as it came in the event: opened only here,
#: while the message is built, and removed from the row once the delivery is settled.
LINK_TOKEN = "token"  # noqa: S105 (a key of the context, not a secret)
#: Kinds whose link carries that token: the template's name for the link, and how it is made.
LINK_OF_KIND: dict[str, tuple[str, Callable[[str, str, str], str]]] = {
    "confirmation": ("confirm_url", links.confirm),
    "sign_in": ("sign_in_url", links.sign_in),
}


#: List mail that is one text for every reader but for a few values: rendered once per source and
#: language as a stencil, each message is then those values spliced in and encoded (C speed).
STENCIL_KINDS = frozenset({"newsletter"})
#: Stand-ins for the per-reader values while a stencil is rendered: letters only, so that
#: escaping, the CSS inliner and the Markdown filters leave them as they are.
STAND_INS = {"name": "Xuskallastencilnamex", "unsubscribe_url": "Xuskallastencilunsubscribex"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stencil:
    """A list mail's message less its reader: the subject header ready for the wire, the text
    and HTML with `STAND_INS` where each reader's values go."""

    subject: str
    text: str
    html: str | None


@dataclass
class Outgoing:
    """One e-mail to compose: the fields of a delivery row (plus the recipient's name)."""

    id: uuid.UUID
    kind: str
    email: str
    language: str
    cause: str
    message_id: str
    member_id: uuid.UUID | None = None
    context: dict[str, Any] = field(default_factory=dict)
    name: str | None = None


class Composer:
    """Turns deliveries into messages; caches shared content (one newsletter, many readers)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.common.public_base_url
        name, address = parseaddr(settings.mail_from)
        self.sender_address = address or "noreply@uskalla.fi"
        self.sender = formataddr((name, self.sender_address), charset="utf-8")
        self.domain = self.sender_address.rsplit("@", 1)[-1]
        # The same UID as the members service's calendar.ics, so both are one calendar entry.
        self.calendar_host = urlsplit(self.base).hostname or "uskalla"
        # Signed for each message as it is built, never stored (and timed: they expire).
        self.unsubscribe = SignedTokens(
            settings.unsubscribe_secret, "unsubscribe", max_age=settings.unsubscribe_max_age
        )
        self.link_tokens = settings.link_tokens
        self._sources: dict[tuple[str, str], dict[str, Any]] = {}
        #: Per (kind, source, language): the stencil, or None where it did not give the very
        #: message `compose` gives (then every message is composed in full).
        self._stencils: dict[tuple[str, str, str], Stencil | None] = {}

    def source_id(self, item: Outgoing) -> str:
        return str(item.context.get("newsletter_id") or item.cause)

    def source(self, session: Session, item: Outgoing, *, cache: bool = True) -> dict[str, Any]:
        """The shared content of a list mail, loaded once per (kind, source) when cached."""
        kind = TEMPLATE_OF_KIND.get(item.kind, item.kind)
        key = (kind, self.source_id(item))
        if cache and key in self._sources:
            return self._sources[key]
        loaded = self._load(session, kind, key[1])
        if cache:
            self._sources[key] = loaded
        return loaded

    def _load(self, session: Session, kind: str, source_id: str) -> dict[str, Any]:
        if kind == "newsletter":
            n = session.get(Newsletter, uuid.UUID(source_id))
            if n is None:
                raise LookupError(f"newsletter {source_id} is gone")
            return newsletter_context(n)
        g = session.get(Gathering, uuid.UUID(source_id))
        if g is None:
            raise LookupError(f"gathering {source_id} is gone")
        return gathering_context(g)

    def compose(self, item: Outgoing, source: dict[str, Any] | None = None) -> Message:
        """The message for one delivery. Built with the compat32 MIME classes: several times
        faster than EmailMessage's parsed headers, which matters at 100,000 newsletters."""
        language = item.language
        context: dict[str, Any] = {**self._site(language), **(source or {}), **item.context}
        if item.name is not None:
            context.setdefault("name", item.name)
        sealed = context.pop(LINK_TOKEN, None)
        if item.kind in LINK_OF_KIND:
            token = self.link_tokens.open(str(sealed or ""))
            if token is None:
                raise LookupError("the link token does not open (gone, or its key was retired)")
            link_name, make_link = LINK_OF_KIND[item.kind]
            context[link_name] = make_link(self.base, language, token)
        list_name = LIST_OF_KIND.get(item.kind)
        unsubscribe_token = None
        if list_name and item.member_id is not None:
            unsubscribe_token = self.unsubscribe.make(
                {"member_id": str(item.member_id), "list": list_name}
            )
            context["unsubscribe_url"] = links.unsubscribe_page(
                self.base, language, unsubscribe_token
            )
        # The lifetime members gave the link, from its event; else the setting they share.
        if item.kind == "confirmation":
            context.setdefault("valid_hours", self.settings.confirm_token_ttl_days * 24)
        if item.kind == "sign_in":
            context.setdefault("valid_minutes", self.settings.sign_in_token_ttl_minutes)
        if item.kind == "invitation":
            context["gathering_url"] = links.gathering(self.base, language, context["gathering_id"])
        context["test"] = item.kind == "newsletter_test"
        rendered = render(TEMPLATE_OF_KIND.get(item.kind, item.kind), language, context)

        body: Message = _text(rendered.text, "plain")
        if rendered.html:
            body = _multipart("alternative", body, _text(rendered.html, "html"))
        attachment = self._calendar(item, context)
        if attachment is not None:
            method, data = attachment
            invite = _text(data.decode(), "calendar")
            invite.set_param("method", method)
            filename = "kutsu.ics" if language == "fi" else "event.ics"
            invite.add_header("Content-Disposition", "attachment", filename=filename)
            body = _multipart("mixed", body, invite)
        message = body
        for name, value in self._headers(
            item, _header(rendered.subject), list_name, unsubscribe_token
        ):
            message[name] = value
        return message

    def _site(self, language: str) -> dict[str, Any]:
        """What every template is told about the site, in the reader's language."""
        return {
            "site_url": links.site(self.base, language),
            "base_url": self.base,
            "my_url": links.my_page(self.base, language),
        }

    def _headers(
        self, item: Outgoing, subject: str, list_name: str | None, token: str | None
    ) -> list[tuple[str, str]]:
        """A message's own headers (a list mail's with its unsubscribe headers), in order."""
        headers = [
            ("Subject", subject),
            ("From", self.sender),
            ("To", item.email),
            ("Message-ID", item.message_id),
            ("Date", formatdate(localtime=False, usegmt=True)),
            ("Content-Language", item.language),
            ("Auto-Submitted", "auto-generated"),
        ]
        if list_name is not None and token is not None:
            url = links.one_click_unsubscribe(self.base, token)
            headers += [
                ("List-Unsubscribe", f"<{url}>"),
                ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
                ("List-Id", f"MeUskaltajat {list_name} <{list_name}.{self.domain}>"),
                ("Precedence", "bulk"),
            ]
        return headers

    def wire(self, item: Outgoing, source: dict[str, Any] | None = None) -> bytes:
        """The message for one delivery as it goes to the server (CRLF line ends): the same
        message `compose` builds, from a stencil where the kind has one (a newsletter to
        100,000 readers is rendered, CSS-inlined and laid out once per language, not once per
        reader)."""
        if item.kind in STENCIL_KINDS and not item.context and source is not None:
            stencil = self._stencil(item, source)
            if stencil is not None:
                return self._splice(stencil, item)
        return wire_bytes(self.compose(item, source))

    def _stencil(self, item: Outgoing, source: dict[str, Any]) -> Stencil | None:
        key = (item.kind, self.source_id(item), item.language)
        if key in self._stencils:
            return self._stencils[key]
        context = {**self._site(item.language), **source, **STAND_INS, "test": False}
        rendered = render(item.kind, item.language, context)
        stencil = Stencil(_header(rendered.subject), rendered.text, rendered.html)
        # Proven once per stencil on its first reader: the spliced message reads the same as
        # the one composed in full (headers but Date and boundaries, every part decoded).
        spliced, composed = self._splice(stencil, item), wire_bytes(self.compose(item, source))
        proven = stencil if _reading(spliced) == _reading(composed) else None
        if proven is None:
            log.warning("a stencil differs from the composed message; composing each in full")
        if len(self._stencils) >= 64:  # a long-lived worker: only recent newsletters matter
            self._stencils.clear()
        self._stencils[key] = proven
        return proven

    def _splice(self, stencil: Stencil, item: Outgoing) -> bytes:
        list_name = LIST_OF_KIND[item.kind]
        token = self.unsubscribe.make({"member_id": str(item.member_id), "list": list_name})
        page = links.unsubscribe_page(self.base, item.language, token)
        name = item.name or ""
        text = stencil.text.replace(STAND_INS["unsubscribe_url"], page).replace(
            STAND_INS["name"], name
        )
        boundary = f"=_{uuid.uuid4().hex}"
        head = "".join(
            f"{name}: {value}\r\n"
            for name, value in self._headers(item, stencil.subject, list_name, token)
        )
        head += "MIME-Version: 1.0\r\n"
        if stencil.html is None:
            return (head + _QP_HEAD.format(subtype="plain")).encode() + _qp(text)
        html = stencil.html.replace(STAND_INS["unsubscribe_url"], str(escape(page))).replace(
            STAND_INS["name"], str(escape(name))
        )
        delimiter = f"\r\n--{boundary}\r\n".encode()
        alternative = f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        return b"".join(
            (
                (head + alternative).encode(),
                delimiter[2:],
                _QP_HEAD.format(subtype="plain").encode(),
                _qp(text),
                delimiter,
                _QP_HEAD.format(subtype="html").encode(),
                _qp(html),
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )

    def _calendar(self, item: Outgoing, context: dict[str, Any]) -> tuple[str, bytes] | None:
        method = METHOD_OF_KIND.get(item.kind)
        attending = context.get("status") in ("registered", "promoted")
        if item.kind == "registration" and not (context.get("has_calendar") and attending):
            return None
        if method is None:
            return None
        entry = CalendarEntry(
            gathering_id=str(context["gathering_id"]),
            title=str(context["title"]),
            starts_at=_moment(context["starts_at"]),
            ends_at=_moment(context["ends_at"]),
            url=links.gathering(self.base, item.language, str(context["gathering_id"])),
            description=str(context.get("description") or ""),
            location=context.get("location"),
            online_url=context.get("online_url"),
            sequence=int(context.get("sequence") or 0),
        )
        data = calendar(
            [entry],
            domain=self.calendar_host,
            method=method,
            organizer=Organizer(self.sender_address),
            attendee=item.email,
        )
        return method, data


def newsletter_context(n: Newsletter) -> dict[str, Any]:
    """A newsletter as every reader gets it: the Markdown as written, and its HTML."""
    return {"subject": n.subject, "body_text": n.body, "body_html": newsletter_html(n.body)}


def gathering_context(g: Gathering) -> dict[str, Any]:
    """What templates and the calendar entry need to know about a gathering."""
    return {
        "gathering_id": str(g.gathering_id),
        "title": g.title,
        "kind": g.kind,
        "starts_at": g.starts_at.isoformat(),
        "ends_at": g.ends_at.isoformat(),
        "location": g.location,
        "online_url": g.online_url,
        "event_language": g.language,
        "description": g.description,
        "sequence": g.sequence,
    }


#: Quoted-printable UTF-8: readable source, safe through 7-bit relays.
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP


def _text(content: str, subtype: str) -> MIMEText:
    return MIMEText(content, subtype, UTF8)  # type: ignore[arg-type]


def _multipart(subtype: str, *parts: Message) -> MIMEMultipart:
    # Our own random boundary: the generator would otherwise search the whole text for one.
    message = MIMEMultipart(subtype, boundary=f"=_{uuid.uuid4().hex}")
    for part in parts:
        message.attach(part)
    return message


_TOKEN = re.compile(r"token=([A-Za-z0-9_.%-]+)")
_QP_HEAD = (
    'Content-Type: text/{subtype}; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)


def _qp(content: str) -> bytes:
    """UTF-8 quoted-printable with CRLF line ends, by binascii (C): the email package's own
    encoder is Python, and the larger part of composing a newsletter's message."""
    return b2a_qp(content.encode(), istext=True).replace(b"\n", b"\r\n")


def _reading(data: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """What a mail reader makes of a message: its headers (but Date and the boundary) and each
    part's type and decoded text; the unsubscribe token (signed with the time) as "TOKEN"."""
    message = email.message_from_bytes(data)
    found = _TOKEN.search(str(message.get("List-Unsubscribe", "")))
    token = found.group(1) if found else None

    def same(value: str) -> str:
        return value.replace(token, "TOKEN") if token else value

    headers = [
        (k, same(v) if k != "Content-Type" else v.split(";")[0])
        for k, v in message.items()
        if k != "Date"
    ]
    parts = []
    for part in message.walk():
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            text = payload.decode() if isinstance(payload, bytes) else ""
            parts.append((part.get_content_type(), same(text)))
    return sorted(headers), parts


def _header(value: str) -> str:
    """Non-ASCII as RFC 2047 encoded words, folded here (the wire policy does not fold)."""
    return value if value.isascii() else Header(value, "utf-8").encode(linesep="\r\n")


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
