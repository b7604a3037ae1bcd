"""Every kind of e-mail, through the real consumer and SMTP: language, headers, links, once."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime

import pytest
from icalendar import Calendar
from uskalla_kit.signed import SignedTokens

from .conftest import Service

BASE = "https://uskalla.test"


def only(service: Service, to: str) -> dict:
    service.tasks.drain()
    found = service.mails(to)
    assert len(found) == 1, [m["subject"] for m in found]
    return found[0]


def raw_message(service: Service, mail: dict) -> email.message.EmailMessage:
    return email.message_from_bytes(service.sink.store.raw(mail["id"]), policy=email.policy.default)


#: What a stranger could type as their name into the join form, to have it mailed to anyone.
SPAM = "Voitit 1000 euroa, lunasta: https://evil.example/palkinto"


def test_confirmation_in_each_language_with_the_link(service: Service) -> None:
    prefixes = {"fi": "", "sv": "/sv", "en": "/en"}
    subjects = {"fi": "Vahvista", "sv": "Bekräfta", "en": "Confirm"}
    for language, prefix in prefixes.items():
        to = f"conf-{language}@example.fi"
        service.handle(
            "members.member.registered.v1",
            {
                "member_id": str(uuid.uuid4()),
                "email": to,
                "name": SPAM,
                "language": language,
                "token": service.seal(f"tok-{language}"),
            },
        )
        mail = only(service, to)
        # The address has not said yet that it wants anything: nothing the joiner typed.
        assert "evil" not in mail["text"] and "evil" not in mail["subject"], mail["text"]
        assert mail["subject"].startswith(subjects[language]), mail["subject"]
        assert f"{BASE}{prefix}/confirm?token=tok-{language}" in mail["text"]
        assert mail["headers"]["Content-Language"] == language
        assert mail["headers"]["From"] == "MeUskaltajat <noreply@uskalla.test>"
        assert mail["headers"]["Message-ID"].endswith("@uskalla.test>")
        assert "List-Unsubscribe" not in mail["headers"]  # not list mail


def test_already_member_and_welcome(service: Service) -> None:
    member_id = str(uuid.uuid4())
    service.handle(
        "members.member.registered.v1",
        {
            "member_id": member_id,
            "email": "old@example.fi",
            "name": SPAM,
            "language": "sv",
            "already_member": True,
        },
    )
    mail = only(service, "old@example.fi")
    assert "redan medlem" in mail["subject"]
    assert "evil" not in mail["text"], mail["text"]
    assert f"{BASE}/sv/sign-in" in mail["text"]

    service.handle(
        "members.member.joined.v1",
        {
            "member_id": str(uuid.uuid4()),
            "email": "New@Example.fi",
            "name": "Nea",
            "language": "en",
            "newsletter": True,
            "invitations": False,
            "joined_at": datetime.now(UTC).isoformat(),
        },
    )
    welcome = only(service, "new@example.fi")
    assert welcome["subject"] == "Welcome to the MeUskaltajat network!"
    assert f"{BASE}/en/me" in welcome["text"]


def test_sign_in_link_valid_for_15_minutes(service: Service) -> None:
    for language, phrase in (("fi", "15 minuuttia"), ("sv", "15 minuter"), ("en", "15 minutes")):
        to = f"signin-{language}@example.fi"
        service.handle(
            "members.sign_in.requested.v1",
            {
                "member_id": str(uuid.uuid4()),
                "email": to,
                "name": "Maija",
                "language": language,
                "token": service.seal("abc_DEF-123"),
            },
        )
        mail = only(service, to)
        prefix = "" if language == "fi" else f"/{language}"
        assert f"{BASE}{prefix}/sign-in/callback?token=abc_DEF-123" in mail["text"]
        assert phrase in mail["text"]


def test_the_same_event_twice_mails_once(service: Service) -> None:
    data = {
        "member_id": str(uuid.uuid4()),
        "email": "twice@example.fi",
        "name": "T",
        "language": "fi",
        "token": service.seal("t"),
    }
    from uskalla_events import load_payload, new_envelope

    envelope = new_envelope(load_payload("members.sign_in.requested.v1", data))
    consumer = service.runtime.events.consumer
    assert consumer.handle(envelope)
    assert not consumer.handle(envelope)
    only(service, "twice@example.fi")


def gathering(gathering_id: str, **extra: object) -> dict:
    return {
        "gathering_id": gathering_id,
        "title": "Tarinapaja: kokeilut arjessa",
        "kind": "tarinapaja",
        "starts_at": "2027-03-10T10:00:00Z",
        "ends_at": "2027-03-10T13:00:00Z",
        "location": "Kuntatalo, Helsinki",
        "online_url": None,
        "language": "fi",
        "description": "Kehitä oma kokeiluideasi.",
    } | extra


def test_invitations_go_to_who_wants_them_with_a_calendar_entry(service: Service) -> None:
    fi = service.add_recipient(email="kutsu-fi@example.fi", language="fi")
    sv = service.add_recipient(email="kutsu-sv@example.fi", language="sv", name="Sven")
    service.add_recipient(email="ei-kutsuja@example.fi", invitations=False)
    service.add_recipient(email="passive@example.fi", active=False)
    gathering_id = str(uuid.uuid4())
    service.handle("members.gathering.published.v1", gathering(gathering_id))
    # Published again (an edit): nobody is invited twice.
    service.handle("members.gathering.published.v1", gathering(gathering_id, title="Uusi nimi"))
    service.tasks.drain()
    assert service.mails("ei-kutsuja@example.fi") == []
    assert service.mails("passive@example.fi") == []

    mail = only(service, "kutsu-fi@example.fi")
    assert mail["subject"].startswith("Kutsu: ")
    assert "10.3.2027 klo 12.00 (Suomen aikaa)" in mail["text"]  # 10:00 UTC in Helsinki
    assert f"{BASE}/gatherings/{gathering_id}" in mail["text"]
    assert mail["html"] and "<h1" in mail["html"]
    assert mail["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = mail["headers"]["List-Unsubscribe"]
    assert header.startswith(f"<{BASE}/api/v1/unsubscribe?token=") and header.endswith(">")
    token = header[len(f"<{BASE}/api/v1/unsubscribe?token=") : -1]
    payload = SignedTokens("test-unsubscribe-secret", "unsubscribe").read(token)
    assert payload == {"member_id": str(fi), "list": "invitations"}
    assert f"{BASE}/unsubscribe?token={token}" in mail["text"]  # the human link too
    assert mail["attachments"] == [{"filename": "kutsu.ics", "content_type": "text/calendar"}]

    message = raw_message(service, mail)
    [part] = list(message.iter_attachments())
    calendar = Calendar.from_ical(
        part.get_content().encode() if isinstance(part.get_content(), str) else part.get_content()
    )
    assert str(calendar["METHOD"]) == "PUBLISH"
    [event] = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"gathering-{gathering_id}@uskalla.test"
    assert event.decoded("DTSTART") == datetime(2027, 3, 10, 10, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)
    assert event.to_ical().decode().count("DTSTART:20270310T100000Z") == 1

    swedish = only(service, "kutsu-sv@example.fi")
    assert swedish["subject"].startswith("Inbjudan: ") and "Hej Sven" in swedish["text"]
    assert swedish["headers"]["Content-Language"] == "sv"
    assert f"{BASE}/sv/gatherings/{gathering_id}" in swedish["text"]
    assert sv


@pytest.mark.parametrize(
    ("status", "subject", "calendar"),
    [
        ("registered", "Your registration is confirmed", "REQUEST"),
        ("waitlisted", "You are on the waiting list", None),
        ("promoted", "You got a place from the waiting list", "REQUEST"),
        ("cancelled", "Your registration has been cancelled", None),
    ],
)
def test_registration_notices(
    service: Service, status: str, subject: str, calendar: str | None
) -> None:
    # No invitations wanted: the notice is the only mail.
    member = service.add_recipient(
        email="reg@example.fi", language="en", name="Ella", invitations=False
    )
    gathering_id = str(uuid.uuid4())
    service.handle("members.gathering.published.v1", gathering(gathering_id))
    service.handle(
        "members.registration.changed.v1",
        {
            "gathering_id": gathering_id,
            "member_id": str(member),
            "status": status,
            "title": "Story workshop",
            "starts_at": "2027-03-10T10:00:00Z",
        },
    )
    mail = only(service, "reg@example.fi")
    assert mail["subject"] == f"{subject}: Story workshop"
    assert "Hello Ella" in mail["text"]
    assert f"{BASE}/en/gatherings/{gathering_id}" in mail["text"]
    assert "List-Unsubscribe" not in mail["headers"]
    if calendar:
        [part] = list(raw_message(service, mail).iter_attachments())
        assert part.get_param("method") == calendar
        body = part.get_content()
        body = body if isinstance(body, str) else body.decode()
        [event] = Calendar.from_ical(body).walk("VEVENT")
        assert str(event["ORGANIZER"]) == "mailto:noreply@uskalla.test"  # MAIL_FROM
        assert str(event["ATTENDEE"]) == "mailto:reg@example.fi"
        assert str(event["UID"]) == f"gathering-{gathering_id}@uskalla.test"
    else:
        assert mail["attachments"] == []


def test_comment_notice_to_owners_but_not_the_author(service: Service) -> None:
    author = service.add_recipient(email="author@example.fi")
    owner_fi = service.add_recipient(email="owner-fi@example.fi", language="fi")
    owner_sv = service.add_recipient(email="owner-sv@example.fi", language="sv")
    experiment_id = str(uuid.uuid4())
    service.handle(
        "experiments.comment.posted.v1",
        {
            "comment_id": str(uuid.uuid4()),
            "experiment_id": experiment_id,
            "experiment_title": "Digiraati",
            "author_id": str(author),
            "owner_ids": [str(author), str(owner_fi), str(owner_sv)],
        },
    )
    service.tasks.drain()
    assert service.mails("author@example.fi") == []
    fi = only(service, "owner-fi@example.fi")
    assert fi["subject"] == "Uusi kommentti kokeiluunne: Digiraati"
    assert f"{BASE}/experiments/{experiment_id}" in fi["text"]
    sv = only(service, "owner-sv@example.fi")
    assert f"{BASE}/sv/experiments/{experiment_id}" in sv["text"]


def test_subscriptions_and_updates_keep_the_projection_current(service: Service) -> None:
    member = service.add_recipient(email="proj@example.fi")
    service.handle(
        "members.subscriptions.changed.v1",
        {"member_id": str(member), "newsletter": False, "invitations": True},
    )
    service.handle(
        "members.member.updated.v1",
        {
            "member_id": str(member),
            "email": "Proj2@example.fi",
            "name": "Uusi Nimi",
            "language": "sv",
            "municipality_code": "091",
        },
    )
    from notifications.adapters.models import Recipient

    with service.runtime.db.transaction() as session:
        row = session.get(Recipient, member)
        assert row is not None
        assert (row.email, row.name, row.language, row.municipality_code) == (
            "proj2@example.fi",
            "Uusi Nimi",
            "sv",
            "091",
        )
        assert (row.newsletter, row.invitations) == (False, True)


def test_experiment_published_is_kept_as_newsletter_material(service: Service) -> None:
    experiment_id = str(uuid.uuid4())
    service.handle(
        "experiments.experiment.published.v1",
        {
            "experiment_id": experiment_id,
            "title": "Kokeilu",
            "themes": ["digital-municipality"],
            "published_at": "2027-01-01T00:00:00Z",
        },
    )
    from notifications.adapters.models import ExperimentNews

    with service.runtime.db.transaction() as session:
        row = session.get(ExperimentNews, uuid.UUID(experiment_id))
        assert row is not None and row.themes == ["digital-municipality"]
