"""SMTP out: one connection reused for a batch, temporary and permanent failures told apart,
each message sent from its own envelope sender (VERP) and DKIM-signed when that is set up.

`send(message, before_final=...)` runs `before_final` after the whole message has been
transferred but before the final "." that makes the server accept it (raising there drops
the message: no dot), and it may return a second step that runs as soon as the dot is
written, before the server's answer is read. A caller writes its "sent" mark in the first and
commits it in the second (see `finalcommit`): a crash never loses a message, and only one
between those two writes sends it again, with the same Message-ID.
"""

from __future__ import annotations

import io
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from types import TracebackType

import dkim

from notifications.config import Settings


class TemporaryMailError(Exception):
    """Try again later: connection trouble or a 4xx answer."""


class ConnectionMailError(TemporaryMailError):
    """The server could not be reached or would not talk: nothing in the batch can go now."""


class PermanentMailError(Exception):
    """Do not try again: a 5xx answer. `bounced` when it refused the recipient's address (at
    RCPT, or at the data with a mailbox status 5.1.x/5.2.x): a hard bounce."""

    def __init__(self, message: str, *, bounced: bool = False) -> None:
        super().__init__(message)
        self.bounced = bounced


#: compat32 generation (no header re-parsing) with CRLF line ends, as SMTP wants. Headers are
#: not folded: a List-Unsubscribe URL stays on its line (well under SMTP's 998 characters).
WIRE = compat32.clone(linesep="\r\n", max_line_length=None)
_EOL = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_MAILBOX_STATUS = re.compile(r"5\.[12]\.\d{1,3}\b")
#: Headers a DKIM signature covers (those a relay or list software has no business changing).
DKIM_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"content-type",
    b"mime-version",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
]


class _WireGenerator(BytesGenerator):
    """Writes plain ASCII header values as they are: our composer sets them ready for the wire
    (encoded words pre-folded), and re-folding each one costs more than the rest of a message."""

    def _write_headers(self, msg: Message) -> None:
        for name, value in msg.raw_items():
            if isinstance(value, str) and value.isascii():
                self._fp.write(f"{name}: {value}{self._NL}".encode("ascii"))  # type: ignore[attr-defined]
            else:
                self._fp.write(WIRE.fold_binary(name, value))  # type: ignore[attr-defined]
        self.write(self._NL)  # type: ignore[attr-defined]


def wire_bytes(message: Message) -> bytes:
    buffer = io.BytesIO()
    _WireGenerator(buffer, mangle_from_=False, policy=WIRE).flatten(message)
    return buffer.getvalue()


def dkim_signed(data: bytes, settings: Settings) -> bytes:
    """The message with a DKIM-Signature in front, when `DKIM_*` are set (else as it is)."""
    if settings.dkim_private_key is None:
        return data
    signature = dkim.sign(
        data,
        settings.dkim_selector.encode(),
        settings.dkim_domain.encode(),
        settings.dkim_private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=DKIM_HEADERS,
    )
    return bytes(signature) + data


