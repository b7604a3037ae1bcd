"""The members service: the MeUskaltajat network's members, sign-in, preferences, gatherings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from members.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    from members.bootstrap import build_runtime

    return build_runtime(config).create_app()
