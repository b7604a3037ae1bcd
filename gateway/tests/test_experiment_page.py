"""The experiment page: municipalities, kind and scale in the page's language, the linked
description, and the follow button (a form POST with CSRF) in fi, sv and en."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from gateway.session import SESSION_COOKIE
from stub_service import StubService

MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"
EXPERIMENT = "a4b1f7a0-3f6e-4c2e-9b1d-2e5b8f0c1d22"
DETAIL = f"/api/v1/experiments/{EXPERIMENT}"
LINKED = (
    '<p>Katso <a href="https://www.kunta.fi/kokeilu" rel="nofollow ugc noopener">'
    "https://www.kunta.fi/kokeilu</a></p>"
)


def experiment(**fields: Any) -> dict[str, Any]:
    return {
        "id": EXPERIMENT,
        "title": "Kirjastokokeilu",
        "summary": "Lyhyesti",
        "description": "Katso https://www.kunta.fi/kokeilu",
        "description_html": LINKED,
        "stage": "running",
        "kind": "pilot",
        "scale": "large",
        "municipality_codes": ["091", "049", "999"],
        "owners": [{"id": "0b7a3c1e-9d2f-4e8a-b6c5-1f2e3d4c5b6a", "name": "Olli"}],
        "evaluation": None,
        "published_at": "2026-01-02T10:00:00Z",
        "comment_count": 0,
        "follower_count": 1,
        "following": False,
        **fields,
    }


def csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("", ["Pilotti", "Suuri", "Espoo, Helsinki, 999", "Seuraajia: 1.", "seurataksesi"]),
        ("/sv", ["Pilot", "Stor", "Esbo, Helsingfors, 999", "Följare: 1.", "för att följa"]),
        ("/en", ["Pilot", "Large", "Espoo, Helsinki, 999", "Followers: 1.", "Sign in to follow"]),
    ],
)
def test_the_page_shows_places_kind_scale_and_the_linked_description(
    client: FlaskClient, services: dict[str, StubService], prefix: str, says: list[str]
) -> None:
    services["experiments"].answers[("GET", DETAIL)] = (200, experiment())
    page = client.get(f"{prefix}/experiments/{EXPERIMENT}").get_data(as_text=True)
    for text in says:
        assert text in page, text
    assert LINKED in page  # the service's rendering, as comments are shown
    # Signed out: an invitation to sign in instead of the button.
    assert f'action="{prefix}/experiments/{EXPERIMENT}/follow"' not in page


@pytest.mark.parametrize(
    ("prefix", "follow", "unfollow"),
    [
        ("", "Seuraa kokeilua", "Lopeta kokeilun seuraaminen"),
        ("/sv", "Följ försöket", "Sluta följa försöket"),
        ("/en", "Follow the experiment", "Stop following the experiment"),
    ],
)
def test_a_member_follows_and_unfollows_with_the_button(
    client: FlaskClient,
    make_token: Callable[..., str],
    services: dict[str, StubService],
    prefix: str,
    follow: str,
    unfollow: str,
) -> None:
    stub = services["experiments"]
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    stub.answers[("GET", DETAIL)] = (200, experiment())
    page = client.get(f"{prefix}/experiments/{EXPERIMENT}").get_data(as_text=True)
    assert f">{follow}</button>" in page
    token = csrf(page)

    refused = client.post(f"{prefix}/experiments/{EXPERIMENT}/follow", data={})
    assert refused.status_code in (400, 403)  # no CSRF token: nothing is sent on
    assert not [s for s in stub.seen if s.method == "POST"]

    stub.answers[("POST", f"{DETAIL}/followers")] = (201, {"following": True})
    answer = client.post(f"{prefix}/experiments/{EXPERIMENT}/follow", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{prefix}/experiments/{EXPERIMENT}#follow")
    [sent] = [s for s in stub.seen if s.method == "POST"]
    assert sent.path == f"{DETAIL}/followers"
    assert sent.headers["Authorization"].startswith("Bearer ")

    stub.answers[("GET", DETAIL)] = (200, experiment(following=True, follower_count=2))
    page = client.get(f"{prefix}/experiments/{EXPERIMENT}").get_data(as_text=True)
    assert f">{unfollow}</button>" in page and f">{follow}</button>" not in page
    stub.answers[("DELETE", f"{DETAIL}/followers/me")] = (200, {"following": False})
    answer = client.post(
        f"{prefix}/experiments/{EXPERIMENT}/unfollow", data={"csrf_token": csrf(page)}
    )
    assert answer.status_code == 303
    assert [s.path for s in stub.seen if s.method == "DELETE"] == [f"{DETAIL}/followers/me"]


def test_a_refused_follow_is_shown_on_the_page(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> None:
    stub = services["experiments"]
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    stub.answers[("GET", DETAIL)] = (200, experiment())
    token = csrf(client.get(f"/experiments/{EXPERIMENT}").get_data(as_text=True))
    stub.answers[("POST", f"{DETAIL}/followers")] = (
        409,
        {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "Draft."},
    )
    answer = client.post(f"/experiments/{EXPERIMENT}/follow", data={"csrf_token": token})
    assert answer.status_code == 409
    assert "Kirjastokokeilu" in answer.get_data(as_text=True)


def test_a_draft_has_no_follow_button(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    services["experiments"].answers[("GET", DETAIL)] = (200, experiment(published_at=None))
    page = client.get(f"/experiments/{EXPERIMENT}").get_data(as_text=True)
    assert "Seuraa kokeilua" not in page and 'id="follow"' not in page
