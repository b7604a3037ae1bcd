"""The words events share, defined once: languages, roles, gathering kinds, registration states,
digest frequencies.

Each is a `StrEnum`: a member equals its string (`Language.FI == "fi"`), so it compares with
and is stored as the string the wire and the databases carry.
"""

from __future__ import annotations

import enum


class Language(enum.StrEnum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class Role(enum.StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"


class GatheringKind(enum.StrEnum):
    FORUM = "forum"
    TARINAPAJA = "tarinapaja"
    NETWORK_MEETING = "network_meeting"
    WEBINAR = "webinar"


class RegistrationStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"
    CANCELLED = "cancelled"


class DigestFrequency(enum.StrEnum):
    """How often a member wants the digest of what is new in their interests."""

    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"
