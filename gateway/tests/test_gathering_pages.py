"""Past gatherings in the web UI: the list, and a gathering's page after the event."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from stub_service import StubService

GATHERING = "0f0e3a7c-6a51-4d3e-8f6a-1c2b3d4e5f60"
PUBLISHED = "a4b1f7a0-3f6e-4c2e-9b1d-2e5b8f0c1d22"
DRAFT = "b5c2a8b1-4a7f-4d3f-8c2e-3f6c9a1d2e33"
UNKNOWN = "c6d3b9c2-5b8a-4e4a-9d3f-4a7d0b2e3f44"


def past(**fields: Any) -> dict[str, Any]:
    return {
        "id": GATHERING,
        "title": "Tarinapaja Oulussa",
        "kind": "tarinapaja",
        "starts_at": "2026-03-02T10:00:00+00:00",
        "ends_at": "2026-03-02T13:00:00+00:00",
        "location": "Oulu",
        "status": "published",
        "registered": 12,
        "waitlisted": 0,
        "ended": True,
        "summary": "Opimme.",
        "summary_html": '<p>Opimme. <a href="https://x.fi" rel="nofollow ugc noopener">https://x.fi</a></p>',
        "materials": [{"title": "Diat", "url": "https://kuntaliitto.fi/diat.pdf"}],
        "experiment_ids": [PUBLISHED, DRAFT, UNKNOWN],
        "attended": 9,
    } | fields


def test_the_past_gatherings_page_lists_ended_ones_with_summaries(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    members = services["members"]
    cancelled = past(id=UNKNOWN, title="Peruttu foorumi", status="cancelled", attended=None)
    members.answers[("GET", "/api/v1/gatherings")] = (
        200,
        {"items": [past(), cancelled], "page": 1, "per_page": 20, "total": 41},
    )
    page = client.get("/gatherings/past").get_data(as_text=True)
    [asked] = [s for s in members.seen if s.path.startswith("/api/v1/gatherings")]
    assert "when=past" in asked.path and "per_page=20" in asked.path
    assert "Menneet tapahtumat" in page and "Tarinapaja Oulussa" in page
    assert '<a href="https://x.fi" rel="nofollow ugc noopener">' in page
    assert "Osallistui: 9" in page
    assert 'Peruttu foorumi</a> <span class="badge">Peruttu</span>' in page
    assert 'href="/gatherings/past?page=2"' in page  # 41 of them: three pages
    sv = client.get("/sv/gatherings/past").get_data(as_text=True)
    assert "Tidigare evenemang" in sv and "Deltog: 9" in sv and "Inställt" in sv
    assert 'href="/gatherings/past"' in client.get("/gatherings").get_data(as_text=True)


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("", ["Tapahtuman jälkeen", "9 / 12 ilmoittautuneesta", "Käsitellyt kokeilut"]),
        ("/sv", ["Efter evenemanget", "9 av 12 anmälda", "Försök som behandlades"]),
        ("/en", ["After the gathering", "9 of 12 registered", "Experiments discussed"]),
    ],
)
def test_a_past_gatherings_page_shows_what_it_left_behind(
    client: FlaskClient, services: dict[str, StubService], prefix: str, says: list[str]
) -> None:
    services["members"].answers[("GET", f"/api/v1/gatherings/{GATHERING}")] = (200, past())
    experiments = services["experiments"]
    experiments.answers[("GET", f"/api/v1/experiments/{PUBLISHED}")] = (
        200,
        {"id": PUBLISHED, "title": "Kirjastokokeilu", "published": True},
    )
    experiments.answers[("GET", f"/api/v1/experiments/{DRAFT}")] = (
        200,
        {"id": DRAFT, "title": "Luonnos", "published": False},
    )
    experiments.answers[("GET", f"/api/v1/experiments/{UNKNOWN}")] = (404, {"status": 404})
    page = client.get(f"{prefix}/gatherings/{GATHERING}").get_data(as_text=True)
    for text in says:
        assert text in page, text
    assert '<a href="https://kuntaliitto.fi/diat.pdf" rel="noopener">Diat</a>' in page
    assert f'href="{prefix}/experiments/{PUBLISHED}">Kirjastokokeilu</a>' in page
    assert "Luonnos" not in page and UNKNOWN not in page
    assert "gathering_register" not in page and "/register" not in page  # over: no registering


def test_a_cancelled_past_gathering_says_so_without_a_record(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    cancelled = past(status="cancelled", summary="", summary_html="", materials=[], attended=None)
    services["members"].answers[("GET", f"/api/v1/gatherings/{GATHERING}")] = (200, cancelled)
    page = client.get(f"/gatherings/{GATHERING}").get_data(as_text=True)
    assert "Tämä tapahtuma on peruttu." in page and "Tapahtuman jälkeen" not in page


def test_the_experiments_service_down_leaves_the_rest_of_the_page(
    make_settings: Callable[..., Any], services: dict[str, StubService]
) -> None:
    from gateway import create_app

    with socket.socket() as s:  # a port nothing listens on (bound, then released)
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    urls = {name: stub.url for name, stub in services.items()}
    urls["experiments"] = f"http://127.0.0.1:{closed}"
    client = create_app(make_settings(services=urls)).test_client()
    services["members"].answers[("GET", f"/api/v1/gatherings/{GATHERING}")] = (200, past())
    page = client.get(f"/gatherings/{GATHERING}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Opimme." in text and "Käsitellyt kokeilut" not in text
