"""Use cases of the experiment registry: each one transaction, its events into the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uskalla_events import EventSystem

from experiments.config import Settings
from experiments.service_layer.authors import Authors
from experiments.service_layer.comments import Comments
from experiments.service_layer.experiments import Experiments
from experiments.service_layer.follows import Follows
from experiments.service_layer.opendata import OpenData


@dataclass
class Services:
    settings: Settings
    experiments: Experiments
    comments: Comments
    open_data: OpenData
    authors: Authors
    follows: Follows

    @classmethod
    def build(cls, settings: Settings, events: EventSystem) -> Services:
        return cls(
            settings=settings,
            experiments=Experiments(events.outbox),
            comments=Comments(events.outbox),
            open_data=OpenData(settings.common.public_base_url),
            authors=Authors(),
            follows=Follows(),
        )


def services_of(runtime: Any) -> Services:
    services: Services = runtime.extra["services"]
    return services
