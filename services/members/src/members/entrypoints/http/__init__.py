"""The members HTTP API: one blueprint per resource, rate limits on the public forms."""

from __future__ import annotations

from flask import Flask

from members.config import Settings
from members.entrypoints.http import auth, coordinators, gatherings, internal, members
from members.entrypoints.http.ratelimits import apply_rate_limits


def register(app: Flask, settings: Settings) -> None:
    for module in (members, auth, coordinators, gatherings, internal):
        app.register_blueprint(module.bp)
    apply_rate_limits(app, settings)
