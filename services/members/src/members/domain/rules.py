"""The network's fixed vocabularies: languages, roles, mailing lists, member states."""

from __future__ import annotations

LANGUAGES = ("fi", "sv", "en")
ROLES = ("member", "coordinator")
LISTS = ("newsletter", "invitations")
STATUSES = ("pending", "active", "deactivated")


def language_prefix(language: str) -> str:
    """The web UI's path prefix for a language (Finnish is the default, unprefixed)."""
    return "" if language == "fi" else f"/{language}"
