"""Alembic environment for the experiments database."""

from experiments.adapters.models import Base
from uskalla_kit.migrations import run_env

run_env(Base.metadata)
