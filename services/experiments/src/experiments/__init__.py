"""The experiments service: municipal experiments, their evaluations and comments."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from experiments.config import Settings


def create_app(config: Settings | None = None) -> Flask:
    from experiments.bootstrap import build_runtime

    return build_runtime(config).create_app()
