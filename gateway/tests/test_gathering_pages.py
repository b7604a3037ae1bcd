"""Past gatherings in the web UI: the list, and a gathering's page after the event."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from gateway.session import SESSION_COOKIE
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


MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"
OTHER = "6b1d9f6f-3a5c-4d2c-8b4a-7a2a1d4f3e22"


@pytest.fixture
def coordinating(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> tuple[StubService, str]:
    """A coordinator's session on a past gathering with one registered member and one waiting;
    the members stub, and the page's CSRF token."""
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER, role="coordinator"))
    members = services["members"]
    members.answers[("GET", f"/api/v1/gatherings/{GATHERING}")] = (200, past())
    members.answers[("GET", f"/api/v1/gatherings/{GATHERING}/registrations")] = (
        200,
        {
            "items": [
                {
                    "member_id": MEMBER,
                    "name": "Maija",
                    "email": "m@x.fi",
                    "status": "registered",
                    "attended": True,
                },
                {
                    "member_id": OTHER,
                    "name": "Olli",
                    "email": "o@x.fi",
                    "status": "waitlisted",
                    "attended": None,
                },
            ],
            "page": 1,
            "per_page": 100,
            "total": 2,
        },
    )
    page = client.get(f"/coordinators/gatherings/{GATHERING}/after").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page)
    assert token is not None
    return members, token.group(1)


def test_coordinators_mark_attendance_on_a_page(
    client: FlaskClient, coordinating: tuple[StubService, str]
) -> None:
    members, token = coordinating
    page = client.get(f"/coordinators/gatherings/{GATHERING}/after").get_data(as_text=True)
    assert f'name="attended" value="{MEMBER}" checked' in page
    assert OTHER not in page  # the waitlisted had no place
    assert "Osallistui: 9 / 12 ilmoittautuneesta" in page
    assert "Opimme." in page and "Diat https://kuntaliitto.fi/diat.pdf" in page
    members.answers[("PUT", f"/api/v1/gatherings/{GATHERING}/attendance")] = (200, {})
    answer = client.post(
        f"/coordinators/gatherings/{GATHERING}/after/attendance",
        data={"csrf_token": token, "attended": [MEMBER, MEMBER]},
    )
    assert answer.status_code == 303 and "notice=saved" in answer.headers["Location"]
    [put] = [s for s in members.seen if s.method == "PUT"]
    assert json.loads(put.body) == {"attended": [MEMBER]}


def test_coordinators_write_the_record_on_a_page(
    client: FlaskClient, coordinating: tuple[StubService, str]
) -> None:
    members, token = coordinating
    members.answers[("PUT", f"/api/v1/gatherings/{GATHERING}/record")] = (200, {})
    form = {
        "csrf_token": token,
        "summary": "  Hyvä päivä.  ",
        "materials": "Diat ja muistio https://kuntaliitto.fi/diat.pdf\n\nTallenne\thttps://v.fi/1",
        "experiments": f"https://uskalla.test/experiments/{PUBLISHED}\n{DRAFT.upper()}\n{PUBLISHED}",
    }
    answer = client.post(f"/coordinators/gatherings/{GATHERING}/after/record", data=form)
    assert answer.status_code == 303
    [put] = [s for s in members.seen if s.method == "PUT"]
    assert json.loads(put.body) == {
        "summary": "Hyvä päivä.",
        "materials": [
            {"title": "Diat ja muistio", "url": "https://kuntaliitto.fi/diat.pdf"},
            {"title": "Tallenne", "url": "https://v.fi/1"},
        ],
        "experiment_ids": [PUBLISHED, DRAFT],
    }


def test_a_bad_record_form_is_shown_again_with_its_errors(
    client: FlaskClient, coordinating: tuple[StubService, str]
) -> None:
    members, token = coordinating
    form = {"csrf_token": token, "summary": "S", "materials": "vain otsikko", "experiments": "x"}
    answer = client.post(f"/coordinators/gatherings/{GATHERING}/after/record", data=form)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'href="#f-materials"' in page and 'href="#f-experiments"' in page
    assert "vain otsikko" in page  # what was written stays
    assert not [s for s in members.seen if s.method == "PUT"]
    # The service's own per-field refusal (nested names) lands on the form's field.
    members.answers[("PUT", f"/api/v1/gatherings/{GATHERING}/record")] = (
        422,
        {"status": 422, "errors": {"materials.0.url": ["Must be an https address."]}},
        {"Content-Type": "application/problem+json"},
    )
    form["materials"], form["experiments"] = "Diat http://k.fi/d", ""
    refused = client.post(f"/coordinators/gatherings/{GATHERING}/after/record", data=form)
    assert refused.status_code == 422 and 'href="#f-materials"' in refused.get_data(as_text=True)
