"""A local SMTP sink: keeps every message as an .eml file and shows them over HTTP."""

from uskalla_mailsink.store import MailStore

__all__ = ["MailStore"]
