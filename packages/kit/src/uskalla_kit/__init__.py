"""Flask service kit: problem+json, health, metrics, request ids, JSON logs, settings, JWT."""

from uskalla_kit.auth import (
    Identity,
    current_identity,
    no_such_member,
    require_identity,
)
from uskalla_kit.problems import Problem, json_body, validation_problem
from uskalla_kit.runtime import CommonSettings, Runtime, base_app, current_runtime, runtime_of

__all__ = [
    "CommonSettings",
    "Identity",
    "Problem",
    "Runtime",
    "base_app",
    "current_identity",
    "current_runtime",
    "json_body",
    "no_such_member",
    "require_identity",
    "runtime_of",
    "validation_problem",
]
