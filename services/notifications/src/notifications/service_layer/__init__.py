"""Use cases of the notifications service, each run in one transaction (a view's, an event
handler's, or one of their own for sending)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from uskalla_events import Database, EventSystem

from notifications.adapters.ratelimit import RateLimiter
from notifications.config import Settings
from notifications.service_layer.bounces import BounceReceiver
from notifications.service_layer.deliveries import Deliveries
from notifications.service_layer.digests import Digests
from notifications.service_layer.fanouts import Fanouts
from notifications.service_layer.follows import Follows
from notifications.service_layer.network import Network
from notifications.service_layer.newsletters import Newsletters
from notifications.service_layer.recipients import Recipients
from notifications.service_layer.reminders import Reminders

Enqueue = Callable[[str, float], None]


@dataclass
class Services:
    settings: Settings
    deliveries: Deliveries
    fanouts: Fanouts
    newsletters: Newsletters
    recipients: Recipients
    network: Network
    bounces: BounceReceiver
    reminders: Reminders
    follows: Follows
    digests: Digests

    @classmethod
    def build(
        cls,
        settings: Settings,
        db: Database,
        enqueue_send: Enqueue,
        enqueue_fanout: Enqueue,
        events: EventSystem,
    ) -> Services:
        deliveries = Deliveries(settings, db, enqueue_send, events)
        fanouts = Fanouts(
            settings,
            db,
            deliveries,
            enqueue_fanout,
            RateLimiter(settings.common.redis_url, settings.list_rate),
        )
        network = Network(deliveries, fanouts)
        return cls(
            settings=settings,
            deliveries=deliveries,
            fanouts=fanouts,
            newsletters=Newsletters(deliveries, fanouts),
            recipients=Recipients(deliveries),
            network=network,
            bounces=BounceReceiver(settings, db, events),
            reminders=Reminders(settings, db, network),
            follows=Follows(settings, db, deliveries),
            digests=Digests(settings, db, deliveries),
        )


def services_of(runtime: Any) -> Services:
    services: Services = runtime.extra["services"]
    return services
