"""SMTP out: one connection reused for a batch, temporary and permanent failures told apart."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from types import TracebackType

from notifications.config import Settings


class TemporaryMailError(Exception):
    """Try again later: connection trouble or a 4xx answer."""


class PermanentMailError(Exception):
    """Do not try again: a 5xx answer."""


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
        try:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.smtp_username and s.smtp_password:
                smtp.login(s.smtp_username, s.smtp_password)
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryMailError(f"cannot reach {s.smtp_host}:{s.smtp_port}: {exc}") from exc
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code = min(c for c, _ in exc.recipients.values())
            raise (TemporaryMailError if code < 500 else PermanentMailError)(
                str(exc.recipients)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _classify(exc) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise TemporaryMailError(str(exc) or type(exc).__name__) from exc
        if refused:
            raise TemporaryMailError(f"refused: {refused}")

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _classify(exc: smtplib.SMTPResponseException) -> Exception:
    text = (
        exc.smtp_error.decode(errors="replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    message = f"{exc.smtp_code} {text}"
    return PermanentMailError(message) if exc.smtp_code >= 500 else TemporaryMailError(message)
