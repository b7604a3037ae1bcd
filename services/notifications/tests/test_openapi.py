"""The OpenAPI document covers every public view, and the declared schemas fit real answers."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient
from marshmallow import Schema
from notifications.entrypoints.schemas import (
    BounceResultSchema,
    CopyQueuedSchema,
    DeliveryPage,
    ExportSchema,
    NewsletterPage,
    NewsletterSchema,
)

from .conftest import Service


def fits(schema: type[Schema], data: object) -> None:
    """Loading the answer with its declared schema must succeed (types, required, nullable)."""
    schema().load(data)  # raises ValidationError with the mismatch


def test_every_route_is_documented(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    paths = spec["paths"]
    for path, methods in {
        "/api/v1/newsletters": {"get", "post"},
        "/api/v1/newsletters/{newsletter_id}": {"get", "patch"},
        "/api/v1/newsletters/{newsletter_id}/test": {"post"},
        "/api/v1/newsletters/{newsletter_id}/send": {"post"},
        "/api/v1/newsletters/{newsletter_id}/cancel": {"post"},
        "/api/v1/deliveries": {"get"},
        "/api/v1/bounces": {"post"},
        "/internal/v1/members/{member_id}/export": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    assert "409" in paths["/api/v1/newsletters/{newsletter_id}/send"]["post"]["responses"]


def test_declared_schemas_fit_the_answers(
    client: FlaskClient, coordinator: tuple[uuid.UUID, dict[str, str]], service: Service
) -> None:
    headers = coordinator[1]
    member = service.add_recipient()
    created = client.post(
        "/api/v1/newsletters", json={"subject": "S", "body": "B"}, headers=headers
    ).json
    fits(NewsletterSchema, created)
    newsletter = f"/api/v1/newsletters/{created['id']}"
    fits(CopyQueuedSchema, client.post(f"{newsletter}/test", headers=headers).json)
    fits(NewsletterSchema, client.post(f"{newsletter}/send", headers=headers).json)
    service.tasks.drain()
    fits(NewsletterSchema, client.get(newsletter, headers=headers).json)
    fits(NewsletterPage, client.get("/api/v1/newsletters", headers=headers).json)
    fits(DeliveryPage, client.get("/api/v1/deliveries", headers=headers).json)
    bounce = client.post(
        "/api/v1/bounces", json={"email": "b@example.fi", "kind": "soft"}, headers=headers
    )
    fits(BounceResultSchema, bounce.json)
    export = client.get(
        f"/internal/v1/members/{member}/export", headers={"X-Internal-Token": "test-internal-token"}
    )
    fits(ExportSchema, export.json)
    cancelled = client.post(
        "/api/v1/newsletters", json={"subject": "S", "body": "B"}, headers=headers
    ).json
    fits(
        NewsletterSchema,
        client.post(f"/api/v1/newsletters/{cancelled['id']}/cancel", headers=headers).json,
    )
