"""The members service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from uskalla_kit.runtime import CommonSettings
from uskalla_kit.settings import env, env_int, env_secret


@dataclass
class Settings:
    common: CommonSettings
    jwt_private_key: str
    token_ttl_seconds: int
    confirm_ttl_days: int
    sign_in_ttl_minutes: int
    privacy_notice_version: str
    bootstrap_coordinators: frozenset[str]
    unsubscribe_secret: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            common=CommonSettings.from_env("members", "MEMBERS_DATABASE_URL"),
            jwt_private_key=env_secret("JWT_PRIVATE_KEY", required=False) or "",
            token_ttl_seconds=env_int("ACCESS_TOKEN_TTL_SECONDS", 3600),
            confirm_ttl_days=env_int("CONFIRM_TOKEN_TTL_DAYS", 7),
            sign_in_ttl_minutes=env_int("SIGN_IN_TOKEN_TTL_MINUTES", 15),
            privacy_notice_version=env("PRIVACY_NOTICE_VERSION", "2026-01"),
            bootstrap_coordinators=frozenset(
                e.strip().lower() for e in env("BOOTSTRAP_COORDINATORS", "").split(",") if e.strip()
            ),
            unsubscribe_secret=env_secret("UNSUBSCRIBE_SECRET", required=False)
            or env_secret("INTERNAL_API_TOKEN", required=False)
            or "",
        )
