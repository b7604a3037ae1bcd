"""Experiments tests run the real app on a real, migrated PostgreSQL database and real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from experiments.bootstrap import build_runtime
from flask.testing import FlaskClient
from marshmallow import Schema
from sqlalchemy import select
from uskalla_events import load_payload, new_envelope
from uskalla_kit import Runtime

MIGRATIONS = Path(__file__).parents[1] / "src" / "experiments" / "migrations"

DRAFT = {
    "title": "Kokeilu etäasioinnista kirjastossa",
    "summary": "Kirjaston asiakkaat hoitavat kunnan asioita etäyhteydellä.",
    "description": "Kuntalaiset voivat varata ajan ja asioida videon välityksellä.",
    "kind": "experiment",
    "scale": "small",
    "themes": ["digital-municipality"],
    "municipality_codes": ["049", "091"],
    "organisation": "Espoon kaupunki",
    "problem": "Asiointipisteet ovat kaukana.",
    "goals": "Puolet asioinneista etänä.",
    "starts_on": "2026-02-01",
    "ends_on": "2026-12-31",
    "links": ["https://www.espoo.fi/kokeilu"],
    "looking_for": "Muita kuntia mukaan",
}


@dataclass
class Person:
    """A caller in a test: anonymous (no id), a member or a coordinator."""

    id: str | None
    role: str = "member"
    token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def empty_but_themes(url: str) -> None:
    """Empty every table but Alembic's and the themes that the migration seeded."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT IN ('alembic_version', 'themes')"
            )
        ]
        conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


@pytest.fixture
def runtime(
    service_env: dict[str, str],
    migrated_database: Callable[[str, Path], str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Runtime]:
    url = migrated_database("experiments", MIGRATIONS)
    empty_but_themes(url)
    monkeypatch.setenv("EXPERIMENTS_DATABASE_URL", url)
    runtime = build_runtime()
    yield runtime
    runtime.db.dispose()


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return runtime.create_app().test_client()


def deliver(runtime: Runtime, event_type: str, data: dict[str, Any]) -> None:
    """Hand an event to this service's consumer, as its worker would."""
    runtime.events.consumer.handle(new_envelope(load_payload(event_type, data)))


def joined(runtime: Runtime, member_id: str, name: str, email: str, role: str = "member") -> None:
    deliver(
        runtime,
        "members.member.joined.v1",
        {
            "member_id": member_id,
            "email": email,
            "name": name,
            "language": "fi",
            "organisation": "Kunta",
            "newsletter": True,
            "invitations": True,
            "role": role,
            "joined_at": "2026-01-01T00:00:00+00:00",
        },
    )


@pytest.fixture
def people(runtime: Runtime, make_token: Callable[..., str]) -> dict[str, Person]:
    """anonymous, owner, member (another member) and coordinator, all in the projection."""
    result = {"anonymous": Person(None)}
    for key, name, role in (
        ("owner", "Olli Omistaja", "member"),
        ("member", "Maija Muu", "member"),
        ("coordinator", "Kaisa Koordinaattori", "coordinator"),
    ):
        member_id = str(uuid.uuid4())
        joined(runtime, member_id, name, f"{key}@kunta.test", role)
        result[key] = Person(member_id, role, make_token(member_id, role))
    return result


@pytest.fixture
def make_member(runtime: Runtime, make_token: Callable[..., str]) -> Callable[[str], Person]:
    def make(name: str) -> Person:
        member_id = str(uuid.uuid4())
        joined(runtime, member_id, name, f"{member_id[:8]}@kunta.test")
        return Person(member_id, "member", make_token(member_id))

    return make


class Api:
    """Helpers shared by the tests (pytest's importlib mode cannot import conftest)."""

    def __init__(self, client: FlaskClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self.draft = dict(DRAFT)

    def create(self, owner: Person, **fields: Any) -> dict[str, Any]:
        answer = self.client.post(
            "/api/v1/experiments", json={**DRAFT, **fields}, headers=owner.headers
        )
        assert answer.status_code == 201, answer.json
        body: dict[str, Any] = answer.json
        return body

    def published(self, owner: Person, **fields: Any) -> dict[str, Any]:
        experiment = self.create(owner, **fields)
        answer = self.client.post(
            f"/api/v1/experiments/{experiment['id']}/publish", headers=owner.headers
        )
        assert answer.status_code == 200, answer.json
        body: dict[str, Any] = answer.json
        return body

    def outbox(self) -> list[dict[str, Any]]:
        table = self.runtime.events.tables.outbox
        with self.runtime.db.transaction() as session:
            rows = session.execute(select(table).order_by(table.c.created_at))
            return [r.envelope for r in rows]

    def deliver(self, event_type: str, data: dict[str, Any]) -> None:
        deliver(self.runtime, event_type, data)

    @staticmethod
    def conforms(schema: type[Schema], body: Any) -> None:
        """The body is what the OpenAPI document declares (nullable fields included)."""
        errors = schema().validate(body)
        assert errors == {}, errors


@pytest.fixture
def api(client: FlaskClient, runtime: Runtime) -> Api:
    return Api(client, runtime)
