"""Newsletters scheduled (started once by racing schedulers), audiences by region and theme,
the public archive, and the layout every reader, the preview and the archive share."""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from notifications.adapters.models import Fanout, Newsletter
from sqlalchemy import func, select, update

from .conftest import Service
from .test_newsletters import create as newsletter

Auth = tuple[uuid.UUID, dict[str, str]]
BODY = "# Kevään uutiset\n\nHei **verkosto**, katso [Tarinapaja](https://uskalla.test/t).\n\n- yksi\n- kaksi\n"


def create(client: FlaskClient, auth: Auth, **fields: object) -> dict:
    return newsletter(client, auth, **({"subject": "Kevät", "body": BODY} | fields))


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def test_schedule_validation_and_unscheduling(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    draft = create(client, coordinator)
    path = f"/api/v1/newsletters/{draft['id']}/schedule"
    for bad in ({"send_at": later(minutes=-1)}, {"send_at": "2030-01-01T10:00:00"}, {}):
        answer = client.post(path, json=bad, headers=coordinator[1])
        assert answer.status_code == 422 and set(answer.json["errors"]) == {"send_at"}, bad
    assert (
        client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json["status"]
        == "draft"
    )
    assert client.delete(path, headers=coordinator[1]).status_code == 409

    when = later(days=2)
    scheduled = client.post(path, json={"send_at": when}, headers=coordinator[1])
    assert scheduled.status_code == 200 and scheduled.json["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled.json["send_at"]) == datetime.fromisoformat(when)
    assert service.runtime.extra["services"].newsletters.start_due() == 0  # not yet
    unscheduled = client.delete(path, headers=coordinator[1])
    assert unscheduled.json["status"] == "draft" and unscheduled.json["send_at"] is None


def test_a_scheduled_newsletter_is_sent_once_by_two_racing_schedulers(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    readers = [service.add_recipient() for _ in range(4)]
    newsletters = service.runtime.extra["services"].newsletters
    for _ in range(5):  # a few rounds: each a fresh race
        draft = create(client, coordinator)
        answer = client.post(
            f"/api/v1/newsletters/{draft['id']}/schedule",
            json={"send_at": later(minutes=1)},
            headers=coordinator[1],
        )
        assert answer.status_code == 200
        with service.runtime.db.transaction() as session:  # its time has come
            session.execute(
                update(Newsletter)
                .where(Newsletter.id == uuid.UUID(draft["id"]))
                .values(send_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        start = threading.Barrier(2)
        started: list[int] = []

        def scheduler(start: threading.Barrier, started: list[int]) -> None:
            start.wait()
            started.append(newsletters.start_due())

        threads = [threading.Thread(target=scheduler, args=(start, started)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(started) == [0, 1]
        with service.runtime.db.transaction() as session:
            fanouts = session.scalar(
                select(func.count()).where(Fanout.kind == "newsletter", Fanout.cause == draft["id"])
            )
        assert fanouts == 1
        service.tasks.drain()
        view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
        assert view["status"] == "sent" and view["progress"]["sent"] == len(readers) + 0
    for reader in readers:
        assert len(service.mails(f"{reader}@example.fi")) == 5  # once per newsletter


def test_the_theme_audience_reaches_exactly_the_members_with_that_theme(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    def joined(themes: list[str] | None, **extra: object) -> uuid.UUID:
        member_id = uuid.uuid4()
        data = {
            "member_id": str(member_id),
            "email": f"{member_id}@example.fi",
            "name": "Maija",
            "language": "fi",
            "municipality_code": "049",
            "newsletter": True,
            "invitations": False,
            "joined_at": datetime.now(UTC).isoformat(),
        } | extra
        if themes is not None:
            data["themes"] = themes
        service.handle("members.member.joined.v1", data)
        return member_id

    digital = joined(["digital-municipality"])
    both = joined(["innovative-procurement", "digital-municipality"])
    procurement = joined(["innovative-procurement"])
    joined(None)  # an event of an older producer: no themes
    later_digital = joined([])
    service.handle(  # interests set later, on the member's page
        "members.interests.changed.v1",
        {"member_id": str(later_digital), "themes": ["digital-municipality"], "digest": "off"},
    )
    service.handle(  # an update of the profile leaves the interests as they are
        "members.member.updated.v1",
        {"member_id": str(both), "email": f"{both}@example.fi", "name": "M", "language": "fi"},
    )
    was_digital = joined(["digital-municipality"])
    service.handle(  # interests no longer digital: out of the audience
        "members.interests.changed.v1",
        {"member_id": str(was_digital), "themes": ["parallel-organisations"], "digest": "weekly"},
    )
    service.tasks.drain()
    before = len(service.mails())
    draft = create(client, coordinator, themes=["digital-municipality"])
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    got = {m["to"][0] for m in service.mails()[before:]}
    assert got == {f"{m}@example.fi" for m in (digital, both, later_digital)}
    assert f"{procurement}@example.fi" not in got and f"{was_digital}@example.fi" not in got


def test_regions_reach_their_municipalities(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    uusimaa = [service.add_recipient(municipality_code=code) for code in ("049", "091")]
    tampere = service.add_recipient(municipality_code="837")
    service.add_recipient(municipality_code="179")  # Jyväskylä: neither
    bad = client.post(
        "/api/v1/newsletters",
        json={"subject": "x", "body": "y", "region_codes": ["99"]},
        headers=coordinator[1],
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"region_codes.0"}
    draft = create(client, coordinator, region_codes=["01"], municipality_codes=["837"])
    assert draft["region_codes"] == ["01"]
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    assert {m["to"][0] for m in service.mails()} == {f"{m}@example.fi" for m in [*uusimaa, tampere]}


def test_the_archive_shows_only_public_sent_newsletters_as_sent(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    reader = service.add_recipient(language="sv")
    public = create(client, coordinator, public=True, subject="Offentlig")
    private = create(client, coordinator, subject="Sisäinen")
    public_draft = create(client, coordinator, public=True, subject="Luonnos")
    for letter in (public, private):
        client.post(f"/api/v1/newsletters/{letter['id']}/send", headers=coordinator[1])
    service.tasks.drain()

    listed = client.get("/api/v1/newsletters/archive").json  # anyone, no token
    assert [i["id"] for i in listed["items"]] == [public["id"]] and listed["total"] == 1
    assert listed["items"][0]["preheader"].startswith("Hei verkosto, katso Tarinapaja")
    for hidden in (private, public_draft):
        assert client.get(f"/api/v1/newsletters/archive/{hidden['id']}").status_code == 404
    one = client.get(f"/api/v1/newsletters/archive/{public['id']}?language=sv")
    assert one.status_code == 200
    assert client.get(f"/api/v1/newsletters/archive/{public['id']}?language=de").status_code == 422

    # The archive shows the layout the reader got, but nobody's unsubscribe link.
    [mail] = [m for m in service.mails(f"{reader}@example.fi") if m["subject"] == "Offentlig"]
    mail = mail | {"html": mail["html"].replace("\r\n", "\n")}
    token = mail["headers"]["List-Unsubscribe"].split("token=")[1].rstrip(">")
    mine = f"https://uskalla.test/sv/unsubscribe?token={token}"
    assert mine in mail["html"]
    assert one.json["html"] == mail["html"].replace(mine, "https://uskalla.test/sv/me")
    assert token not in one.json["html"]


def test_the_layout_of_list_mail(client: FlaskClient, coordinator: Auth, service: Service) -> None:
    reader = service.add_recipient()
    draft = create(client, coordinator)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    [mail] = service.mails(f"{reader}@example.fi")
    html, text = mail["html"], mail["text"].replace("\r\n", "\n")
    # The network's name and colours in a table at most 600 px wide, its CSS inlined.
    assert re.search(r'<table class="frame"[^>]* width="600"[^>]*max-width: 600px', html)
    assert re.search(r'<td class="masthead" style="[^"]*background: #00467f', html)
    assert "MeUskaltajat" in html
    assert re.search(r'<div class="preheader" style="[^"]*display: none[^"]*">Hei verkosto', html)
    # Nothing fetched from elsewhere: no stylesheet, image, script or font from a URL.
    assert not re.search(r"<(link|script|img|iframe)\b|url\(|@import", html)
    assert "@media" in html  # the narrow screens' rule stays in the head
    assert "/unsubscribe?token=" in html and 'href="https://uskalla.test/me"' in html
    # The text part is plain text, not Markdown.
    assert "Kevään uutiset\n==============" in text
    assert "Hei verkosto, katso Tarinapaja (https://uskalla.test/t)." in text
    assert "- yksi\n- kaksi" in text
    assert "**" not in text and "# " not in text


def test_the_preview_is_the_mail(client: FlaskClient, coordinator: Auth, service: Service) -> None:
    reader = service.add_recipient(language="en")
    draft = create(client, coordinator, language="en")
    preview = client.post(
        "/api/v1/newsletters/preview",
        json={"subject": "Kevät", "body": BODY, "language": "en"},
        headers=coordinator[1],
    )
    assert preview.status_code == 200
    bad = client.post(
        "/api/v1/newsletters/preview", json={"subject": "", "body": BODY}, headers=coordinator[1]
    )
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"subject"}
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    [mail] = service.mails(f"{reader}@example.fi")
    mail = mail | {k: mail[k].replace("\r\n", "\n") for k in ("html", "text")}
    token = mail["headers"]["List-Unsubscribe"].split("token=")[1].rstrip(">")
    mine = f"https://uskalla.test/en/unsubscribe?token={token}"
    assert preview.json["html"] == mail["html"].replace(mine, "https://uskalla.test/en/me")
    assert preview.json["text"] == mail["text"].replace(mine, "https://uskalla.test/en/me")
