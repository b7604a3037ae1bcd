"""The notifications service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from uskalla_kit.runtime import CommonSettings
from uskalla_kit.settings import env, env_bool, env_float, env_int, env_secret


@dataclass
class Settings:
    common: CommonSettings
    smtp_host: str
    smtp_port: int
    smtp_username: str | None
    smtp_password: str | None
    smtp_starttls: bool
    smtp_timeout: float
    mail_from: str
    mail_requeue_after: float
    mail_max_attempts: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            common=CommonSettings.from_env("notifications", "NOTIFICATIONS_DATABASE_URL"),
            smtp_host=env("SMTP_HOST", dev_default="127.0.0.1"),
            smtp_port=env_int("SMTP_PORT", 25),
            smtp_username=env("SMTP_USERNAME", "") or None,
            smtp_password=env_secret("SMTP_PASSWORD", required=False),
            smtp_starttls=env_bool("SMTP_STARTTLS", False),
            smtp_timeout=env_float("SMTP_TIMEOUT", 30.0),
            mail_from=env("MAIL_FROM", "MeUskaltajat <noreply@uskalla.fi>"),
            mail_requeue_after=env_float("MAIL_REQUEUE_AFTER", 300.0),
            mail_max_attempts=env_int("MAIL_MAX_ATTEMPTS", 8),
        )
