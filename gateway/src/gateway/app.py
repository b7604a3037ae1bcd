"""The gateway's Flask app: every /api/v1 path forwarded to its service after the edge checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from uskalla_kit import Identity, Problem
from uskalla_kit.auth import TokenVerifier
from uskalla_kit.metrics import metrics_listener
from uskalla_kit.runtime import make_app, redis_check
from werkzeug.routing import PathConverter

from gateway import session
from gateway.compose import GATEWAY_PATHS, Composer
from gateway.config import Settings
from gateway.edge import init_edge
from gateway.proxy import Upstreams
from gateway.routes import service_for

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ForwardedPath(PathConverter):
    """A path under /api/v1 but those the gateway answers itself: another method there is
    405 with the `Allow` of its own view (the methods the document lists), not a forward."""

    own = "|".join(re.escape(path.removeprefix("/api/v1/")) for path in GATEWAY_PATHS)
    regex = f"(?!(?:{own})$)[^/].*?"


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    upstreams = Upstreams(
        settings.services, settings.connect_timeout, settings.read_timeout, settings.pool_size
    )
    composer = Composer(upstreams, settings.internal_token, settings.openapi_cache_seconds)
    app = make_app(
        "gateway",
        max_body_bytes=settings.max_body_bytes,
        verifier=TokenVerifier(
            settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience
        ),
        checks={},
    )
    app.url_map.converters["forwarded"] = ForwardedPath
    app.extensions["gateway.settings"] = settings
    app.extensions["gateway.upstreams"] = upstreams
    app.extensions["gateway.composer"] = composer
    limiter = init_edge(app, settings)
    # With limits off (benchmarks, load tests) the views are not wrapped at all.
    api_limit: Callable[[Callable[..., Any]], Callable[..., Any]] = (
        limiter.shared_limit(settings.api_rate_limit, scope="api")
        if settings.rate_limits
        else _unlimited
    )
    app.after_request(session.finish)
    _replace_readiness(app, composer, settings)
    metrics_listener(app, settings.metrics_port)  # the public port answers 404 for /metrics

    @app.route("/api/v1/<forwarded:rest>", methods=METHODS)
    @api_limit
    def forward(rest: str) -> Response:
        service = service_for(request.path)
        if service is None:
            raise Problem(404, "Not Found", "No such API path.")
        authorization = session.api_authorization()  # 401/403 before anything is forwarded
        return upstreams.forward(service, authorization)

    @app.get("/api/v1/members/me/export")
    @api_limit
    def export() -> Response:
        session.api_authorization()
        identity = _caller()
        response = jsonify(composer.export(identity.member_id, g.request_id))
        response.headers["Cache-Control"] = "no-store"
        if request.args.get("download"):
            response.headers["Content-Disposition"] = 'attachment; filename="uskalla-my-data.json"'
        return response

    @app.get("/api/v1/openapi.json")
    @api_limit
    def merged_openapi() -> Response:
        return jsonify(composer.openapi())

    @app.get("/api/docs")
    def docs() -> str:
        from gateway.apidocs import anchor, operations

        document = composer.openapi()
        return render_template(
            "apidocs.html", doc=document, groups=operations(document), anchor=anchor
        )

    from gateway.ui import init_ui

    init_ui(app)
    return app


def _unlimited(view: Callable[..., Any]) -> Callable[..., Any]:
    return view


def _caller() -> Identity:
    from uskalla_kit import current_identity

    identity = current_identity() or session.session_identity()
    if identity is None:
        raise Problem(401, "Unauthorized", "Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    return identity


def _replace_readiness(app: Flask, composer: Composer, settings: Settings) -> None:
    """The gateway is ready when it can serve; each service's state is reported beside it.

    One unready service must not take the whole site (pages, other services' APIs) out of the
    load balancer, so only `?strict=1` (for deploy smoke tests) fails on an unready service.
    """
    broker = redis_check(settings.redis_url)

    def readyz() -> tuple[Response, int]:
        services = composer.readiness()
        try:
            broker()
            rate_limits = "ok"
        except Exception as exc:  # rate limits fail open; report it, stay ready
            rate_limits = f"unavailable: {type(exc).__name__}"
        all_ok = rate_limits == "ok" and all(v == "ok" for v in services.values())
        strict = request.args.get("strict") not in (None, "", "0", "false")
        status = 200 if all_ok or not strict else 503
        body = {
            "status": "ok" if all_ok else "degraded",
            "services": services,
            "checks": {"redis": rate_limits},
        }
        return jsonify(body), status

    app.view_functions["readyz"] = readyz
