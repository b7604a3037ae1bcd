"""Gateway tests: the real gateway app in front of real (stub) HTTP services and real Redis."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

# pytest names this directory's modules `gateway.tests.*` and, finding no such package, may
# leave a namespace module called `gateway` behind: put the real package in its place.
if not hasattr(sys.modules.get("gateway"), "create_app"):
    _tests = sys.modules.pop("gateway", None)
    importlib.import_module("gateway")
sys.path.insert(0, str(Path(__file__).parent))

from stub_service import StubService

SERVICES = ("members", "experiments", "notifications")
INTERNAL = "test-internal-token"


@pytest.fixture(scope="session")
def stubs() -> Iterator[dict[str, StubService]]:
    started = {name: StubService(name).start() for name in SERVICES}
    yield started
    for stub in started.values():
        stub.stop()


@pytest.fixture
def services(stubs: dict[str, StubService]) -> dict[str, StubService]:
    for stub in stubs.values():
        stub.reset()
    return stubs


@pytest.fixture
def make_settings(
    services: dict[str, StubService], jwt_keys: tuple[Path, Path], redis_url: str
) -> Callable[..., Any]:
    from gateway.config import Settings

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "services": {name: stub.url for name, stub in services.items()},
            "redis_url": redis_url,
            "jwt_public_key": jwt_keys[1].read_text(),
            "jwt_issuer": "uskalla-members",
            "jwt_audience": "uskalla",
            "internal_token": INTERNAL,
            "connect_timeout": 0.5,
            "read_timeout": 0.5,
            "rate_limits": False,
            "cors_origins": ("https://partner.example",),
            "openapi_cache_seconds": 0.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def app(make_settings: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Flask:
    from gateway import create_app

    monkeypatch.setenv("USKALLA_ENV", "test")
    return create_app(make_settings())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
