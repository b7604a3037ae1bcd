"""The coordinator's preview is the newsletter as sent: the gateway's composer page shows the
document notifications' preview renders, and it is the HTML part of every reader's mail (the
same layout, the same CSS inlined), but for the reader's own unsubscribe link."""

from __future__ import annotations

import json
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path

import pytest
from gateway.config import Settings
from gateway.session import SESSION_COOKIE
from gateway.ui.pages_archive import MAIL_CSP
from notifications.adapters.composer import Composer, Outgoing, newsletter_context
from notifications.adapters.models import Newsletter
from notifications.config import Settings as NotificationsSettings
from notifications.service_layer.newsletters import Archive

from gateway import create_app

sys.path.insert(0, str(Path(__file__).parents[2] / "gateway" / "tests"))
from stub_service import StubService

#: A heading, emphasis, a list, a link, raw HTML (escaped, never passed), a table, a quote.
BODY = """# Kevään uutiset

Hei *kaikki*, tässä **tärkeimmät**:

- [Tarinapaja](https://uskalla.test/gatherings/x) Tampereella
- kokeilut ~~ennen~~ nyt

<script>alert("x")</script> <b>lihava</b>

| kunta | kokeiluja |
|---|--:|
| Tampere | 3 |

> lainaus & "merkit"
"""


@pytest.fixture
def stubs() -> Iterator[dict[str, StubService]]:
    """The services the composer page asks (themes, municipalities, the draft), stood in for."""
    started = {
        name: StubService(name).start() for name in ("members", "experiments", "notifications")
    }
    yield started
    for stub in started.values():
        stub.stop()


def test_the_preview_is_the_sent_newsletter(
    service_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    make_token: Callable[..., str],
    redis_url: str,
    stubs: dict[str, StubService],
) -> None:
    monkeypatch.setenv("NOTIFICATIONS_DATABASE_URL", "postgresql://unused@127.0.0.1/unused")
    composer = Composer(NotificationsSettings.from_env())
    newsletter_id = str(uuid.uuid4())
    notifications = stubs["notifications"]
    notifications.answers[("GET", f"/api/v1/newsletters/{newsletter_id}")] = (
        200,
        {"id": newsletter_id, "subject": "Kevät", "body": "", "status": "draft"},
    )
    # notifications' own preview code answers the gateway, as the service would.
    notifications.answers[("POST", "/api/v1/newsletters/preview")] = lambda seen: (
        200,
        Archive(composer).preview(**json.loads(seen.body)),
    )
    app = create_app(
        Settings(
            services={name: stub.url for name, stub in stubs.items()},
            redis_url=redis_url,
            jwt_public_key=Path(service_env["JWT_PUBLIC_KEY_FILE"]).read_text(),
            jwt_issuer="uskalla-members",
            jwt_audience="uskalla",
            internal_token=service_env["INTERNAL_API_TOKEN"],
            rate_limits=False,
        )
    )
    browser = app.test_client()
    browser.set_cookie(SESSION_COOKIE, make_token(str(uuid.uuid4()), role="coordinator"))
    page_path = f"/en/coordinators/newsletters/{newsletter_id}"
    form = browser.get(page_path).get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', form)
    assert csrf, form
    answer = browser.post(
        page_path,
        data={"csrf_token": csrf.group(1), "action": "preview", "subject": "Kevät", "body": BODY},
    )
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    # The mail document alone, under a policy that lets its inline styles work and no more.
    assert answer.headers["Content-Security-Policy"] == MAIL_CSP
    preview = answer.get_data(as_text=True)
    asked = json.loads(notifications.seen[-1].body)
    assert asked == {"subject": "Kevät", "body": BODY, "language": "en"}

    reader = uuid.uuid4()
    message = composer.compose(
        Outgoing(
            id=uuid.uuid4(),
            kind="newsletter",
            email="lukija@example.fi",
            language="en",
            cause=newsletter_id,
            message_id="<preview@uskalla.test>",
            member_id=reader,
        ),
        newsletter_context(Newsletter(subject="Kevät", body=BODY)),
    )
    [html_part] = [p for p in message.walk() if p.get_content_type() == "text/html"]
    sent = _decoded(html_part)
    token = str(message["List-Unsubscribe"]).split("token=")[1].rstrip(">")
    # The same document, but for the reader's own unsubscribe link (the preview is nobody's).
    mine = f"https://uskalla.test/en/unsubscribe?token={token}"
    assert mine in sent
    assert preview == sent.replace(mine, "https://uskalla.test/en/me")
    # What the comparison is about is all there, and raw HTML is shown, never passed.
    for made in ("<h1 ", "<li><a href=", "<table ", "<blockquote ", "&lt;script&gt;"):
        assert made in preview, made
    assert "<script" not in preview and "<b>" not in preview


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")
