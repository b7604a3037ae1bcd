"""The member's workspace, own comments' edit page, the privacy notice and accessibility
statement, and the services' messages in the page's language, against stub services."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from gateway.routes import service_for
from gateway.session import SESSION_COOKIE
from gateway.ui.common import machine_time
from gateway.ui.messages import kind_of
from stub_service import StubService

MEMBER = "5a0c8e5e-2f4b-4c1b-9a39-6f1f0c3f2d11"
OTHER = "0d3c4b2a-1111-4a2b-8c3d-4e5f60718293"
DRAFT = "a4b1f7a0-3f6e-4c2e-9b1d-2e5b8f0c1d22"
FOLLOWED = "c9d8e7f6-2222-4b3c-9d4e-5f60718293a4"
GATHERING = "e1f2a3b4-3333-4c5d-8e6f-708192a3b4c5"
COMMENT = "f0e1d2c3-4444-4d5e-9f60-718293a4b5c6"
ROOT = Path(__file__).parents[2]
PROBLEM = {"Content-Type": "application/problem+json"}


def stub_for(services: dict[str, StubService], path: str) -> StubService:
    """The stub of the service the gateway sends `path` to (as its routing table says)."""
    return services[str(service_for(path))]


def csrf(page: str) -> str:
    return re.search(r'name="csrf-token" content="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


class Ids(HTMLParser):
    """Every id in a page, to tell duplicates and ids HTML does not allow (white space)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids += [value or "" for name, value in attrs if name == "id"]


def assert_ids_valid(page: str) -> None:
    parser = Ids()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids)), "duplicate ids"
    assert all(i and not re.search(r"\s", i) for i in parser.ids), parser.ids


@pytest.fixture
def workspace_data(services: dict[str, StubService]) -> dict[str, StubService]:
    experiments = stub_for(services, "/api/v1/experiments")
    experiments.answers[("GET", "/api/v1/experiments")] = (
        200,
        {
            "items": [
                {"id": DRAFT, "title": "Luonnoskokeilu", "stage": "idea", "published_at": None},
            ],
            "page": 1,
            "per_page": 100,
            "total": 1,
        },
    )
    experiments.answers[("GET", "/api/v1/themes")] = (
        200,
        [{"slug": "digital-municipality", "name_fi": "Digikunta", "name_sv": "Digikommun"}],
    )
    stub_for(services, "/api/v1/members/me/follows").answers[
        ("GET", "/api/v1/members/me/follows")
    ] = (
        200,
        {
            "items": [
                {
                    "id": FOLLOWED,
                    "title": "Kirjasto auki iltaisin",
                    "stage": "running",
                    "followed_at": "2026-11-02T08:00:00.123456+00:00",
                }
            ]
        },
    )
    members = stub_for(services, "/api/v1/members/me/interests")
    members.answers[("GET", "/api/v1/members/me/interests")] = (
        200,
        {"themes": ["digital-municipality"], "municipality_codes": ["049"], "digest": "daily"},
    )
    members.answers[("GET", "/api/v1/members/me/registrations")] = (
        200,
        {
            "items": [
                {
                    "gathering_id": GATHERING,
                    "title": "Tarinapaja Espoossa",
                    "starts_at": "2031-05-20T07:00:00.250000+00:00",
                    "status": "waitlisted",
                    "cancelled": False,
                    "upcoming": True,
                },
                {
                    "gathering_id": OTHER,
                    "title": "Foorumi 2025",
                    "starts_at": "2025-05-20T07:00:00+00:00",
                    "status": "registered",
                    "cancelled": True,
                    "upcoming": False,
                },
            ]
        },
    )
    members.answers[("GET", "/api/v1/municipalities")] = (
        200,
        [
            {"code": "049", "name_fi": "Espoo", "name_sv": "Esbo"},
            {"code": "091", "name_fi": "Helsinki", "name_sv": "Helsingfors"},
        ],
    )
    return services


