"""The experiments service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from uskalla_kit.runtime import CommonSettings
from uskalla_kit.settings import env


@dataclass
class Settings:
    common: CommonSettings
    #: Per member, flask-limiter syntax ("10/minute;200/day"); RATE_LIMITS=off disables it.
    comment_rate_limit: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            common=CommonSettings.from_env("experiments", "EXPERIMENTS_DATABASE_URL"),
            comment_rate_limit=env("COMMENT_RATE_LIMIT", "10/minute;200/day"),
        )
