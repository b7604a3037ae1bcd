"""Real objects for path ids: a member's draft and published experiment, a comment, gatherings
(draft and published) and a newsletter, made through the public API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .system import Member, System


@dataclass(frozen=True)
class World:
    owner: Member  # owns the experiments and wrote the comment
    other: Member  # a second, unrelated member
    coordinator: Member
    draft_experiment: str
    published_experiment: str
    comment: str
    draft_gathering: str
    published_gathering: str
    newsletter: str


def _created(answer: object, status: int = 201) -> str:
    assert getattr(answer, "status_code", None) == status, getattr(answer, "text", answer)
    return str(answer.json()["id"])  # type: ignore[attr-defined]


def experiment(system: System, owner: Member, title: str) -> str:
    return _created(
        system.api(
            "POST",
            "/experiments",
            headers=owner.auth,
            json={
                "title": title,
                "summary": "Kokeillaan asiointia chatissa.",
                "kind": "experiment",
                "scale": "small",
                "themes": ["digital-municipality"],
                "municipality_codes": ["049"],
            },
        )
    )


def gathering(system: System, coordinator: Member, title: str) -> str:
    starts = datetime.now(UTC) + timedelta(days=30)
    return _created(
        system.api(
            "POST",
            "/gatherings",
            headers=coordinator.auth,
            json={
                "title": title,
                "kind": "forum",
                "description": "Kokeilufoorumi",
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "location": "Espoo",
                "capacity": 50,
                "language": "fi",
            },
        )
    )


def build_world(system: System, tag: str) -> World:
    owner = system.member(f"owner.{tag}@example.fi", f"Olli Omistaja {tag}")
    other = system.member(f"other.{tag}@example.fi", f"Toini Toinen {tag}")
    coordinator = system.coordinator()
    draft = experiment(system, owner, "Luonnos")
    published = experiment(system, owner, "Julkaistu kokeilu")
    answer = system.api("POST", f"/experiments/{published}/publish", headers=owner.auth)
    assert answer.status_code == 200, answer.text
    comment = _created(
        system.api(
            "POST",
            f"/experiments/{published}/comments",
            headers=owner.auth,
            json={"body": "Hyvä kokeilu!"},
        )
    )
    draft_gathering = gathering(system, coordinator, "Luonnostapaaminen")
    published_gathering = gathering(system, coordinator, "Foorumi")
    answer = system.api(
        "POST", f"/gatherings/{published_gathering}/publish", headers=coordinator.auth
    )
    assert answer.status_code == 200, answer.text
    newsletter = _created(
        system.api(
            "POST",
            "/newsletters",
            headers=coordinator.auth,
            json={"subject": "Uutiskirje", "body": "# Hei\n\nUutisia.", "language": "all"},
        )
    )
    return World(
        owner,
        other,
        coordinator,
        draft,
        published,
        comment,
        draft_gathering,
        published_gathering,
        newsletter,
    )
