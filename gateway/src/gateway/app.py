"""The gateway's Flask app: every /api/v1 path forwarded to its service after the edge checks."""

from __future__ import annotations

import urllib3
from flask import Flask, Response
from uskalla_kit import Problem, current_identity
from uskalla_kit.auth import TokenVerifier
from uskalla_kit.runtime import make_app, redis_check

from gateway.config import Settings
from gateway.proxy import Upstreams
from gateway.routes import service_for

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    upstreams = Upstreams(settings.services, settings.connect_timeout, settings.read_timeout)

    def service_ready(name: str):  # type: ignore[no-untyped-def]
        def check() -> None:
            answer = upstreams.request(
                name,
                "GET",
                "/readyz",
                body=None,
                headers={},
                timeout=urllib3.Timeout(connect=1.0, read=3.0),
            )
            if answer.status != 200:
                raise RuntimeError(f"{name} answered {answer.status}")

        return check

    checks = {name: service_ready(name) for name in settings.services}
    checks["redis"] = redis_check(settings.redis_url)
    app = make_app(
        "gateway",
        max_body_bytes=settings.max_body_bytes,
        verifier=TokenVerifier(
            settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        ),
        checks=checks,
    )
    app.extensions["gateway.settings"] = settings
    app.extensions["gateway.upstreams"] = upstreams

    @app.route("/api/v1/<path:rest>", methods=METHODS)
    def forward(rest: str) -> Response:
        from flask import request

        service = service_for(request.path)
        if service is None:
            raise Problem(404, "Not Found", "No such API path.")
        current_identity()  # a token that is present must be valid before anything is forwarded
        return upstreams.forward(service)

    return app