@pytest.mark.parametrize(
    ("prefix", "words"),
    [
        ("", ("Oma työtila", "Luonnos", "Lopeta seuraaminen", "jonossa", "Peruttu", "Esbo")),
        ("/sv", ("Min arbetsyta", "Utkast", "Sluta följa", "i kö", "Inställt", "Esbo")),
    ],
)
def test_the_workspace_shows_what_is_mine(
    client: FlaskClient,
    workspace_data: dict[str, StubService],
    make_token: Callable[..., str],
    prefix: str,
    words: tuple[str, ...],
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    answer = client.get(f"{prefix}/workspace")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    for word in words[:-1]:
        assert word in page, word
    assert f'href="{prefix}/experiments/{DRAFT}"' in page  # drafts too
    assert f'action="{prefix}/workspace/follows/{FOLLOWED}/unfollow"' in page
    assert f'href="{prefix}/gatherings/{GATHERING}"' in page
    assert '<time datetime="2031-05-20T07:00:00Z">20.5.2031 10.00</time>' in page
    assert (
        'id="f-theme-digital-municipality" name="themes" value="digital-municipality" checked'
        in (page)
    )
    assert '<option value="049" selected>' in page and '<option value="091">' in page
    assert 'id="f-digest-daily" name="digest" value="daily" checked' in page
    assert f'href="{prefix}/workspace"' in page  # in the navigation
    assert_ids_valid(page)
    mine = [s for s in workspace_data["experiments"].seen if s.path.startswith("/api/v1/exp")]
    assert any("owner=me" in s.path for s in mine)


def test_the_workspace_asks_to_sign_in(
    client: FlaskClient, services: dict[str, StubService]
) -> None:
    assert client.get("/workspace").status_code == 401
    page = client.get("/").get_data(as_text=True)
    assert 'href="/workspace"' not in page


def test_interests_are_saved_and_refusals_shown_in_the_page_language(
    client: FlaskClient, workspace_data: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    members = stub_for(workspace_data, "/api/v1/members/me/interests")
    members.answers[("PUT", "/api/v1/members/me/interests")] = (
        200,
        {"themes": [], "municipality_codes": ["091"], "digest": "weekly"},
    )
    token = csrf(client.get("/sv/workspace").get_data(as_text=True))
    form = {"csrf_token": token, "municipality_codes": ["091", "049"], "digest": "weekly"}
    answer = client.post("/sv/workspace/interests", data=form)
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/sv/workspace?notice=saved#interests-h"
    put = members.seen[-1]
    assert (put.method, put.path) == ("PUT", "/api/v1/members/me/interests")
    assert json.loads(put.body) == {
        "themes": [],
        "municipality_codes": ["091", "049"],
        "digest": "weekly",
    }

    members.answers[("PUT", "/api/v1/members/me/interests")] = (
        422,
        {
            "status": 422,
            "title": "Unprocessable",
            "errors": {
                "digest": ["Must be one of: off, daily, weekly."],
                "municipality_codes": {
                    "0": ["Unknown municipality code (Statistics Finland, 3 digits)."]
                },
            },
        },
        PROBLEM,
    )
    refused = client.post("/sv/workspace/interests", data={**form, "digest": "hourly"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Välj ett av alternativen." in page and "Must be one of" not in page
    assert 'href="#f-digest"' in page and 'id="f-digest"' in page
    assert "Dagligen" in page  # the form again, as sent
    assert_ids_valid(page)


def test_unfollowing_from_the_workspace(
    client: FlaskClient, workspace_data: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    path = f"/api/v1/experiments/{FOLLOWED}/followers/me"
    experiments = stub_for(workspace_data, path)
    experiments.answers[("DELETE", path)] = (200, {"following": False})
    token = csrf(client.get("/workspace").get_data(as_text=True))
    answer = client.post(f"/workspace/follows/{FOLLOWED}/unfollow", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/workspace?notice=unfollowed#follows-h"
    assert (experiments.seen[-1].method, experiments.seen[-1].path) == ("DELETE", path)
    assert "Et enää seuraa kokeilua." in client.get("/workspace?notice=unfollowed").get_data(
        as_text=True
    )
    # Without the form's CSRF token nothing is sent.
    before = len(experiments.seen)
    assert client.post(f"/workspace/follows/{FOLLOWED}/unfollow").status_code == 403
    assert not [s for s in experiments.seen[before:] if s.method == "DELETE"]


def _comments(services: dict[str, StubService], author: str) -> StubService:
    path = f"/api/v1/experiments/{DRAFT}/comments"
    experiments = stub_for(services, path)
    experiments.answers[("GET", path)] = (
        200,
        {
            "items": [
                {
                    "id": COMMENT,
                    "author": {"id": author, "name": "Maija"},
                    "body": "Hieno kokeilu!",
                    "body_html": "<p>Hieno kokeilu!</p>",
                    "created_at": "2026-11-02T08:00:00.123456+00:00",
                    "edited_at": None,
                }
            ],
            "page": 1,
            "per_page": 100,
            "total": 1,
        },
    )
    return experiments


def test_own_comment_is_edited_on_its_page(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    experiments = _comments(services, MEMBER)
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    edit = f"/sv/experiments/{DRAFT}/comments/{COMMENT}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert "Redigera din kommentar" in page and ">Hieno kokeilu!</textarea>" in page
    assert '<time datetime="2026-11-02T08:00:00Z">' in page
    assert f'action="/sv/experiments/{DRAFT}/comments/{COMMENT}/delete"' in page
    experiments.answers[("PATCH", f"/api/v1/comments/{COMMENT}")] = (200, {"id": COMMENT})
    answer = client.post(edit, data={"csrf_token": csrf(page), "body": "Vielä parempi!"})
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        f"/sv/experiments/{DRAFT}?notice=comment_edited#comment-{COMMENT}"
    )
    assert json.loads(experiments.seen[-1].body) == {"body": "Vielä parempi!"}

    experiments.answers[("PATCH", f"/api/v1/comments/{COMMENT}")] = (
        422,
        {"status": 422, "title": "Invalid", "errors": {"body": ["Cannot be blank."]}},
        PROBLEM,
    )
    refused = client.post(edit, data={"csrf_token": csrf(page), "body": "  "})
    assert refused.status_code == 422
    assert "Skriv en kommentar." in refused.get_data(as_text=True)


def test_someone_elses_comment_has_no_edit_page(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    _comments(services, OTHER)
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    assert client.get(f"/experiments/{DRAFT}/comments/{COMMENT}/edit").status_code == 403
    missing = "0a0a0a0a-0000-4000-8000-000000000000"
    assert client.get(f"/experiments/{DRAFT}/comments/{missing}/edit").status_code == 404
    client.delete_cookie(SESSION_COOKIE)
    assert client.get(f"/experiments/{DRAFT}/comments/{COMMENT}/edit").status_code == 401


@pytest.mark.parametrize(
    ("prefix", "privacy", "statement", "authority"),
    [
        ("", "Tietosuojaseloste", "Saavutettavuusseloste", "Etelä-Suomen aluehallintovirasto"),
        ("/sv", "Dataskyddsbeskrivning", "Tillgänglighetsutlåtande", "Traficom"),
        ("/en", "Privacy notice", "Accessibility statement", "Traficom"),
    ],
)
def test_notices_are_linked_from_every_page(
    client: FlaskClient,
    services: dict[str, StubService],
    prefix: str,
    privacy: str,
    statement: str,
    authority: str,
) -> None:
    home = client.get(prefix + "/").get_data(as_text=True)
    assert f'href="{prefix}/privacy">{privacy}</a>' in home
    assert f'href="{prefix}/accessibility">{statement}</a>' in home
    notice = client.get(f"{prefix}/privacy").get_data(as_text=True)
    assert 'id="privacy-version"' in notice and "2026-01" in notice  # members' default version
    assert "meuskaltajat@uskalla.fi" in notice
    assert_ids_valid(notice)
    page = client.get(f"{prefix}/accessibility").get_data(as_text=True)
    for part in ("WCAG 2.1", "306/2019", authority, 'href="mailto:meuskaltajat@uskalla.fi"'):
        assert part in page, part
    assert '<time datetime="2026-12-03">3.12.2026</time>' in page
    assert f'href="{prefix}/privacy"' in client.get(f"{prefix}/join").get_data(as_text=True)


def test_the_notice_shown_is_the_version_set(
    make_settings: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import create_app

    monkeypatch.setenv("USKALLA_ENV", "test")
    unknown = create_app(make_settings(privacy_notice_version="2099-01")).test_client()
    assert unknown.get("/privacy").status_code == 404  # never a notice of another version


def test_members_records_the_version_the_gateway_shows() -> None:
    """Both read PRIVACY_NOTICE_VERSION; their defaults must name the same notice."""
    from gateway.config import Settings
    from gateway.ui.pages_notices import NOTICES

    members_config = (ROOT / "services/members/src/members/config.py").read_text()
    default = Settings.privacy_notice_version
    assert f'env("PRIVACY_NOTICE_VERSION", "{default}")' in members_config
    assert default in NOTICES


@pytest.mark.parametrize(
    ("message", "kind", "values"),
    [
        ("Missing data for required field.", "required", {}),
        ("Length must be between 1 and 200.", "length_between", {"min": "1", "max": "200"}),
        ("Longer than maximum length 5000.", "too_long", {"max": "5000"}),
        (
            "Must be greater than or equal to 1 and less than or equal to 10.",
            "range",
            {"min": "1", "max": "10"},
        ),
        ("Not a valid e-mail address.", "email", {}),
        ("A comment cannot be blank.", "blank", {}),
        ("Not a valid aware datetime.", "date", {}),
        ("The subject is one line, not blank.", "one_line", {}),
        ("You are already registered for this gathering.", "already_registered", {}),
        ("Something nobody foresaw.", None, {}),
    ],
)
def test_messages_are_read_by_kind(message: str, kind: str | None, values: dict[str, str]) -> None:
    found = kind_of(message)
    assert (found[0] if found else None) == kind
    if found:
        assert found[1] == values


@pytest.mark.parametrize(
    ("prefix", "shown"),
    [
        (
            "",
            (
                "Pituuden on oltava 1–200 merkkiä.",  # noqa: RUF001
                "Sähköpostiosoite ei kelpaa.",
                "Arvo ei kelpaa (Odd.)",
            ),
        ),
        (
            "/sv",
            (
                "Längden ska vara 1–200 tecken.",  # noqa: RUF001
                "E-postadressen är ogiltig.",
                "Värdet godtas inte (Odd.)",
            ),
        ),
        ("/en", ("Must be 1 to 200 characters long.", "Not a valid e-mail address.", "Odd.")),
    ],
)
def test_join_refusals_in_the_page_language(
    client: FlaskClient, services: dict[str, StubService], prefix: str, shown: tuple[str, ...]
) -> None:
    services["members"].answers[("POST", "/api/v1/members")] = (
        422,
        {
            "status": 422,
            "title": "Unprocessable",
            "errors": {
                "name": ["Length must be between 1 and 200."],
                "email": ["Not a valid e-mail address."],
                "title": ["Odd."],
            },
        },
        PROBLEM,
    )
    token = csrf(client.get(f"{prefix}/join").get_data(as_text=True))
    answer = client.post(f"{prefix}/join", data={"csrf_token": token, "email": "x"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    for text in shown:
        assert text in page, text
    if prefix != "/en":
        assert "Length must be" not in page


def test_machine_times_are_valid_html() -> None:
    assert machine_time("2026-11-02T08:00:00.123456+00:00") == "2026-11-02T08:00:00Z"
    assert machine_time("2026-06-01T12:00:00+03:00") == "2026-06-01T09:00:00Z"
    assert machine_time("2026-06-01") == "2026-06-01"
    assert machine_time("not a time") == "" and machine_time(None) == ""


def test_rating_limits_and_api_reference_ids_are_valid(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    path = f"/api/v1/experiments/{DRAFT}"
    stub_for(services, path).answers[("GET", path)] = (
        200,
        {"id": DRAFT, "title": "T", "owners": [{"id": MEMBER, "name": "M"}], "evaluation": None},
    )
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    page = client.get(f"/experiments/{DRAFT}/evaluation").get_data(as_text=True)
    assert 'min="1" max="10" inputmode="numeric"' in page and "&#34;" not in page
    for stub in services.values():
        stub.answers[("GET", "/openapi.json")] = (
            200,
            {
                "openapi": "3.1.0",
                "info": {"title": stub.name, "version": "1"},
                "paths": {
                    f"/api/v1/{stub.name}-x": {
                        "get": {"tags": [f"{stub.name} and more"], "responses": {}}
                    }
                },
                "components": {"schemas": {f"{stub.name} Thing": {"type": "object"}}},
            },
        )
    docs = client.get("/api/docs").get_data(as_text=True)
    assert_ids_valid(docs)


def test_my_page_sets_the_follows_and_comments_lists(
    client: FlaskClient, services: dict[str, StubService], make_token: Callable[..., str]
) -> None:
    members = services["members"]
    profile = {
        "id": MEMBER,
        "email": "maija@example.fi",
        "name": "Maija",
        "organisation": "Espoo",
        "title": None,
        "municipality_code": "049",
        "language": "sv",
        "newsletter": True,
        "invitations": False,
        "follows": True,
        "comments": False,
    }
    members.answers[("GET", "/api/v1/members/me")] = (200, profile)
    members.answers[("PATCH", "/api/v1/members/me")] = (200, profile)
    client.set_cookie(SESSION_COOKIE, make_token(MEMBER))
    page = client.get("/sv/me").get_data(as_text=True)
    assert 'id="f-follows" name="follows" value="on" checked' in page
    assert 'id="f-comments" name="comments" value="on">' in page
    assert "Nyheter om försök jag följer" in page and 'href="/sv/workspace"' in page
    form = {
        "csrf_token": csrf(page),
        "name": "Maija",
        "organisation": "Espoo",
        "language": "sv",
        "lists": ["follows", "comments"],
        "comments": "on",
    }
    assert client.post("/sv/me", data=form).status_code == 303
    sent = json.loads(members.seen[-1].body)
    assert (sent["follows"], sent["comments"]) == (False, True)

    # A profile without those lists (an older members) is not sent them.
    members.answers[("GET", "/api/v1/members/me")] = (
        200,
        {k: v for k, v in profile.items() if k not in ("follows", "comments")},
    )
    page = client.get("/sv/me").get_data(as_text=True)
    assert 'name="follows"' not in page
    assert client.post("/sv/me", data={**form, "lists": []}).status_code == 303
    assert "follows" not in json.loads(members.seen[-1].body)
