"""Alembic environment for the members database."""

from members.adapters.models import Base
from uskalla_kit.migrations import run_env

run_env(Base.metadata)
