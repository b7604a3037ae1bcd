"""TLS to Redis, the same for every client: Celery's broker, redis-py, the rate limits.

A `rediss://` URL is always verified: the server's certificate must chain to `REDIS_CA_FILE`
(a PEM file, e.g. a mounted Secret; without it, the system's trust store) and name the URL's
host. `REDIS_CLIENT_CERT_FILE` and `REDIS_CLIENT_KEY_FILE` (both or neither) present a client
certificate to a server that asks for one (redis-server's `tls-auth-clients yes`).

Nothing weakens this quietly: a `rediss://` URL with its own `ssl_*` query options, a file that
cannot be read, or a TLS setting beside a plain `redis://` URL is refused when the client is
built, so a process stops at start rather than talk to Redis unverified or in the clear.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import redis

CA_FILE = "REDIS_CA_FILE"
CLIENT_CERT_FILE = "REDIS_CLIENT_CERT_FILE"
CLIENT_KEY_FILE = "REDIS_CLIENT_KEY_FILE"


class RedisTLSError(RuntimeError):
    """A Redis URL whose TLS cannot be honoured as configured."""


def _readable(setting: str) -> str | None:
    path = os.environ.get(setting) or None
    if path is not None:
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise RedisTLSError(f"{setting}: cannot read {path}: {exc.strerror}") from exc
    return path


def tls_options(url: str) -> dict[str, Any]:
    """redis-py's keyword arguments for TLS to `url`: none for `redis://`, verification against
    REDIS_CA_FILE (and the client certificate, if set) for `rediss://`.

    Raises RedisTLSError where TLS cannot be honoured (see the module's docstring)."""
    parts = urlsplit(url)
    ca = _readable(CA_FILE)
    cert, key = _readable(CLIENT_CERT_FILE), _readable(CLIENT_KEY_FILE)
    if parts.scheme != "rediss":
        settings = ((CA_FILE, ca), (CLIENT_CERT_FILE, cert), (CLIENT_KEY_FILE, key))
        given = [name for name, value in settings if value]
        if given:
            raise RedisTLSError(
                f"{', '.join(given)} set but the Redis URL is {parts.scheme}://, not rediss://: "
                "refusing to talk to Redis without TLS"
            )
        return {}
    own = sorted({name for name, _ in parse_qsl(parts.query) if name.startswith("ssl")})
    if own:
        raise RedisTLSError(
            f"the rediss:// URL sets {', '.join(own)}: TLS is configured by {CA_FILE} "
            f"({CLIENT_CERT_FILE}, {CLIENT_KEY_FILE}) and always verified"
        )
    if (cert is None) != (key is None):
        raise RedisTLSError(f"{CLIENT_CERT_FILE} and {CLIENT_KEY_FILE} go together")
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if ca is not None:
        options["ssl_ca_certs"] = ca
    if cert is not None:
        options |= {"ssl_certfile": cert, "ssl_keyfile": key}
    return options


def redis_client(url: str, **kwargs: Any) -> redis.Redis:
    """A redis-py client for `url`, verified TLS included when it is `rediss://`."""
    return redis.Redis.from_url(url, **tls_options(url), **kwargs)
