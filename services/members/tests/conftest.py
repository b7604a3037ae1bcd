"""Members tests run the real app on a real, migrated PostgreSQL database and real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from members.adapters.models import Gathering, Member
from members.bootstrap import build_runtime
from members.service_layer import services_of
from members.service_layer.housekeeping import intake_job
from sqlalchemy import select
from uskalla_devstack.pytest_plugin import truncate_all
from uskalla_kit import Runtime
from uskalla_kit.runtime import runtime_of

MIGRATIONS = Path(__file__).parents[1] / "src" / "members" / "migrations"


@pytest.fixture
def runtime(
    service_env: dict[str, str],
    migrated_database: Callable[[str, Path], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    url = migrated_database("members", MIGRATIONS)
    truncate_all(url)
    monkeypatch.setenv("MEMBERS_DATABASE_URL", url)
    runtime = build_runtime()
    yield runtime
    runtime.db.dispose()


def settle(runtime: Runtime) -> int:
    """Act on the join and sign-in requests waiting, as the relay does every beat."""
    return intake_job(runtime.db, services_of(runtime))()


class SettlingClient(FlaskClient):
    """A client after whose every request the relay's intake job runs, so a test sees what a
    join or sign-in request leads to (a relay would do it within a second)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        settle(runtime_of(self.application))
        return response


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    app = runtime.create_app()
    app.test_client_class = SettlingClient
    return app.test_client()


@pytest.fixture
def unseal(runtime: Runtime) -> Callable[[str], str]:
    """unseal(token field of an event) -> the working token (as notifications opens it)."""

    def open_(sealed: str) -> str:
        token = runtime.extra["settings"].event_tokens.open(sealed)
        assert token is not None, f"not sealed with the event token key: {sealed[:20]}"
        return str(token)

    return open_


@pytest.fixture
def events(runtime: Runtime) -> Callable[..., list[dict[str, Any]]]:
    """events(type=None) -> the envelopes in the outbox, oldest first (optionally one type)."""

    def read(event_type: str | None = None) -> list[dict[str, Any]]:
        outbox = runtime.events.tables.outbox
        with runtime.db.transaction() as session:
            # created_at is the transaction's start: within one, the envelope's own time orders.
            rows = session.execute(
                select(outbox.c.envelope).order_by(
                    outbox.c.created_at, outbox.c.envelope["occurred_at"].astext
                )
            )
            found = [r.envelope for r in rows]
        return [e for e in found if event_type is None or e["type"] == event_type]

    return read


@pytest.fixture
def add_member(runtime: Runtime) -> Callable[..., Member]:
    """add_member(email=..., role=..., status=..., **fields) -> an active member in the DB."""
    counter = iter(range(1, 10_000))

    def add(**fields: Any) -> Member:
        n = next(counter)
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "email": f"member{n}@example.fi",
            "name": f"Jäsen {n}",
            "organisation": "Tampereen kaupunki",
            "municipality_code": "837",
            "language": "fi",
            "newsletter": True,
            "invitations": True,
            "role": "member",
            "status": "active",
            "consent_at": datetime.now(UTC),
            "privacy_notice_version": "2026-01",
            "joined_at": datetime.now(UTC),
            "created_at": datetime.now(UTC),
            "undeliverable": False,
        } | fields
        member = Member(**values)
        with runtime.db.transaction() as session:
            session.add(member)
        return member

    return add


@pytest.fixture
def auth(make_token: Callable[..., str]) -> Callable[[Member], dict[str, str]]:
    """auth(member) -> the Authorization header of a token for that member and role."""

    def headers(member: Member) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(str(member.id), member.role)}"}

    return headers


@pytest.fixture
def coordinator(add_member: Callable[..., Member]) -> Member:
    return add_member(
        email="koordinaattori@kuntaliitto.fi", name="Kaisa Koordinaattori", role="coordinator"
    )


@pytest.fixture
def add_gathering(runtime: Runtime, coordinator: Member) -> Callable[..., Gathering]:
    """add_gathering(**fields) -> a published gathering a week ahead (capacity 2 by default)."""

    def add(**fields: Any) -> Gathering:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
        values: dict[str, Any] = {
            "id": uuid.uuid4(),
            "title": "Kokeilufoorumi",
            "kind": "forum",
            "description": "Kokeilukulttuuria kunnissa.",
            "starts_at": start,
            "ends_at": start + timedelta(hours=3),
            "location": "Kuntatalo, Helsinki",
            "online_url": None,
            "capacity": 2,
            "registration_deadline": None,
            "language": "fi",
            "status": "published",
            "sequence": 0,
            "created_by": coordinator.id,
            "created_at": datetime.now(UTC),
            "updated_at": datetime.now(UTC),
            "published_at": datetime.now(UTC),
        } | fields
        gathering = Gathering(**values)
        with runtime.db.transaction() as session:
            session.add(gathering)
        return gathering

    return add
