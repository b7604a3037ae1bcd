"""The network's fixed vocabularies: languages, roles, mailing lists, member states, digests."""

from __future__ import annotations

import enum

from uskalla_events.vocabulary import DigestFrequency, Language, Role


class MailingList(enum.StrEnum):
    """What a one-click unsubscribe link can turn off. All but `digest` are the member's
    booleans of the same name; `digest` turns the interests' digest frequency off."""

    NEWSLETTER = "newsletter"
    INVITATIONS = "invitations"
    FOLLOWS = "follows"
    COMMENTS = "comments"
    DIGEST = "digest"


class MemberStatus(enum.StrEnum):
    """A member's state (a `StrEnum`: it equals the string the database and the API carry)."""

    PENDING = "pending"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


LANGUAGES = tuple(language.value for language in Language)
ROLES = tuple(role.value for role in Role)
LISTS = tuple(name.value for name in MailingList)
#: The lists that are a yes/no on the member (every list but the digest).
FLAG_LISTS = tuple(name for name in LISTS if name != MailingList.DIGEST)
DIGESTS = tuple(frequency.value for frequency in DigestFrequency)
#: How many themes and municipalities a member may follow (bounded like every input).
MAX_THEMES = 20
MAX_MUNICIPALITIES = 400
STATUSES = tuple(status.value for status in MemberStatus)


def language_prefix(language: str) -> str:
    """The web UI's path prefix for a language (Finnish is the default, unprefixed)."""
    return "" if language == "fi" else f"/{language}"


def default_digest(newsletter: bool) -> DigestFrequency:
    """A new member who wants the newsletter gets the weekly digest too, unless they chose."""
    return DigestFrequency.WEEKLY if newsletter else DigestFrequency.OFF
