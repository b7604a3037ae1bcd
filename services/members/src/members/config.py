"""The members service's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.exceptions import PyJWKError
from uskalla_kit.auth import key_id, public_keys
from uskalla_kit.runtime import CommonSettings
from uskalla_kit.sealed import Sealer, event_token_sealer
from uskalla_kit.settings import SettingError, env, env_float, env_int, env_secret
from uskalla_kit.text import normalise_email


@dataclass(frozen=True)
class RateLimits:
    """flask-limiter strings ("5 per hour"); `;` separates several limits."""

    join_per_address: str
    join_per_client: str
    sign_in_per_address: str
    sign_in_per_client: str
    confirm_per_client: str
    token_per_client: str
    unsubscribe_per_client: str

    @classmethod
    def from_env(cls) -> RateLimits:
        return cls(
            join_per_address=env("JOIN_RATE_LIMIT_PER_ADDRESS", "5 per hour"),
            # Municipal offices share one address: the per-client limit is the looser one.
            join_per_client=env("JOIN_RATE_LIMIT_PER_CLIENT", "30 per hour"),
            sign_in_per_address=env("SIGN_IN_RATE_LIMIT_PER_ADDRESS", "5 per 15 minutes"),
            sign_in_per_client=env("SIGN_IN_RATE_LIMIT_PER_CLIENT", "60 per hour"),
            # Spending a link: at most what joining and asking for links let a client make.
            confirm_per_client=env("CONFIRM_RATE_LIMIT_PER_CLIENT", "30 per hour"),
            token_per_client=env("TOKEN_RATE_LIMIT_PER_CLIENT", "60 per hour"),
            # One-click unsubscribes come from mail providers' servers, many members at once.
            unsubscribe_per_client=env("UNSUBSCRIBE_RATE_LIMIT_PER_CLIENT", "300 per hour"),
        )


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
    unsubscribe_max_age: int
    event_tokens: Sealer
    rate_limits: RateLimits
    housekeeping_interval: float
    intake_max_attempts: int = 10

    @classmethod
    def from_env(cls) -> Settings:
        common = CommonSettings.from_env("members", "MEMBERS_DATABASE_URL")
        private_key = env_secret("JWT_PRIVATE_KEY") or ""
        check_key_pair(private_key, common.jwt_public_key)
        return cls(
            common=common,
            jwt_private_key=private_key,
            token_ttl_seconds=env_int("ACCESS_TOKEN_TTL_SECONDS", 3600),
            confirm_ttl_days=env_int("CONFIRM_TOKEN_TTL_DAYS", 7),
            sign_in_ttl_minutes=env_int("SIGN_IN_TOKEN_TTL_MINUTES", 15),
            privacy_notice_version=env("PRIVACY_NOTICE_VERSION", "2026-01"),
            bootstrap_coordinators=frozenset(
                normalise_email(e)
                for e in env("BOOTSTRAP_COORDINATORS", "").split(",")
                if e.strip()
            ),
            unsubscribe_secret=env_secret(
                "UNSUBSCRIBE_SECRET", dev_default="dev-unsubscribe-secret"
            )
            or "",
            unsubscribe_max_age=env_int("UNSUBSCRIBE_TOKEN_MAX_AGE", 365 * 24 * 3600),
            event_tokens=event_token_sealer(),
            rate_limits=RateLimits.from_env(),
            housekeeping_interval=env_float("HOUSEKEEPING_INTERVAL_SECONDS", 60.0),
            intake_max_attempts=env_int("INTAKE_MAX_ATTEMPTS", 10),
        )


def check_key_pair(private_pem: str, public_pem: str) -> None:
    """Fail at start, not at the first sign-in, if the signing key does not fit the public key."""
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SettingError(f"JWT_PRIVATE_KEY is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingError("JWT_PRIVATE_KEY must be an Ed25519 key (tokens are EdDSA)")
    if not public_pem:
        return
    try:
        keys = public_keys(public_pem)
    except (ValueError, TypeError, PyJWKError) as exc:
        raise SettingError(f"JWT_PUBLIC_KEY is no PEM public key(s) or JWKS: {exc}") from None
    if key_id(key.public_key()) not in keys:
        raise SettingError("JWT_PRIVATE_KEY does not match any key of JWT_PUBLIC_KEY")
