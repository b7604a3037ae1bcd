"""The gateway's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass

from uskalla_kit.settings import env, env_float, env_int, env_secret


@dataclass
class Settings:
    services: dict[str, str]
    redis_url: str
    jwt_public_key: str
    jwt_issuer: str
    jwt_audience: str
    internal_token: str
    port: int
    max_body_bytes: int
    connect_timeout: float
    read_timeout: float
    rate_limits: bool
    public_base_url: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            services={
                "members": env("MEMBERS_URL", dev_default="http://127.0.0.1:8001").rstrip("/"),
                "experiments": env("EXPERIMENTS_URL", dev_default="http://127.0.0.1:8002").rstrip(
                    "/"
                ),
                "notifications": env(
                    "NOTIFICATIONS_URL", dev_default="http://127.0.0.1:8003"
                ).rstrip("/"),
            },
            redis_url=env("REDIS_URL", dev_default="redis://127.0.0.1:6379/0"),
            jwt_public_key=env_secret("JWT_PUBLIC_KEY") or "",
            jwt_issuer=env("JWT_ISSUER", "uskalla-members"),
            jwt_audience=env("JWT_AUDIENCE", "uskalla"),
            internal_token=env_secret("INTERNAL_API_TOKEN", dev_default="dev-internal-token") or "",
            port=env_int("GATEWAY_PORT", 8080),
            max_body_bytes=env_int("MAX_BODY_BYTES", 256 * 1024),
            connect_timeout=env_float("UPSTREAM_CONNECT_TIMEOUT", 2.0),
            read_timeout=env_float("UPSTREAM_READ_TIMEOUT", 15.0),
            rate_limits=env("RATE_LIMITS", "on").lower() != "off",
            public_base_url=env("PUBLIC_BASE_URL", dev_default="http://127.0.0.1:8080").rstrip("/"),
        )
