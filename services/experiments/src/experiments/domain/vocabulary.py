"""The registry's fixed vocabularies: kinds, scales, stages, outcomes, report reasons, languages."""

from __future__ import annotations

KINDS = ("experiment", "pilot")
SCALES = ("small", "large")
STAGES = ("idea", "planning", "running", "evaluated", "discontinued")
OUTCOMES = ("succeeded", "partly_succeeded", "failed", "inconclusive")
REPORT_REASONS = ("spam", "offensive", "off_topic", "other")
LANGUAGES = ("fi", "sv", "en")

#: The PostgreSQL text search configuration each document language is indexed and searched with.
SEARCH_CONFIGS = {"fi": "finnish", "sv": "swedish", "en": "english"}
