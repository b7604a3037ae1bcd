"""The notifications service: every e-mail the MeUskaltajat network sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from notifications.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    from notifications.bootstrap import build_runtime

    return build_runtime(config).create_app()
