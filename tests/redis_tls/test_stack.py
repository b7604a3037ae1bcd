"""The whole system as real processes over `rediss://` to a TLS-only redis-server: a sign-up
through the gateway (rate limits on) reaches the confirmation and welcome e-mails, so every
process's Redis clients (gateway, APIs, workers, relays) verified the server with REDIS_CA_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest
from uskalla_devstack.pytest_plugin import stack_running

from ..e2e.journey import confirm, join, token_in, wait_for_mail

pytestmark = pytest.mark.e2e


def test_sign_up_to_welcome_over_verified_tls(
    postgres_server_url: str, redis_tls_url: str, tmp_path: Path
) -> None:
    email = "tiina.tls@example.fi"
    with stack_running(
        postgres_server_url, redis_tls_url, tmp_path, "tls", extra_env={"RATE_LIMITS": "on"}
    ) as (stack, sink):
        assert stack.env["REDIS_URL"].startswith("rediss://")
        answer = join(stack.gateway_url, email, name="Tiina Tls")
        assert answer.status_code == 202, answer.text
        # Counted in Redis: a limiter that could not reach it would serve without the headers.
        assert answer.headers["RateLimit-Remaining"]
        confirmed = confirm(stack.gateway_url, token_in(wait_for_mail(sink, email, "Vahvista")))
        assert confirmed.status_code == 200, confirmed.text
        assert "Tiina" in wait_for_mail(sink, email, "Tervetuloa")["text"]
