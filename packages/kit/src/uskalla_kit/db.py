"""Database conventions shared by every service's models."""

from uskalla_events.tables import NAMING_CONVENTION

__all__ = ["NAMING_CONVENTION"]
