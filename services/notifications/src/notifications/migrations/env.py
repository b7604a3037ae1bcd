"""Alembic environment for the notifications database."""

from notifications.adapters.models import Base
from uskalla_kit.migrations import run_env

run_env(Base.metadata)