def dot_stuffed(data: bytes) -> bytes:
    """RFC 5321 transparency: CRLF line ends, leading dots doubled, ending in CRLF."""
    data = _LEADING_DOT.sub(b"..", _EOL.sub(b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class Mailer:
    """An SMTP session; use as a context manager and call send() for each message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP | None = None
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            # SMTP is request/reply, and the final dot follows the data without a reply between:
            # with Nagle's algorithm that write waits for a delayed ACK (tens of ms a message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.smtp_ca_file))
                smtp.ehlo()
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
        except (OSError, smtplib.SMTPException) as exc:
            if smtp is not None:
                smtp.close()
            # Greeting, TLS or login trouble is about the relay or our settings, never about
            # one message: every delivery waits and retries (a 535 is fixed by the operator).
            raise ConnectionMailError(f"cannot use {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        return smtp

    def send(
        self,
        message: Message | bytes,
        before_final: Callable[[], Callable[[], None] | None] | None = None,
        envelope_from: str | None = None,
        recipients: list[str] | None = None,
    ) -> None:
        """Send `message` to its To addresses (or `recipients`); `envelope_from` (the
        Return-Path, where bounces go) defaults to the From address. A message already on the
        wire (bytes, CRLF line ends) needs both `envelope_from` and `recipients`."""
        if isinstance(message, bytes):
            if envelope_from is None or not recipients:
                raise ValueError("a message as bytes needs its envelope sender and recipients")
            sender, wire = envelope_from, message
        else:
            sender = envelope_from or parseaddr(str(message["From"]))[1]
            recipients = recipients or [
                a for _, a in getaddresses([str(v) for v in message.get_all("To", [])])
            ]
            wire = wire_bytes(message)
        data = dot_stuffed(dkim_signed(wire, self.settings))
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            self._envelope(smtp, sender, recipients)
            smtp.send(data)
            after_final = None
            if before_final is not None:
                try:
                    after_final = before_final()
                except BaseException:
                    self.close(quit=False)  # no final dot: the server drops the message
                    raise
            smtp.send(b".\r\n")
            if after_final is not None:
                after_final()
            _expect(smtp.getreply(), 250)
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _classify(exc, at_rcpt=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close(quit=False)
            raise TemporaryMailError(str(exc) or type(exc).__name__) from exc

    def _envelope(self, smtp: smtplib.SMTP, sender: str, recipients: list[str]) -> None:
        """MAIL, RCPT and DATA up to the server's 354; a refusal is raised classified (at
        RCPT: the address bounced). Pipelined where the server offers it (RFC 2920)."""
        at_rcpt = False
        try:
            if smtp.has_extn("pipelining"):
                mail, *rcpts, ready = _pipelined(smtp, sender, recipients)
                if ready[0] == 354 and not (
                    mail[0] == 250 and all(code in (250, 251) for code, _ in rcpts)
                ):
                    self.close(quit=False)  # the server waits for a text that will not come
                _expect(mail, 250)
                at_rcpt = True
                for reply in rcpts:
                    _expect(reply, 250, 251)
                at_rcpt = False
                _expect(ready, 354)
            else:
                _expect(smtp.mail(sender), 250)
                at_rcpt = True
                for recipient in recipients:
                    _expect(smtp.rcpt(recipient), 250, 251)
                at_rcpt = False
                _expect(smtp.docmd("DATA"), 354)
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _classify(exc, at_rcpt) from exc

    def _reset(self) -> None:
        """After a refusal the session can carry on with the next message (RSET), or is closed."""
        if self._smtp is None:
            return
        try:
            code, _ = self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            code = 0
        if code != 250:
            self.close(quit=False)

    def close(self, quit: bool = True) -> None:
        if self._smtp is not None:
            try:
                if quit:
                    self._smtp.quit()
                else:
                    self._smtp.close()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _pipelined(smtp: smtplib.SMTP, sender: str, recipients: list[str]) -> list[tuple[int, bytes]]:
    """MAIL, each RCPT and DATA in one write, then their replies in order (RFC 2920: the
    server offers PIPELINING): one round trip where there would be two or more."""
    commands = [
        f"MAIL FROM:{smtplib.quoteaddr(sender)}",
        *(f"RCPT TO:{smtplib.quoteaddr(recipient)}" for recipient in recipients),
        "DATA",
    ]
    smtp.send("".join(f"{command}\r\n" for command in commands))
    return [smtp.getreply() for _ in commands]


def _expect(reply: tuple[int, bytes], *good: int) -> None:
    code, text = reply
    if code not in good:
        if code == -1:
            raise smtplib.SMTPServerDisconnected(text.decode(errors="replace"))
        raise smtplib.SMTPResponseException(code, text)


def _classify(exc: smtplib.SMTPResponseException, at_rcpt: bool) -> Exception:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    message = f"{exc.smtp_code} {text}"
    if exc.smtp_code < 500:
        return TemporaryMailError(message)
    return PermanentMailError(message, bounced=at_rcpt or bool(_MAILBOX_STATUS.match(text)))
