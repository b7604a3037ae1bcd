"""The web UI against stub services: languages, forms, errors shown per field, charts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from gateway.session import SESSION_COOKIE
from stub_service import StubService

MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"
EXPERIMENT = "a4b1f7a0-3f6e-4c2e-9b1d-2e5b8f0c1d22"
LOCALES = Path(__file__).parents[1] / "src" / "gateway" / "ui" / "locales"


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def test_catalogs_have_the_same_keys_and_no_empty_texts() -> None:
    catalogs = {p.stem: json.loads(p.read_text()) for p in LOCALES.glob("*.json")}
    assert set(catalogs) == {"fi", "sv", "en"}
    assert catalogs["fi"].keys() == catalogs["sv"].keys() == catalogs["en"].keys()
    assert all(text.strip() for catalog in catalogs.values() for text in catalog.values())


@pytest.mark.parametrize(
    ("prefix", "lang", "text"),
    [
        ("", "fi", "Liity verkostoon"),
        ("/sv", "sv", "Gå med i nätverket"),
        ("/en", "en", "Join the network"),
    ],
)
def test_pages_speak_each_language(client: FlaskClient, prefix: str, lang: str, text: str) -> None:
    for path in ("/", "/join", "/sign-in", "/experiments", "/gatherings", "/statistics"):
        answer = client.get(prefix + path if path != "/" else (prefix + "/" if prefix else "/"))
        assert answer.status_code == 200, (prefix, path)
        page = answer.get_data(as_text=True)
        assert f'<html lang="{lang}">' in page
        assert 'class="skip-link" href="#main"' in page and 'id="main"' in page
        assert "<script" not in page.replace('<script src="/static/app.js" defer></script>', "")
        assert " style=" not in page  # CSP: no inline styles
    assert text in client.get(prefix + "/join").get_data(as_text=True)


def test_every_form_control_has_a_label(client: FlaskClient) -> None:
    page = client.get("/join").get_data(as_text=True)
    controls = re.findall(r'<(?:input|select|textarea)[^>]*id="([^"]+)"', page)
    assert controls
    for control in controls:
        assert f'for="{control}"' in page, control


def test_join_posts_to_members_and_shows_the_next_step(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("POST", "/api/v1/members")] = (
        202,
        {"status": "confirmation_sent"},
    )
    token = csrf(client, "/sv/join")
    answer = client.post(
        "/sv/join",
        data={
            "csrf_token": token,
            "name": "Maija",
            "email": "maija@example.fi",
            "organisation": "Espoo",
            "municipality_code": "049",
            "newsletter": "on",
            "consent": "on",
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/sv/join/sent"
    sent = next(s for s in services["members"].seen if s.path == "/api/v1/members")
    body = json.loads(sent.body)
    assert body["language"] == "sv"
    assert body["consent"] is True and body["newsletter"] is True and body["invitations"] is False
    assert body["municipality_code"] == "049" and body["title"] is None


def test_field_errors_from_the_service_are_shown_by_each_field(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("POST", "/api/v1/members")] = (
        422,
        {
            "status": 422,
            "title": "Validation failed",
            "errors": {"email": ["Not a valid email address."]},
        },
        {"Content-Type": "application/problem+json"},
    )
    answer = client.post("/join", data={"csrf_token": csrf(client, "/join"), "email": "nope"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'role="alert"' in page and 'href="#f-email"' in page
    assert 'id="f-email-error"' in page and 'aria-invalid="true"' in page
    assert 'value="nope"' in page  # what was typed is kept


def test_confirm_page_only_confirms_on_the_button(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["members"].answers[("POST", "/api/v1/members/confirm")] = (
        200,
        {"id": MEMBER, "email": "m@example.fi"},
    )
    page = client.get("/confirm?token=tok123")
    assert page.status_code == 200 and b'value="tok123"' in page.data
    assert not [s for s in services["members"].seen if s.path == "/api/v1/members/confirm"]
    answer = client.post(
        "/confirm", data={"csrf_token": csrf(client, "/confirm"), "token": "tok123"}
    )
    assert answer.status_code == 200
    assert "Tervetuloa verkostoon" in answer.get_data(as_text=True)


def test_signed_in_pages_ask_to_sign_in(client: FlaskClient) -> None:
    for path in ("/me", "/experiments/new", "/coordinators"):
        answer = client.get(path)
        assert answer.status_code == 401
        assert "Kirjaudu sisään" in answer.get_data(as_text=True)


def test_coordinator_pages_are_for_coordinators(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    assert client.get("/coordinators/newsletters").status_code == 403
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER, role="coordinator"))
    services["notifications"].answers[("GET", "/api/v1/newsletters")] = (
        200,
        {"items": [{"id": EXPERIMENT, "subject": "Kevät", "status": "sent"}], "total": 1},
    )
    page = client.get("/coordinators/newsletters").get_data(as_text=True)
    assert "Kevät" in page and "Lähetetty" in page


def test_experiment_detail_with_comments_and_the_rules(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> None:
    services["experiments"].answers[("GET", f"/api/v1/experiments/{EXPERIMENT}")] = (
        200,
        {
            "id": EXPERIMENT,
            "title": "Kirjastokokeilu",
            "summary": "Lyhyesti",
            "stage": "evaluated",
            "kind": "experiment",
            "owners": [{"id": MEMBER, "name": "Maija"}],
            "evaluation": {"outcome": "failed", "rating": 4, "lessons": "Opimme paljon"},
            "published_at": "2026-01-02T10:00:00Z",
            "comment_count": 1,
        },
    )
    services["experiments"].answers[("GET", f"/api/v1/experiments/{EXPERIMENT}/comments")] = (
        200,
        {
            "items": [
                {
                    "id": MEMBER,
                    "author": {"id": MEMBER, "name": "Maija"},
                    "body": "Hei <b>",
                    "body_html": "<p>Hei &lt;b&gt;</p>",
                    "created_at": "2026-01-03T10:00:00Z",
                    "edited_at": None,
                }
            ]
        },
    )
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    page = client.get(f"/experiments/{EXPERIMENT}").get_data(as_text=True)
    assert "Kirjastokokeilu" in page and "Epäonnistui" in page and "Opimme paljon" in page
    assert "<p>Hei &lt;b&gt;</p>" in page
    assert "HTML-merkintöjä ei sallita" in page and 'aria-describedby="f-body-hint"' in page
    assert "Kokeilun hallinta" in page  # the owner sees the owner's tools


def test_statistics_are_drawn_as_svg_with_a_table(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    services["experiments"].answers[("GET", "/api/v1/experiments/stats")] = (
        200,
        {
            "total": 5,
            "by_theme": {"digital-municipality": 3, "innovative-procurement": 2},
            "by_stage": [{"stage": "running", "count": 4}, {"stage": "idea", "count": 1}],
            "by_outcome": {"failed": 2},
            "by_start_year": {"2025": 2, "2024": 3},
        },
    )
    services["experiments"].answers[("GET", "/api/v1/themes")] = (
        200,
        {
            "items": [
                {
                    "slug": "digital-municipality",
                    "name_fi": "Digikunta",
                    "name_sv": "D",
                    "name_en": "D",
                }
            ]
        },
    )
    page = client.get("/statistics").get_data(as_text=True)
    assert page.count('<svg class="chart"') == 4
    assert 'role="img"' in page and "Digikunta" in page and "Käynnissä" in page
    assert page.index(">2024<") < page.index(">2025<")
    assert "<table>" in page


def test_my_data_download_is_the_merged_export(
    client: FlaskClient, make_token: Callable[..., str], services: dict[str, StubService]
) -> None:
    for name, stub in services.items():
        stub.answers[("GET", f"/internal/v1/members/{MEMBER}/export")] = (200, {"name": name})
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    answer = client.get("/me/export")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(answer.data)["experiments"] == {"name": "experiments"}


def test_unknown_page_is_a_friendly_404(client: FlaskClient) -> None:
    answer = client.get("/en/no-such-page")
    assert answer.status_code == 404
    assert "Page not found" in answer.get_data(as_text=True)


PAGES = [
    "/",
    "/join",
    "/join/sent",
    "/confirm?token=t",
    "/sign-in",
    "/sign-in/sent",
    "/sign-in/callback?token=t",
    "/unsubscribe?token=t",
    "/experiments",
    "/experiments?q=kirjasto&theme=digital-municipality&page=2",
    "/experiments/new",
    f"/experiments/{EXPERIMENT}",
    f"/experiments/{EXPERIMENT}/edit",
    f"/experiments/{EXPERIMENT}/evaluation",
    "/gatherings",
    "/gatherings/past",
    f"/gatherings/{EXPERIMENT}",
    "/me",
    "/me/delete",
    "/statistics",
    "/newsletters",
    "/coordinators",
    "/coordinators/moderation",
    "/coordinators/gatherings",
    "/coordinators/gatherings/new",
    f"/coordinators/gatherings/{EXPERIMENT}",
    f"/coordinators/gatherings/{EXPERIMENT}/registrations",
    f"/coordinators/gatherings/{EXPERIMENT}/after",
    "/coordinators/newsletters",
    "/coordinators/newsletters/new",
    f"/coordinators/newsletters/{EXPERIMENT}",
    "/coordinators/members",
    "/coordinators/suppressions",
    "/api/docs",
]


@pytest.mark.parametrize("prefix", ["", "/sv", "/en"])
def test_every_page_renders_for_a_coordinator(
    client: FlaskClient, make_token: Callable[..., str], prefix: str
) -> None:
    """Against services that answer with unexpected shapes, pages still render (never a 500)."""
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER, role="coordinator"))
    for path in PAGES:
        full = path if path.startswith("/api/") else prefix + path
        answer = client.get(full)
        assert answer.status_code == 200, (full, answer.status_code)


@pytest.mark.parametrize(
    ("prefix", "says", "not_said"),
    [
        ("", ["Omat kommenttisi poistetaan", "kunnan julkisena tietona", "perutaan"], "nimettöm"),
        ("/sv", ["Dina egna kommentarer raderas", "offentliga", "avbokas"], "anonym"),
        ("/en", ["Your own comments are deleted", "public record", "cancelled"], "anonymis"),
    ],
)
def test_the_erasure_page_says_what_happens(
    client: FlaskClient,
    make_token: Callable[..., str],
    prefix: str,
    says: list[str],
    not_said: str,
) -> None:
    """As the services do it: comments deleted, experiments kept without their owner,
    registrations cancelled, details removed, sent mail not recalled."""
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    page = client.get(f"{prefix}/me/delete").get_data(as_text=True)
    for text in says:
        assert text in page, text
    assert not_said not in page.lower()


def test_personal_answers_are_never_cached(
    client: FlaskClient, make_token: Callable[..., str]
) -> None:
    for path in ("/confirm?token=t", "/unsubscribe?token=t", "/sign-in/callback?token=t"):
        client.get("/")  # a CSRF cookie already, so no Set-Cookie decides it
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    public = client.get("/api/v1/themes")
    assert public.headers.get("Cache-Control") != "no-store"  # nobody's own data
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    for path in ("/", "/experiments", "/me", "/me/delete", "/api/v1/members/me", "/api/v1/themes"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    with client.get("/static/app.css") as static:
        assert static.headers.get("Cache-Control") != "no-store"


#: Paths a browser could be sent to that look like another site once a link repeats them.
OFF_SITE = [
    "/sv//evil.example",
    "/en//x",
    "///x",
    "/sv/\\evil",
    "/sv/\\/evil.example",
    "/sv/\t/evil.example",
    "/en/%09/evil.example",
    "/sv/%5C%5Cevil.example",
]


@pytest.mark.parametrize("path", OFF_SITE)
def test_no_link_on_a_page_leads_off_the_site(client: FlaskClient, path: str) -> None:
    from urllib.parse import quote, unquote

    decoded, raw = unquote(path), quote(path, safe="/%\\")
    answer = client.get("/", environ_overrides={"PATH_INFO": decoded, "RAW_URI": raw})
    assert answer.status_code in (400, 404)
    page = answer.get_data(as_text=True)
    links = re.findall(r'(?:href|action|src)="([^"]*)"', page)
    assert links
    for link in links:
        seen = re.sub(r"[\t\n\r]", "", link)  # as a browser reads a URL
        assert seen.startswith(("/", "#")), (path, link)
        assert not seen.startswith(("//", "/\\")), (path, link)


SUPPRESSION = "c1d2e3f4-0000-4000-8000-00000000abcd"


@pytest.mark.parametrize(
    ("prefix", "reason", "lifted"),
    [
        ("", "Pysyvä palautus", "Esto poistettu"),
        ("/sv", "Permanent studs", "Spärren är hävd"),
        ("/en", "Hard bounce", "The suppression is lifted"),
    ],
)
def test_coordinators_see_and_lift_suppressions(
    client: FlaskClient,
    make_token: Callable[..., str],
    services: dict[str, StubService],
    prefix: str,
    reason: str,
    lifted: str,
) -> None:
    notifications = services["notifications"]
    notifications.answers[("GET", "/api/v1/suppressions")] = (
        200,
        {
            "items": [
                {
                    "id": SUPPRESSION,
                    "email": "poissa@example.fi",
                    "member_id": MEMBER,
                    "reason": "hard_bounce",
                    "since": "2026-03-01T10:00:00+00:00",
                    "bounces": 2,
                    "last_reason": "550 5.1.1 <address>: user unknown",
                }
            ],
            "total": 1,
        },
    )
    notifications.answers[("GET", "/api/v1/bounces/unread")] = (
        200,
        {"items": [{"subject": "Olen lomalla", "mail_from": "x@example.fi"}], "total": 1},
    )
    notifications.answers[("DELETE", f"/api/v1/suppressions/{SUPPRESSION}")] = (204, None)
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    assert client.get(f"{prefix}/coordinators/suppressions").status_code == 403
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER, role="coordinator"))
    assert f'href="{prefix}/coordinators/suppressions"' in client.get(
        f"{prefix}/coordinators"
    ).get_data(as_text=True)
    page = client.get(f"{prefix}/coordinators/suppressions").get_data(as_text=True)
    for text in ("poissa@example.fi", reason, "1.3.2026", "550 5.1.1", "Olen lomalla"):
        assert text in page, text
    action = f"{prefix}/coordinators/suppressions/{SUPPRESSION}/lift"
    assert f'action="{action}"' in page
    assert client.post(action).status_code == 403  # no CSRF token: nothing lifted
    assert not [s for s in notifications.seen if s.method == "DELETE"]
    answer = client.post(action, data={"csrf_token": csrf(client, f"{prefix}/coordinators")})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"{prefix}/coordinators/suppressions?notice=lifted"
    [lift] = [s for s in notifications.seen if s.method == "DELETE"]
    assert lift.path == f"/api/v1/suppressions/{SUPPRESSION}"
    assert lifted in client.get(answer.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("prefix", "says"),
    [
        ("", "Viestimme eivät tavoita sinua"),
        ("/sv", "Vår e-post når dig inte"),
        ("/en", "Our mail does not reach you"),
    ],
)
def test_members_page_says_when_their_mail_bounces(
    client: FlaskClient,
    make_token: Callable[..., str],
    services: dict[str, StubService],
    prefix: str,
    says: str,
) -> None:
    profile = {"id": MEMBER, "email": "poissa@example.fi", "name": "M", "language": "fi"}
    members = services["members"]
    members.answers[("GET", "/api/v1/members/me")] = (200, {**profile, "undeliverable": False})
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    assert says not in client.get(f"{prefix}/me").get_data(as_text=True)
    members.answers[("GET", "/api/v1/members/me")] = (200, {**profile, "undeliverable": True})
    page = client.get(f"{prefix}/me").get_data(as_text=True)
    assert says in page and "poissa@example.fi" in page
