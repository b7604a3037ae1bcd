"""The registry's fixed vocabularies: kinds, scales, stages, outcomes, report reasons, languages.

Each is a `StrEnum` (a member equals its string, as the database and the API carry it); the
tuples of their values are what schemas and checks take.
"""

from __future__ import annotations

import enum

from uskalla_events.vocabulary import Language


class Kind(enum.StrEnum):
    EXPERIMENT = "experiment"
    PILOT = "pilot"


class Scale(enum.StrEnum):
    SMALL = "small"
    LARGE = "large"


class Stage(enum.StrEnum):
    IDEA = "idea"
    PLANNING = "planning"
    RUNNING = "running"
    EVALUATED = "evaluated"
    DISCONTINUED = "discontinued"


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    PARTLY_SUCCEEDED = "partly_succeeded"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    OFFENSIVE = "offensive"
    OFF_TOPIC = "off_topic"
    OTHER = "other"


KINDS = tuple(k.value for k in Kind)
SCALES = tuple(s.value for s in Scale)
STAGES = tuple(s.value for s in Stage)
OUTCOMES = tuple(o.value for o in Outcome)
REPORT_REASONS = tuple(r.value for r in ReportReason)
LANGUAGES = tuple(language.value for language in Language)

#: The PostgreSQL text search configuration each document language is indexed and searched with.
SEARCH_CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
