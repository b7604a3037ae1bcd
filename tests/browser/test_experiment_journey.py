"""An experiment's page in Chromium, in Finnish and Swedish: its municipalities, kind and scale
in the page's language, its description linked by the comments' rules, and a member following
and unfollowing it by the button. axe-core and the Nu HTML checker check the page in every
state."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import System
from .journey import join_and_confirm, shot, sign_in, unfollow_and_follow

# A stack of its own and the Nu checker (Java) on four pages: more than the default 300 s on a
# loaded machine.
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(900)]
DESKTOP = {"width": 1280, "height": 900}


def test_an_experiment_page_is_followed_and_unfollowed_in_fi_and_sv(
    system: System, chromium: Any, screenshots: Path
) -> None:
    base, mail = system.gateway_url, system.mail
    owner = f"olli.{uuid.uuid4().hex[:8]}@example.fi"
    reader = f"lotta.{uuid.uuid4().hex[:8]}@example.fi"
    errors: list[str] = []
    context = chromium.new_context(viewport=DESKTOP, locale="fi-FI")
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # The owner registers and publishes an experiment with a description holding an address
    # and an e-mail address, in two municipalities.
    join_and_confirm(page, base, mail, owner, "Olli Omistaja")
    sign_in(page, base, mail, owner)
    page.goto(f"{base}/experiments/new")
    page.fill("#f-title", "Kirjasto auki iltaisin")
    page.fill("#f-summary", "Omatoimikirjasto ilman henkilökuntaa iltaisin.")
    page.fill("#f-description", "Aukioloajat: https://example.fi/kirjasto-ilta\nkysy@example.fi")
    page.select_option("#f-kind", "pilot")
    page.select_option("#f-scale", "large")
    page.select_option("#f-municipality_codes", ["049", "091"])
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/experiments/[0-9a-f-]{36}\?notice=created$"))
    path = "/" + page.url.split("?", maxsplit=1)[0].split("/", 3)[3]
    page.click("form[action$='/publish'] button")
    page.wait_for_selector(".notice:has-text('Julkaistu')")

    facts = page.inner_text("dl.facts")
    assert "Pilotti" in facts and "Suuri" in facts and "Espoo, Helsinki" in facts, facts
    description = page.locator(".description")
    assert description.locator("a[href='https://example.fi/kirjasto-ilta']").count() == 1
    assert description.locator("a[href='mailto:kysy@example.fi']").count() == 1
    # The owner follows their own experiment: they can stop and follow again (fi and sv).
    unfollow_and_follow(page, base, path, "fi")
    shot(page, screenshots, "30-experiment-followed")
    unfollow_and_follow(page, base, path, "sv")
    facts = page.inner_text("dl.facts")
    assert "Pilot" in facts and "Stor" in facts and "Esbo, Helsingfors" in facts, facts
    shot(page, screenshots, "31-sv-experiment-followed")

    # Another member follows it first (the button), then stops (Swedish page).
    other = chromium.new_context(viewport=DESKTOP, locale="sv-SE").new_page()
    join_and_confirm(other, base, mail, reader, "Lotta Läsare")
    sign_in(other, base, mail, reader)
    other.goto(f"{base}/sv{path}")
    assert "Följare: 1." in other.inner_text("#follow")
    other.click("#follow button:text-is('Följ försöket')")
    other.wait_for_selector("#follow strong:has-text('Du följer det här försöket.')")
    assert "Följare: 2." in other.inner_text("#follow")
    other.click("#follow button:text-is('Sluta följa försöket')")
    other.wait_for_selector("#follow button:text-is('Följ försöket')")
    assert "Följare: 1." in other.inner_text("#follow")
    assert not errors, errors
