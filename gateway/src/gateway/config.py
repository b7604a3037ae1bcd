"""The gateway's settings, read from the environment."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

from uskalla_kit.internal import presented_token
from uskalla_kit.settings import SettingError, env, env_float, env_int, env_secret

SERVICES = ("members", "experiments", "notifications")


@dataclass
class Settings:
    services: dict[str, str]
    redis_url: str
    jwt_public_key: str
    jwt_issuer: str
    jwt_audience: str
    internal_token: str
    port: int = 8080
    max_body_bytes: int = 256 * 1024
    connect_timeout: float = 2.0
    read_timeout: float = 15.0
    rate_limits: bool = True
    api_rate_limit: str = "600/minute"
    ui_post_rate_limit: str = "60/minute"
    public_base_url: str = "http://127.0.0.1:8080"
    cors_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    metrics_port: int = 0
    csrf_secret: str = ""
    openapi_cache_seconds: float = 60.0
    pool_size: int = 32
    privacy_notice_version: str = "2026-01"
    contact_email: str = "meuskaltajat@uskalla.fi"

    @property
    def secure(self) -> bool:
        """Whether the site is served over HTTPS, from the configured public address only
        (never from a client's header): Secure, `__Host-` cookies and HSTS follow it."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def csrf_key(self) -> bytes:
        """CSRF_SECRET, or a key derived from the internal token (a secret every gateway has)."""
        if self.csrf_secret:
            return self.csrf_secret.encode()
        return hmac.new(self.internal_token.encode(), b"uskalla csrf v1", hashlib.sha256).digest()

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            services={
                name: env(f"{name.upper()}_URL", dev_default=f"http://127.0.0.1:{port}").rstrip("/")
                for name, port in zip(SERVICES, (8001, 8002, 8003), strict=True)
            },
            redis_url=env("REDIS_URL", dev_default="redis://127.0.0.1:6379/0"),
            jwt_public_key=env_secret("JWT_PUBLIC_KEY") or "",
            jwt_issuer=env("JWT_ISSUER", "uskalla-members"),
            jwt_audience=env("JWT_AUDIENCE", "uskalla"),
            # "new,old" while it rotates: the gateway presents the newest.
            internal_token=presented_token(
                env_secret("INTERNAL_API_TOKEN", dev_default="dev-internal-token") or ""
            ),
            port=env_int("GATEWAY_PORT", 8080),
            max_body_bytes=env_int("MAX_BODY_BYTES", 256 * 1024),
            connect_timeout=env_float("UPSTREAM_CONNECT_TIMEOUT", 2.0),
            read_timeout=env_float("UPSTREAM_READ_TIMEOUT", 15.0),
            rate_limits=env("RATE_LIMITS", "on").lower() != "off",
            api_rate_limit=env("API_RATE_LIMIT", "600/minute"),
            ui_post_rate_limit=env("UI_POST_RATE_LIMIT", "60/minute"),
            public_base_url=env("PUBLIC_BASE_URL", dev_default="http://127.0.0.1:8080").rstrip("/"),
            cors_origins=tuple(
                o.strip().rstrip("/") for o in env("CORS_ORIGINS", "").split(",") if o.strip()
            ),
            trusted_proxies=networks("TRUSTED_PROXIES"),
            metrics_port=env_int("METRICS_PORT", 0),
            csrf_secret=env_secret("CSRF_SECRET", required=False) or "",
            openapi_cache_seconds=env_float("OPENAPI_CACHE_SECONDS", 60.0),
            pool_size=env_int("UPSTREAM_POOL_SIZE", 32),
            # The same value as members' (what a consent records): the notice shown is that one.
            privacy_notice_version=env("PRIVACY_NOTICE_VERSION", "2026-01"),
            contact_email=env("CONTACT_EMAIL", "meuskaltajat@uskalla.fi"),
        )


def networks(name: str) -> tuple[str, ...]:
    """A comma-separated list of CIDRs (or single addresses); a typo fails loudly at start."""
    given = tuple(n.strip() for n in env(name, "").split(",") if n.strip())
    for network in given:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise SettingError(f"{name}: {network!r} is not a CIDR such as 10.0.0.0/8") from exc
    return given
