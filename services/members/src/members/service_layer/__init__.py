"""Use cases of the members service, each run in one transaction with its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from uskalla_events import EventSystem

from members.config import Settings
from members.service_layer.gatherings import Gatherings
from members.service_layer.intake import IntakeQueue
from members.service_layer.interests import Interests
from members.service_layer.membership import Membership
from members.service_layer.personal_data import PersonalData
from members.service_layer.registrations import Registrations
from members.service_layer.signin import SignIn


@dataclass
class Services:
    settings: Settings
    membership: Membership
    interests: Interests
    sign_in: SignIn
    gatherings: Gatherings
    registrations: Registrations
    personal_data: PersonalData
    intake: IntakeQueue

    @classmethod
    def build(cls, settings: Settings, events: EventSystem) -> Services:
        registrations = Registrations(events.outbox)
        interests = Interests(events.outbox)
        membership = Membership(settings, events.outbox, interests)
        sign_in = SignIn(settings, events.outbox)
        intake = IntakeQueue(
            {"join": membership.join, "sign_in": lambda s, data: sign_in.request(s, data["email"])},
            settings.intake_max_attempts,
        )
        return cls(
            settings=settings,
            membership=membership,
            interests=interests,
            sign_in=sign_in,
            gatherings=Gatherings(settings, events.outbox, registrations),
            registrations=registrations,
            personal_data=PersonalData(events.outbox, events.tables, registrations, intake),
            intake=intake,
        )


def services_of(runtime: Any) -> Services:
    services: Services = runtime.extra["services"]
    return services
