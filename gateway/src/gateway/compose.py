"""Answers the gateway composes from several services: the data export, OpenAPI, readiness."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from uskalla_kit import Problem

from gateway.openapi_merge import merge
from gateway.proxy import Timeout, Upstreams

INTERNAL_HEADER = "X-Internal-Token"
#: Readiness and documents must answer quickly even when a service hangs.
QUICK = Timeout(connect=1.0, read=2.0)

#: Operations the gateway answers itself, added to the merged document.
GATEWAY_PATHS: dict[str, Any] = {
    "/api/v1/members/me/export": {
        "get": {
            "summary": "All personal data held about the member in every service",
            "tags": ["members"],
            "security": [{"bearer": []}],
            "x-service": "gateway",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "401": {
                    "description": "Not signed in or invalid token",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
                "502": {"description": "A service could not be reached"},
                "504": {"description": "A service did not answer in time"},
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This document: the services' OpenAPI documents merged",
            "tags": ["meta"],
            "x-service": "gateway",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


class Composer:
    def __init__(
        self, upstreams: Upstreams, internal_token: str, openapi_cache_seconds: float
    ) -> None:
        self.upstreams = upstreams
        self.internal_token = internal_token
        self.cache_seconds = openapi_cache_seconds
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="compose")
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    @property
    def services(self) -> list[str]:
        return list(self.upstreams.services)

    def export(self, member_id: str, request_id: str) -> dict[str, Any]:
        """Every service's part of the member's data; all or nothing (a 502/504 names who)."""
        headers = {INTERNAL_HEADER: self.internal_token, "X-Request-ID": request_id}
        path = f"/internal/v1/members/{member_id}/export"
        futures = {
            service: self.pool.submit(self.upstreams.request, service, "GET", path, headers=headers)
            for service in self.services
        }
        document: dict[str, Any] = {
            "member_id": member_id,
            "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        for service, future in futures.items():
            answer = future.result()  # a Problem (502/504) from request() propagates
            if answer.status == 404 and service == "members":
                # A token that outlived its member's erasure: nobody to export, not a fault.
                raise Problem(401, "Unauthorized", "This member no longer exists.")
            if answer.status != 200:
                raise Problem(
                    502,
                    "Bad Gateway",
                    f"The {service} service could not export the member's data "
                    f"(it answered {answer.status}); nothing partial is given out.",
                )
            try:
                part = json.loads(answer.data)
            except ValueError as exc:
                raise Problem(
                    502, "Bad Gateway", f"The {service} service sent an unreadable export."
                ) from exc
            document[service] = part
        return document

    def sign_in_preview(self, token: str, request_id: str) -> dict[str, Any] | None:
        """Whom a sign-in link would sign in ({"email", "name", "language"}), without spending
        it; None for a link that is used, expired, unknown (404) or malformed (400, 422). Any
        other answer (a wrong internal token, a fault) is a 502, not a dead link."""
        answer = self.upstreams.request(
            "members",
            "POST",
            "/internal/v1/sign-in/preview",
            body=json.dumps({"token": token}).encode(),
            headers={
                INTERNAL_HEADER: self.internal_token,
                "X-Request-ID": request_id,
                "Content-Type": "application/json",
            },
        )
        if answer.status in (400, 404, 422):
            return None
        try:
            member = json.loads(answer.data) if answer.status == 200 else None
        except ValueError:
            member = None
        if not isinstance(member, dict):
            raise Problem(502, "Bad Gateway", "The members service could not read the link.")
        return member

    def openapi(self) -> dict[str, Any]:
        """The merged document, cached; a service that cannot be reached is listed, not fatal."""
        with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
        futures = {service: self.pool.submit(self._document, service) for service in self.services}
        documents: dict[str, dict[str, Any]] = {}
        missing: list[str] = []
        for service, future in futures.items():
            doc = future.result()
            if doc is None:
                missing.append(service)
            else:
                documents[service] = doc
        merged = merge(documents, title="Uskalla API", extra_paths=GATEWAY_PATHS)
        merged["servers"] = [{"url": "/"}]
        if missing:
            merged["x-unavailable-services"] = missing
        else:  # only a complete document is worth keeping
            with self._lock:
                self._cached = (time.monotonic(), merged)
        return merged

    def _document(self, service: str) -> dict[str, Any] | None:
        try:
            answer = self.upstreams.request(service, "GET", "/openapi.json", timeout=QUICK)
            if answer.status != 200:
                return None
            doc = json.loads(answer.data)
        except (Problem, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def readiness(self) -> dict[str, str]:
        """Each service's own /readyz verdict, asked in parallel with a short timeout."""
        futures = {service: self.pool.submit(self._ready, service) for service in self.services}
        return {service: future.result() for service, future in futures.items()}

    def _ready(self, service: str) -> str:
        try:
            answer = self.upstreams.request(service, "GET", "/readyz", timeout=QUICK)
        except Problem as problem:
            return f"unavailable: {problem.status}"
        return "ok" if answer.status == 200 else f"unavailable: {answer.status}"
