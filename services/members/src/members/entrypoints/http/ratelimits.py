"""Rate limits on the public forms that send e-mail (per address asked about and per
client) and on those that spend a link's token (per client: confirming, the sign-in token
exchange, unsubscribing), so no client can try tokens at speed.

The per-address key is a hash of the e-mail address in the body, so Redis never holds the
address itself; a body without one is left to the per-client limit (and then to validation).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, request
from uskalla_kit.ratelimit import make_limiter
from uskalla_kit.text import normalise_email

from members.config import Settings


def address_key() -> str | None:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # absurdly nested: the view answers 400; no per-address key
        return None
    email = body.get("email") if isinstance(body, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    digest = hashlib.sha256(normalise_email(email).encode()).hexdigest()
    return f"address:{digest}"


def apply_rate_limits(app: Flask, settings: Settings) -> None:
    limits = settings.rate_limits
    limiter = make_limiter(app, settings.common.redis_url)
    for endpoint, per_address, per_client in (
        ("members.join", limits.join_per_address, limits.join_per_client),
        ("auth.sign_in", limits.sign_in_per_address, limits.sign_in_per_client),
    ):
        view: Any = app.view_functions[endpoint]
        view = limiter.limit(per_client)(view)
        view = limiter.limit(
            per_address,
            key_func=lambda: address_key() or "",
            exempt_when=lambda: address_key() is None,
        )(view)
        app.view_functions[endpoint] = view
    for endpoint, per_client in (
        ("members.confirm", limits.confirm_per_client),
        ("auth.token", limits.token_per_client),
        ("members.unsubscribe", limits.unsubscribe_per_client),
    ):
        view = limiter.limit(per_client)(app.view_functions[endpoint])
        app.view_functions[endpoint] = view
