"""Liveness, readiness and request metrics for every process that serves HTTP (the metrics
are served on their own port: `uskalla_kit.metrics`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask, Response, g, jsonify, request
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import NotFound

Check = Callable[[], None]

REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"]
)
LATENCY = Histogram(
    "http_request_duration_seconds", "HTTP request latency", ["service", "endpoint"]
)


def init_app(app: Flask, service: str, checks: dict[str, Check]) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                check()
                results[name] = "ok"
            except Exception as exc:
                ok = False
                results[name] = f"unavailable: {type(exc).__name__}"
        return jsonify(status="ok" if ok else "unavailable", checks=results), 200 if ok else 503

    @app.get("/metrics")
    def metrics() -> Response:  # the public listener has none: see `uskalla_kit.metrics`
        raise NotFound()

    @app.before_request
    def _start() -> None:
        g._started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        REQUESTS.labels(service, request.method, endpoint, str(response.status_code)).inc()
        if "_started" in g:
            LATENCY.labels(service, endpoint).observe(time.perf_counter() - g._started)
        return response
