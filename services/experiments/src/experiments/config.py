"""The experiments service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from uskalla_kit.runtime import CommonSettings


@dataclass
class Settings:
    common: CommonSettings

    @classmethod
    def from_env(cls) -> Settings:
        return cls(common=CommonSettings.from_env("experiments", "EXPERIMENTS_DATABASE_URL"))
