"""Request ids: a sane X-Request-ID or a new one, returned, and carried into events and logs."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request
from uskalla_events.context import correlation_id

HEADER = "X-Request-ID"
SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def incoming_request_id() -> str:
    given = request.headers.get(HEADER, "")
    return given if SANE.match(given) else str(uuid.uuid4())


def init_app(app: Flask) -> None:
    @app.before_request
    def _take() -> None:
        g.request_id = incoming_request_id()
        g._correlation_token = correlation_id.set(g.request_id)

    @app.after_request
    def _give(response: Response) -> Response:
        if "request_id" in g:
            response.headers[HEADER] = g.request_id
        return response

    @app.teardown_request
    def _reset(exc: BaseException | None) -> None:
        token = g.pop("_correlation_token", None)
        if token is not None:
            correlation_id.reset(token)
