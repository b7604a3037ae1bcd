"""The network's fixed vocabularies: languages, roles, mailing lists, member states."""

from __future__ import annotations

import enum

from uskalla_events.vocabulary import Language, Role


class MailingList(enum.StrEnum):
    NEWSLETTER = "newsletter"
    INVITATIONS = "invitations"


class MemberStatus(enum.StrEnum):
    """A member's state (a `StrEnum`: it equals the string the database and the API carry)."""

    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


LANGUAGES = tuple(language.value for language in Language)
ROLES = tuple(role.value for role in Role)
LISTS = tuple(name.value for name in MailingList)
STATUSES = tuple(status.value for status in MemberStatus)


def language_prefix(language: str) -> str:
    """The web UI's path prefix for a language (Finnish is the default, unprefixed)."""
    return "" if language == "fi" else f"/{language}"
