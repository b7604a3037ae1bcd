"""A scheduled newsletter goes out by itself at its time, once, with two relays (the
schedulers) running side by side against the same database."""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import Process

from .test_emails import Notifications, make_token_module, notifications  # noqa: F401

pytestmark = pytest.mark.e2e


def test_two_relays_send_a_scheduled_newsletter_once(
    notifications: Notifications,  # noqa: F811
    tmp_path: Path,
) -> None:
    n = notifications
    readers = [str(uuid.uuid4()) for _ in range(30)]
    for member_id in readers:
        n.sql(
            "INSERT INTO recipients (member_id, email, name, language, organisation, newsletter,"
            " invitations, active, themes) VALUES (%s, %s, 'Lukija', 'fi', '', true, false, true,"
            " '[]') RETURNING member_id",
            (member_id, f"{member_id}@scheduled.e2e.fi"),
        )
    script = str(Path(sys.executable).parent / "notifications")
    second = Process(
        "notifications-relay-2", [script, "relay"], n.env, tmp_path / "relay.log", echo=False
    )
    second.start()
    try:
        draft = n.api(
            "POST", "/api/v1/newsletters", json={"subject": "Ajastettu kirje", "body": "Hei!"}
        ).json()
        send_at = datetime.now(UTC) + timedelta(seconds=4)
        scheduled = n.api(
            "POST",
            f"/api/v1/newsletters/{draft['id']}/schedule",
            json={"send_at": send_at.isoformat()},
        )
        assert scheduled.status_code == 200 and scheduled.json()["status"] == "scheduled"
        assert n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()["status"] == "scheduled"
        wait_until(
            lambda: n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()["status"] == "sent",
            timeout=120,
            message="the scheduled newsletter sent",
        )
    finally:
        second.stop()
    view = n.api("GET", f"/api/v1/newsletters/{draft['id']}").json()
    assert datetime.fromisoformat(view["send_requested_at"]) >= send_at  # not before its time
    time.sleep(2)  # any duplicate would have arrived by now
    got = Counter(m["to"][0] for m in n.sink.store.messages() if m["subject"] == "Ajastettu kirje")
    assert {f"{r}@scheduled.e2e.fi" for r in readers} <= set(got)
    assert set(got.values()) == {1}, got.most_common(3)
    [fanouts] = n.sql("SELECT count(*) FROM fanouts WHERE cause = %s", (draft["id"],))
    assert fanouts == (1,)
