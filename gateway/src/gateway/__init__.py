"""The gateway: the single front door for web clients (routing, edge checks, composition)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from gateway.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    from gateway.app import build_app

    return build_app(config)
