"""A gathering's whole life through the running stack: a change, a cancellation, reminders and
the calendar feed, read from the e-mails a real SMTP server got, every calendar part parsed
with icalendar (METHOD, UID, SEQUENCE, STATUS, times)."""

from __future__ import annotations

import email
import email.policy
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from icalendar import Calendar
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import stack_running
from uskalla_devstack.stack import Process, Stack

from .journey import mails, signed_in, wait_for_mail

pytestmark = pytest.mark.e2e

COORDINATOR = "koordinaattori.gatherings@example.fi"


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, MailSink]]:
    with stack_running(
        postgres_server_url,
        redis_server_url,
        tmp_path_factory.mktemp("gathering-stack"),
        "gatherings",
        {"BOOTSTRAP_COORDINATORS": COORDINATOR, "REMINDER_HOURS": "24"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def coordinator(stack: tuple[Stack, MailSink]) -> dict[str, str]:
    running, sink = stack
    return signed_in(running.gateway_url, sink, COORDINATOR)


def api(stack: Stack, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    answer = requests.request(method, stack.gateway_url + path, headers=headers, timeout=10, **kw)
    assert answer.ok, (path, answer.status_code, answer.text)
    return answer.json()


def gathering(
    stack: Stack, coordinator: dict[str, str], starts_at: datetime, **fields: Any
) -> dict[str, Any]:
    """A published gathering (its invitations go to members who want them)."""
    body = {
        "title": "Tarinapaja: kokeilut arjessa",
        "kind": "tarinapaja",
        "description": "Kehitä oma kokeiluideasi.",
        "starts_at": starts_at.isoformat(),
        "ends_at": (starts_at + timedelta(hours=2)).isoformat(),
        "location": "Kuntatalo, Helsinki",
        "online_url": "https://meet.example.fi/paja",
        "language": "fi",
    } | fields
    created = api(stack, "POST", "/api/v1/gatherings", coordinator, json=body)
    return dict(api(stack, "POST", f"/api/v1/gatherings/{created['id']}/publish", coordinator))


def calendar_part(sink: MailSink, mail: dict[str, Any]) -> tuple[str, Any]:
    """The mail's one calendar attachment, parsed: its METHOD and its one VEVENT."""
    raw = email.message_from_bytes(sink.store.raw(mail["id"]), policy=email.policy.default)
    parts = [p for p in raw.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in raw.walk()]
    body = parts[0].get_content()
    parsed = Calendar.from_ical(body if isinstance(body, str) else body.decode())
    [event] = parsed.walk("VEVENT")
    assert parts[0].get_param("method") == str(parsed["METHOD"])
    assert "DTSTAMP" in event
    return str(parsed["METHOD"]), event


def registered_and_waitlisted(
    stack: tuple[Stack, MailSink],
    coordinator: dict[str, str],
    first: str,
    second: str,
    starts_at: datetime,
    **fields: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A gathering of one place: `first` (fi) has it, `second` (sv) waits (both told so);
    the gathering and the first's headers."""
    running, sink = stack
    first_auth = signed_in(running.gateway_url, sink, first)
    second_auth = signed_in(running.gateway_url, sink, second, "Sara Svensson", "sv")
    g = gathering(running, coordinator, starts_at, capacity=1, **fields)
    for headers in (first_auth, second_auth):
        api(running, "POST", f"/api/v1/gatherings/{g['id']}/registrations", headers)
    wait_for_mail(sink, second, "Du står i kö")
    return g, first_auth


def start_in(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(second=0, microsecond=0)


def test_a_change_reaches_the_registered_and_waitlisted_and_later_mail_says_it(
    stack: tuple[Stack, MailSink], coordinator: dict[str, str]
) -> None:
    running, sink = stack
    first, second = "eka.change@example.fi", "toka.change@example.fi"
    g, first_auth = registered_and_waitlisted(stack, coordinator, first, second, start_in(days=10))
    uid = f"gathering-{g['id']}@127.0.0.1"
    path = f"/api/v1/gatherings/{g['id']}"
    confirmed = wait_for_mail(sink, first, "Ilmoittautumisesi on vahvistettu")
    method, before = calendar_part(sink, confirmed)
    assert method == "REQUEST" and str(before["UID"]) == uid

    moved = start_in(days=11)
    api(
        running,
        "PATCH",
        path,
        coordinator,
        json={
            "starts_at": moved.isoformat(),
            "ends_at": (moved + timedelta(hours=3)).isoformat(),
            "online_url": "https://meet.example.fi/uusi",
        },
    )
    for to, subject in ((first, "Muutos: "), (second, "Ändrat: ")):
        update = wait_for_mail(sink, to, subject)
        assert "https://meet.example.fi/uusi" in update["text"]
        method, event = calendar_part(sink, update)
        assert method == "REQUEST" and str(event["UID"]) == uid
        assert int(event["SEQUENCE"]) > int(before["SEQUENCE"])
        assert event.decoded("DTSTART") == moved
        assert event.decoded("DTEND") == moved + timedelta(hours=3)
        assert str(event["ATTENDEE"]) == f"mailto:{to}" and "ORGANIZER" in event
    # The first gives up their place: the promotion mail carries the new details.
    requests.delete(
        f"{running.gateway_url}{path}/registrations/me", headers=first_auth, timeout=10
    ).raise_for_status()
    promoted = wait_for_mail(sink, second, "Du fick en plats")
    method, event = calendar_part(sink, promoted)
    assert method == "REQUEST" and str(event["UID"]) == uid
    assert event.decoded("DTSTART") == moved and int(event["SEQUENCE"]) >= 1
    assert "meet.example.fi/uusi" in str(event["LOCATION"])
    assert len(mails(sink, first, "Muutos: ")) == len(mails(sink, second, "Ändrat: ")) == 1


def test_a_cancellation_reaches_the_registered_and_waitlisted(
    stack: tuple[Stack, MailSink], coordinator: dict[str, str]
) -> None:
    running, sink = stack
    first, second = "eka.cancel@example.fi", "toka.cancel@example.fi"
    starts = start_in(days=5)
    g, _ = registered_and_waitlisted(
        stack, coordinator, first, second, starts, title="Foorumi peruttavaksi"
    )
    path = f"/api/v1/gatherings/{g['id']}"

    cancelled = api(running, "POST", f"{path}/cancel", coordinator)
    assert cancelled["status"] == "cancelled"
    for to, subject in ((first, "Peruttu: Foorumi"), (second, "Inställt: Foorumi")):
        mail = wait_for_mail(sink, to, subject)
        method, event = calendar_part(sink, mail)
        assert method == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == f"gathering-{g['id']}@127.0.0.1"
        assert int(event["SEQUENCE"]) >= 1 and event.decoded("DTSTART") == starts
        assert "ORGANIZER" in event
    assert requests.get(running.gateway_url + path, timeout=10).json()["status"] == "cancelled"
    again = api(running, "POST", f"{path}/cancel", coordinator)
    assert again["status"] == "cancelled"
    page = requests.get(f"{running.gateway_url}/gatherings/{g['id']}", timeout=10).text
    assert 'id="cancelled"' in page
    assert len(mails(sink, first, "Peruttu: ")) == 1


def test_the_calendar_feed_and_its_webcal_link(
    stack: tuple[Stack, MailSink], coordinator: dict[str, str]
) -> None:
    running, _ = stack
    upcoming = gathering(running, coordinator, start_in(days=20), title="Syyskuun foorumi")
    called_off = gathering(running, coordinator, start_in(days=21), title="Lokakuun foorumi")
    api(running, "POST", f"/api/v1/gatherings/{called_off['id']}/cancel", coordinator)
    answer = requests.get(f"{running.gateway_url}/api/v1/gatherings/calendar.ics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/calendar")
    feed = Calendar.from_ical(answer.content)
    assert str(feed["METHOD"]) == "PUBLISH" and str(feed["VERSION"]) == "2.0"
    events = {str(e["UID"]): e for e in feed.walk("VEVENT")}
    for g, status in ((upcoming, "CONFIRMED"), (called_off, "CANCELLED")):
        event = events[f"gathering-{g['id']}@127.0.0.1"]
        assert str(event["STATUS"]) == status and "DTSTAMP" in event
        assert event.decoded("DTSTART") == datetime.fromisoformat(g["starts_at"])
        assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    for prefix in ("", "/sv"):
        page = requests.get(f"{running.gateway_url}{prefix}/gatherings", timeout=10).text
        assert 'href="webcal://127.0.0.1:' in page and "/api/v1/gatherings/calendar.ics" in page


def test_reminders_once_each_with_two_schedulers_one_killed(
    stack: tuple[Stack, MailSink], coordinator: dict[str, str]
) -> None:
    running, sink = stack
    relay = running.processes["notifications-relay"]
    other = Process(
        "notifications-relay-2",
        relay.argv,
        {**relay.env, "RELAY_HEARTBEAT_FILE": str(running.config.var_dir / "relay-2.hb")},
        running.config.var_dir / "log" / "notifications-relay-2.log",
        echo=False,
    )
    other.start()
    try:
        people = {
            f"muistutus{n}@example.fi": ("fi", "Muistutus: ") if n % 2 else ("sv", "Påminnelse: ")
            for n in range(4)
        }
        auths = {
            address: signed_in(running.gateway_url, sink, address, f"Jäsen {n}", language)
            for n, (address, (language, _)) in enumerate(people.items())
        }
        starts = start_in(hours=3)
        g = gathering(running, coordinator, starts, title="Webinaari pian", kind="webinar")
        for headers in auths.values():
            api(running, "POST", f"/api/v1/gatherings/{g['id']}/registrations", headers)
        # Both schedulers are beating as the registrations come in; one of them dies.
        other.kill(signal.SIGKILL)
        for address, (_, subject) in people.items():
            mail = wait_for_mail(sink, address, subject)
            assert "https://meet.example.fi/paja" in mail["text"]
            method, event = calendar_part(sink, mail)
            assert method == "REQUEST" and event.decoded("DTSTART") == starts
            assert str(event["UID"]) == f"gathering-{g['id']}@127.0.0.1"
        # Restarted schedulers (a killed one and a restarted one) send nothing again.
        other.start()
        relay.restart()
        time.sleep(5)  # ten beats of each (RELAY_INTERVAL 0.5)
        for address, (_, subject) in people.items():
            assert len(mails(sink, address, subject)) == 1, address
    finally:
        other.stop()
