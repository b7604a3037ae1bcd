"""The newsletter archive's pages and the coordinator's scheduling, against stub services."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from gateway.session import SESSION_COOKIE
from gateway.ui.pages_archive import MAIL_CSP
from stub_service import StubService

LETTER = "b7e1c2d3-0000-4000-8000-0000000000aa"
MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"
MAIL = '<!DOCTYPE html><html lang="sv"><body><td style="padding: 24px;">Hej</td></body></html>'


@pytest.mark.parametrize(
    ("prefix", "language", "title"),
    [
        ("", "fi", "Uutiskirjearkisto"),
        ("/sv", "sv", "Nyhetsbrevsarkiv"),
        ("/en", "en", "Newsletter archive"),
    ],
)
def test_the_archive_lists_and_shows_letters_as_sent(
    client: FlaskClient, services: dict[str, StubService], prefix: str, language: str, title: str
) -> None:
    notifications = services["notifications"]
    notifications.answers[("GET", "/api/v1/newsletters/archive")] = (
        200,
        {
            "items": [
                {
                    "id": LETTER,
                    "subject": "Kevään uutiset",
                    "language": "all",
                    "preheader": "Hei verkosto",
                    "sent_at": "2026-03-01T10:00:00+00:00",
                }
            ],
            "page": 1,
            "per_page": 20,
            "total": 1,
        },
    )
    notifications.answers[("GET", f"/api/v1/newsletters/archive/{LETTER}")] = (
        200,
        {"id": LETTER, "subject": "Kevään uutiset", "html": MAIL, "text": "Hej"},
    )
    page = client.get(f"{prefix}/newsletters").get_data(as_text=True)
    for text in (title, "Kevään uutiset", "Hei verkosto", "1.3.2026"):
        assert text in page, text
    assert f'href="{prefix}/newsletters/{LETTER}"' in page
    # Every page links to the archive.
    assert f'href="{prefix}/newsletters"' in client.get(f"{prefix}/").get_data(as_text=True)

    letter = client.get(f"{prefix}/newsletters/{LETTER}")
    assert letter.status_code == 200 and letter.mimetype == "text/html"
    assert letter.get_data(as_text=True) == MAIL  # the document itself, as sent
    assert letter.headers["Content-Security-Policy"] == MAIL_CSP
    assert (
        notifications.seen[-1].path == f"/api/v1/newsletters/archive/{LETTER}?language={language}"
    )


def test_a_letter_not_in_the_archive_is_a_404_page(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["notifications"].answers[("GET", f"/api/v1/newsletters/archive/{LETTER}")] = (
        404,
        {"status": 404, "title": "Not found", "detail": "No such newsletter in the archive."},
    )
    answer = client.get(f"/en/newsletters/{LETTER}")
    assert answer.status_code == 404 and "text/html" in answer.content_type


def test_a_coordinator_schedules_and_unschedules(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    notifications = services["notifications"]
    letter = {
        "id": LETTER,
        "subject": "Kevät",
        "body": "Hei",
        "status": "draft",
        "language": "all",
        "public": False,
        "send_at": None,
    }
    notifications.answers[("GET", f"/api/v1/newsletters/{LETTER}")] = (200, letter)
    path = f"/api/v1/newsletters/{LETTER}/schedule"
    notifications.answers[("POST", path)] = (200, letter | {"status": "scheduled"})
    notifications.answers[("DELETE", path)] = (200, letter)
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER, role="coordinator"))
    page_path = f"/en/coordinators/newsletters/{LETTER}"
    page = client.get(page_path).get_data(as_text=True)
    for made in ('name="send_at"', 'name="region_codes"', "Uusimaa", 'name="public"'):
        assert made in page, made
    token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]

    answer = client.post(
        f"{page_path}/schedule", data={"csrf_token": token, "send_at": "2030-06-01T09:30"}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{page_path}?notice=scheduled"
    scheduled = notifications.seen[-1]
    assert (scheduled.method, scheduled.path) == ("POST", path)
    assert json.loads(scheduled.body) == {"send_at": "2030-06-01T06:30:00Z"}  # Helsinki in summer

    answer = client.post(
        f"{page_path}/schedule", data={"csrf_token": token, "action": "unschedule"}
    )
    assert answer.headers["Location"] == f"{page_path}?notice=unscheduled"
    assert notifications.seen[-1].method == "DELETE"

    notifications.answers[("POST", path)] = (
        422,
        {
            "status": 422,
            "title": "Invalid",
            "errors": {"send_at": ["The time must be in the future."]},
        },
        {"Content-Type": "application/problem+json"},
    )
    refused = client.post(
        f"{page_path}/schedule", data={"csrf_token": token, "send_at": "2020-01-01T10:00"}
    )
    assert refused.status_code == 422
    assert "The time must be in the future." in refused.get_data(as_text=True)
