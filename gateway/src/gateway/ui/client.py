"""Server-side calls from the pages to the services, as the signed-in member (or anonymously)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, request
from uskalla_kit import Problem

from gateway import session
from gateway.proxy import Upstreams
from gateway.routes import service_for


@dataclass
class Answer:
    status: int
    data: Any
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def errors(self) -> dict[str, list[str]]:
        """Per-field messages of a problem answer ({"_schema": [detail]} when there are none)."""
        if isinstance(self.data, dict):
            errors = self.data.get("errors")
            if isinstance(errors, dict) and errors:
                return {k: [str(m) for m in v] for k, v in errors.items()}
            if self.data.get("detail"):
                return {"_schema": [str(self.data["detail"])]}
        return {"_schema": [f"HTTP {self.status}"]} if not self.ok else {}

    def item(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default) if isinstance(self.data, dict) else default


def call(
    method: str,
    path: str,
    *,
    body: Any = None,
    params: dict[str, Any] | None = None,
    accept: str = "application/json",
) -> Answer:
    """Call a public API path on its service, with the session's token; 502/504 propagate."""
    upstreams: Upstreams = current_app.extensions["gateway.upstreams"]
    service = service_for(path)
    if service is None:
        raise Problem(404, "Not Found", f"No service answers {path}.")
    headers = {
        "Accept": accept,
        "X-Request-ID": g.request_id,
        "X-Forwarded-For": request.remote_addr or "",
        "Accept-Language": request.headers.get("Accept-Language", ""),
    }
    token = session.session_token()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    clean = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
    target = path + ("?" + urlencode(clean, doseq=True) if clean else "")
    answer = upstreams.request(service, method, target, body=payload, headers=headers)
    data: Any = None
    content_type = answer.headers.get("Content-Type", "")
    if "json" in content_type and answer.data:
        try:
            data = json.loads(answer.data)
        except ValueError:
            data = None
    return Answer(answer.status, data, dict(answer.headers.items()), answer.data)


def get(path: str, **params: Any) -> Answer:
    return call("GET", path, params=params)


def items_of(answer: Answer) -> list[Any]:
    """The list in an answer: a page's `items`, or a bare list; empty when it failed."""
    if not answer.ok:
        return []
    if isinstance(answer.data, list):
        return answer.data
    found = answer.item("items", [])
    return found if isinstance(found, list) else []
