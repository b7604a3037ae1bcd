"""No working link token at rest: events carry them sealed, the database keeps only hashes,
and no log line prints one."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from members.adapters.models import Member
from uskalla_kit import Runtime
from uskalla_kit.logs import JsonFormatter
from uskalla_kit.sealed import Sealer
from uskalla_kit.signed import SignedTokens

Events = Callable[..., list[dict[str, Any]]]
Unseal = Callable[[str], str]


def every_value_as_text(runtime: Runtime) -> str:
    """Every column of every row of every table, cast to text by PostgreSQL."""
    dsn = runtime.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public'"
        ).fetchall()
        return "\n".join(
            str(value)
            for table, column in columns
            for (value,) in conn.execute(f'SELECT "{column}"::text FROM "{table}"').fetchall()
        )


def test_link_tokens_travel_sealed_and_rest_nowhere_in_clear(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
) -> None:
    client.post("/api/v1/members", json={"email": "uusi@example.fi", "name": "U", "consent": True})
    [registered] = events("members.member.registered.v1")
    sealed_confirm = registered["data"]["token"]
    assert sealed_confirm.startswith("sealed:")
    confirm = unseal(sealed_confirm)
    assert confirm not in json.dumps(registered)

    member = add_member(email="vanha@example.fi")
    client.post("/api/v1/auth/sign-in", json={"email": member.email})
    [requested] = events("members.sign_in.requested.v1")
    sign_in = unseal(requested["data"]["token"])
    assert sign_in not in json.dumps(requested)

    stored = every_value_as_text(runtime)
    assert sealed_confirm in stored  # the scan does see the outbox's payloads
    assert confirm not in stored and sign_in not in stored
    # The opened tokens are the working ones.
    assert client.post("/api/v1/members/confirm", json={"token": confirm}).status_code == 200
    assert client.post("/api/v1/auth/token", json={"token": sign_in}).status_code == 200
    stored = every_value_as_text(runtime)
    assert confirm not in stored and sign_in not in stored
    # Another key opens nothing: the key is what makes a sealed token usable.
    assert Sealer(["someone-elses-key"], "event-token").open(sealed_confirm) is None


def test_no_log_line_prints_a_token(
    client: FlaskClient,
    runtime: Runtime,
    add_member: Callable[..., Member],
    events: Events,
    unseal: Unseal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A guard (nothing logged a token before either): every line the flow logs, at DEBUG, as
    the JSON formatter writes it, holds none of the tokens."""
    caplog.set_level(logging.DEBUG)
    member = add_member(email="loki@example.fi")
    client.post("/api/v1/members", json={"email": "uusi@example.fi", "name": "U", "consent": True})
    client.post("/api/v1/auth/sign-in", json={"email": member.email})
    tokens = [
        unseal(events("members.member.registered.v1")[0]["data"]["token"]),
        unseal(events("members.sign_in.requested.v1")[0]["data"]["token"]),
        SignedTokens("test-unsubscribe-secret", "unsubscribe").make(
            {"member_id": str(member.id), "list": "newsletter"}
        ),
    ]
    for token in tokens:  # each spent, and each refused once spoilt
        client.post("/api/v1/members/confirm", json={"token": token})
        client.post("/api/v1/auth/token", json={"token": token})
        client.post(f"/api/v1/unsubscribe?token={token}")
        client.post("/api/v1/auth/token", json={"token": token[:-2]})
        client.post(f"/api/v1/unsubscribe?token={token[:-2]}x")
    formatter = JsonFormatter("members")
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for token in tokens:
        assert token[:-2] not in lines
