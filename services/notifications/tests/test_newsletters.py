"""The newsletter: drafts, validation, a test copy, the audience, progress, cancel, resume."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from notifications.adapters.mailer import Mailer
from notifications.adapters.models import Delivery
from sqlalchemy import func, select, text
from uskalla_devstack.pytest_plugin import lock_waiters, wait_until
from uskalla_kit.signed import SignedTokens

from .conftest import Service

BODY = "# Uutiskirje\n\nHei verkosto! <script>alert(1)</script>\n\n* kokeilu [linkki](https://kuntaliitto.fi)\n"
Auth = tuple[uuid.UUID, dict[str, str]]


def create(client: FlaskClient, auth: Auth, **fields: object) -> dict:
    answer = client.post(
        "/api/v1/newsletters",
        json={"subject": "Kevään uutiset", "body": BODY} | fields,
        headers=auth[1],
    )
    assert answer.status_code == 201, answer.json
    return answer.json


def test_only_coordinators(client: FlaskClient, make_token: Callable[..., str]) -> None:
    assert client.get("/api/v1/newsletters").status_code == 401
    member = {"Authorization": f"Bearer {make_token(role='member')}"}
    answer = client.post("/api/v1/newsletters", json={"subject": "x", "body": "y"}, headers=member)
    assert answer.status_code == 403
    assert client.get("/api/v1/deliveries", headers=member).status_code == 403


def test_validation_is_per_field_and_changes_nothing(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    answer = client.post(
        "/api/v1/newsletters",
        json={
            "subject": " ",
            "body": "",
            "language": "de",
            "municipality_codes": ["49", "091"],
            "themes": ["Not A Slug"],
        },
        headers=coordinator[1],
    )
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert set(answer.json["errors"]) == {
        "subject",
        "body",
        "language",
        "municipality_codes.0",
        "themes.0",
    }
    nul = client.post(
        "/api/v1/newsletters",
        json={"subject": "a\x00b", "body": "\ud800"},
        headers=coordinator[1],
    )
    assert nul.status_code == 422 and set(nul.json["errors"]) == {"subject", "body"}
    odd = client.get("/api/v1/deliveries?cause=%00", headers=coordinator[1])
    assert odd.status_code == 422 and set(odd.json["errors"]) == {"cause"}
    listed = client.get("/api/v1/newsletters", headers=coordinator[1]).json
    assert listed["total"] == 0
    bad_json = client.post(
        "/api/v1/newsletters", data="{", content_type="application/json", headers=coordinator[1]
    )
    assert bad_json.status_code == 400
    assert (
        client.get(f"/api/v1/newsletters/{uuid.uuid4()}", headers=coordinator[1]).status_code == 404
    )
    assert client.get("/api/v1/newsletters/nope", headers=coordinator[1]).status_code == 404


def test_draft_edit_and_test_copy(client: FlaskClient, coordinator: Auth, service: Service) -> None:
    draft = create(client, coordinator)
    assert draft["status"] == "draft"
    assert draft["progress"] == {
        "recipients": 0,
        "sent": 0,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
        "cancelled": 0,
    }
    patched = client.patch(
        f"/api/v1/newsletters/{draft['id']}",
        json={"subject": "Kevään uutiset 2"},
        headers=coordinator[1],
    )
    assert patched.status_code == 200 and patched.json["subject"] == "Kevään uutiset 2"

    answer = client.post(f"/api/v1/newsletters/{draft['id']}/test", headers=coordinator[1])
    assert answer.status_code == 202
    assert answer.json == {"status": "queued", "email": "koordinaattori@kuntaliitto.fi"}
    service.tasks.drain()
    [copy] = service.mails("koordinaattori@kuntaliitto.fi")
    assert copy["subject"] == "[TEST] Kevään uutiset 2"
    # Plain text, not the Markdown source; the HTML with its CSS inlined.
    assert (
        copy["text"]
        .replace("\r\n", "\n")
        .startswith(
            "Uutiskirje\n==========\n\nHei verkosto! <script>alert(1)</script>\n\n"
            "- kokeilu linkki (https://kuntaliitto.fi)\n"
        )
    )
    assert re.search(r"<h1 style=[^>]*>Uutiskirje</h1>", copy["html"])
    assert "&lt;script&gt;" in copy["html"] and "<script>" not in copy["html"]
    assert re.search(r'<a href="https://kuntaliitto.fi" style=[^>]*>linkki</a>', copy["html"])
    assert copy["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Still a draft: a test copy sends nothing else.
    assert (
        client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json["status"]
        == "draft"
    )


def test_send_once_to_the_matching_subscribers(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    espoo = [service.add_recipient(municipality_code="049") for _ in range(5)]
    helsinki_sv = service.add_recipient(municipality_code="091", language="sv")
    service.add_recipient(municipality_code="049", newsletter=False)
    service.add_recipient(municipality_code="049", active=False)
    service.add_recipient(municipality_code="837")
    bounced = service.add_recipient(email="bounced@example.fi", municipality_code="049")
    assert (
        client.post(
            "/api/v1/bounces",
            json={"email": "bounced@example.fi", "kind": "hard"},
            headers=coordinator[1],
        ).status_code
        == 200
    )
    draft = create(client, coordinator, municipality_codes=["049", "091"])
    answer = client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    assert answer.status_code == 202
    assert answer.json["status"] == "sending" and answer.json["municipality_codes"] == [
        "049",
        "091",
    ]
    again = client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    assert again.status_code == 409
    assert (
        client.patch(
            f"/api/v1/newsletters/{draft['id']}", json={"subject": "late"}, headers=coordinator[1]
        ).status_code
        == 409
    )

    service.tasks.drain()
    got = {m["to"][0] for m in service.mails()}
    expected = {f"{m}@example.fi" for m in [*espoo, helsinki_sv]}
    assert got == expected
    assert len(service.mails()) == len(expected)  # once each
    assert f"{bounced}" not in " ".join(got)
    view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert view["status"] == "sent" and view["audience_complete"]
    assert view["progress"] | {} == {
        "recipients": 6,
        "sent": 6,
        "failed": 0,
        "pending": 0,
        "skipped": 0,
        "cancelled": 0,
    }
    swedish = service.mails(f"{helsinki_sv}@example.fi")[0]
    assert swedish["headers"]["Content-Language"] == "sv"
    assert "Avsluta prenumerationen på nyhetsbrevet" in swedish["text"]
    token = swedish["headers"]["List-Unsubscribe"].split("token=")[1].rstrip(">")
    assert SignedTokens("test-unsubscribe-secret", "unsubscribe").read(token) == {
        "member_id": str(helsinki_sv),
        "list": "newsletter",
    }
    assert f"https://uskalla.test/sv/unsubscribe?token={token}" in swedish["text"]


def test_language_filter_and_unsubscribing_after_freeze(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    fi = [service.add_recipient(language="fi") for _ in range(3)]
    service.add_recipient(language="en")
    draft = create(client, coordinator, language="fi")
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    fanouts = service.runtime.extra["services"].fanouts
    steps, service.tasks.fanouts = service.tasks.fanouts, []
    fanout_id = steps[0][0]
    assert fanouts.freeze(fanout_id)
    # Unsubscribed after the audience was frozen: checked again at send time.
    service.handle(
        "members.subscriptions.changed.v1",
        {"member_id": str(fi[0]), "newsletter": False, "invitations": True},
    )
    fanouts.step(fanout_id, chain=False)
    assert {m["to"][0] for m in service.mails()} == {f"{m}@example.fi" for m in fi[1:]}
    progress = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json[
        "progress"
    ]
    assert progress["recipients"] == 3 and progress["sent"] == 2 and progress["skipped"] == 1


def test_resume_after_a_crash_sends_only_what_is_left(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    people = [service.add_recipient() for _ in range(30)]
    settings = service.runtime.extra["settings"]
    settings.freeze_batch_size = 7  # several freeze transactions
    settings.list_batch_size = 10
    draft = create(client, coordinator)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    fanouts = service.runtime.extra["services"].fanouts
    fanout_id = service.tasks.fanouts[0][0]
    service.tasks.fanouts = []
    assert fanouts.step(fanout_id, chain=False) == "more"  # one batch of 10, then "crash"
    assert len(service.mails()) == 10
    view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert view["status"] == "sending"
    assert view["progress"]["recipients"] == 30 and view["progress"]["sent"] == 10
    assert view["progress"]["pending"] == 20
    # A stale fan-out is restarted by the sweep; restarted chains never resend sent rows.
    with service.runtime.db.transaction() as session:
        session.execute(text("UPDATE fanouts SET heartbeat_at = now() - interval '1 hour'"))
    assert fanouts.sweep() == 1
    service.tasks.drain()
    mails = service.mails()
    assert sorted(m["to"][0] for m in mails) == sorted(f"{p}@example.fi" for p in people)
    with service.runtime.db.transaction() as session:
        ids = session.scalars(select(func.count(func.distinct(Delivery.message_id)))).one()
    assert ids == 30
    view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert view["status"] == "sent" and view["progress"]["sent"] == 30


def test_cancel_stops_what_has_not_been_sent(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    for _ in range(12):
        service.add_recipient()
    service.runtime.extra["settings"].list_batch_size = 5
    draft = create(client, coordinator)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    fanout_id = service.tasks.fanouts[0][0]
    service.tasks.fanouts = []
    service.runtime.extra["services"].fanouts.step(fanout_id, chain=False)
    answer = client.post(f"/api/v1/newsletters/{draft['id']}/cancel", headers=coordinator[1])
    assert answer.status_code == 200 and answer.json["status"] == "cancelled"
    assert answer.json["progress"]["sent"] == 5 and answer.json["progress"]["cancelled"] == 7
    service.runtime.extra["services"].fanouts.step(fanout_id, chain=False)
    service.tasks.drain()
    assert len(service.mails()) == 5
    assert (
        client.post(f"/api/v1/newsletters/{draft['id']}/cancel", headers=coordinator[1]).status_code
        == 409
    )
    assert (
        client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1]).status_code
        == 409
    )


def test_delivery_log_filters_and_pages(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    members = [service.add_recipient() for _ in range(3)]
    draft = create(client, coordinator)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    service.tasks.drain()
    log = client.get(
        "/api/v1/deliveries?kind=newsletter&per_page=2&page=1", headers=coordinator[1]
    ).json
    assert log["total"] == 3 and len(log["items"]) == 2 and log["per_page"] == 2
    item = log["items"][0]
    assert set(item) >= {"member_id", "kind", "status", "attempts", "sent_at", "error"}
    assert item["status"] == "sent" and item["attempts"] == 1 and item["sent_at"]
    mine = client.get(f"/api/v1/deliveries?member_id={members[0]}", headers=coordinator[1]).json
    assert mine["total"] == 1 and mine["items"][0]["member_id"] == str(members[0])
    bad = client.get("/api/v1/deliveries?status=lost&per_page=1000", headers=coordinator[1])
    assert bad.status_code == 422 and set(bad.json["errors"]) == {"status", "per_page"}


def test_rows_of_a_dead_chain_return_after_its_lease(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    for _ in range(6):
        service.add_recipient()
    draft = create(client, coordinator)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=coordinator[1])
    fanouts = service.runtime.extra["services"].fanouts
    fanout_id = service.tasks.fanouts.pop(0)[0]
    assert fanouts.freeze(fanout_id)
    # A chain claimed four rows and was killed (SIGKILL): they stay 'sending' under its claim.
    with service.runtime.db.transaction() as session:
        session.execute(
            text(
                "UPDATE deliveries SET status = 'sending', claimed_by = gen_random_uuid(),"
                " claimed_until = now() + interval '1 hour'"
                " WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 4)"
            )
        )
    assert fanouts.step(fanout_id, chain=False) == "done"
    assert len(service.mails()) == 2  # the live chain leaves the claimed rows alone
    view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert view["status"] == "sending" and view["progress"]["pending"] == 4
    with service.runtime.db.transaction() as session:
        session.execute(text("UPDATE deliveries SET claimed_until = now() - interval '1 second'"))
    assert fanouts.step(fanout_id, chain=False) == "done"
    assert len(service.mails()) == 6 and len({m["to"][0] for m in service.mails()}) == 6
    view = client.get(f"/api/v1/newsletters/{draft['id']}", headers=coordinator[1]).json
    assert view["status"] == "sent" and view["progress"]["sent"] == 6


def test_cancel_racing_the_finish_of_a_fanout_does_not_deadlock(
    client: FlaskClient, coordinator: Auth, service: Service
) -> None:
    """The finish locks the fan-out, then the newsletter; cancel takes them in the same order."""
    service.add_recipient()
    _, fanout_id = frozen_newsletter(client, coordinator, service)
    engine = service.runtime.db.engine
    with engine.connect() as finisher:
        letter = finisher.scalar(
            text("SELECT cause FROM fanouts WHERE id = :id"), {"id": fanout_id}
        )
        finisher.execute(text("SELECT 1 FROM fanouts WHERE id = :id FOR UPDATE"), {"id": fanout_id})
        answers: list[Any] = []
        cancelling = threading.Thread(
            target=lambda: answers.append(
                client.post(f"/api/v1/newsletters/{letter}/cancel", headers=coordinator[1])
            )
        )
        cancelling.start()
        wait_until(
            lambda: lock_waiters(service.runtime.db.url) == 1,
            timeout=10,
            message="cancel waiting on a lock",
        )
        finisher.execute(
            text("UPDATE newsletters SET status = 'sent', finished_at = now() WHERE id = :id"),
            {"id": letter},
        )
        finisher.commit()
    cancelling.join(timeout=10)
    assert [answer.status_code for answer in answers] == [409]
    assert answers[0].json["detail"] == "The newsletter is already sent."


def frozen_newsletter(client: FlaskClient, auth: Auth, service: Service) -> tuple[Any, str]:
    """A newsletter sent by `auth`, its audience frozen: (the fan-outs, the fan-out's id)."""
    draft = create(client, auth)
    client.post(f"/api/v1/newsletters/{draft['id']}/send", headers=auth[1])
    fanouts = service.runtime.extra["services"].fanouts
    fanout_id = service.tasks.fanouts.pop(0)[0]
    assert fanouts.freeze(fanout_id)
    return fanouts, fanout_id


def step_with_final_hook(
    fanouts: Any,
    fanout_id: str,
    monkeypatch: pytest.MonkeyPatch,
    hook: Callable[[Mailer, Callable[[], Any]], Any],
) -> None:
    """One fan-out step whose mailer runs `hook(mailer, before_final)` right before the dot."""
    mailer_send = Mailer.send

    def send(self: Mailer, message: Any, before_final: Any = None, **options: Any) -> None:
        mailer_send(self, message, before_final=lambda: hook(self, before_final), **options)

    monkeypatch.setattr(Mailer, "send", send)
    fanouts.step(fanout_id, chain=False)
    monkeypatch.undo()


def test_a_lost_claim_drops_the_message_unsent(
    client: FlaskClient, coordinator: Auth, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = service.add_recipient()
    fanouts, fanout_id = frozen_newsletter(client, coordinator, service)

    def steal_then_mark(mailer: Mailer, before_final: Callable[[], Any]) -> Any:
        # Our lease ran out mid-message and another chain claimed the row.
        with service.runtime.db.transaction() as session:
            session.execute(text("UPDATE deliveries SET claimed_by = gen_random_uuid()"))
        return before_final()

    step_with_final_hook(fanouts, fanout_id, monkeypatch, steal_then_mark)
    assert service.mails(f"{member}@example.fi") == []  # no final dot: the server dropped it


def test_a_connection_lost_at_the_final_dot_leaves_the_message_to_send_again(
    client: FlaskClient, coordinator: Auth, service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = service.add_recipient()
    fanouts, fanout_id = frozen_newsletter(client, coordinator, service)

    def mark_then_cut(mailer: Mailer, before_final: Callable[[], Any]) -> Any:
        after = before_final()  # the mark is written, not committed
        assert mailer._smtp is not None and mailer._smtp.sock is not None
        mailer._smtp.sock.shutdown(socket.SHUT_RDWR)  # the dot cannot go out
        return after

    step_with_final_hook(fanouts, fanout_id, monkeypatch, mark_then_cut)
    assert service.mails(f"{member}@example.fi") == []
    with service.runtime.db.transaction() as session:
        [(status, sent_at)] = session.execute(
            text("SELECT status, sent_at FROM deliveries WHERE kind = 'newsletter'")
        ).all()
    assert status == "retrying" and sent_at is None  # not sent: it goes again after a backoff
