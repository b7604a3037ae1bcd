"""The member's workspace in Chromium, in Finnish and Swedish: their experiments (a draft
too), the experiments they follow (an owner follows their own) and unfollowing, their gathering
registrations with status, their interests set by the form; a comment of theirs edited and
deleted; the privacy notice and accessibility statement. axe-core and the Nu HTML checker
check every page visited."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import COORDINATOR, System
from .journey import assert_standards, join_and_confirm, mail_count, shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
DESKTOP = {"width": 1280, "height": 900}


def new_experiment(page: Any, base: str, title: str, publish: bool) -> str:
    """Registers an experiment through the form (published or left a draft); its path."""
    page.goto(f"{base}/experiments/new")
    page.fill("#f-title", title)
    page.fill("#f-summary", "Kokeillaan yhdessä, opitaan yhdessä.")
    page.select_option("#f-kind", "experiment")
    page.select_option("#f-scale", "small")
    page.check("#f-theme-digital-municipality")
    page.select_option("#f-municipality_codes", ["049"])
    page.fill("#f-organisation", "Espoon kaupunki")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/experiments/[0-9a-f-]{36}\?notice=created$"))
    url: str = page.url
    path = "/" + url.split("?", maxsplit=1)[0].split("/", 3)[3]
    if publish:
        page.click("form[action$='/publish'] button")
        page.wait_for_selector(".notice:has-text('Julkaistu')")
    return path


def published_gathering(coord: Any, base: str, title: str) -> str:
    """A coordinator publishes a gathering through the form; its id."""
    coord.goto(f"{base}/coordinators/gatherings/new")
    coord.fill("#f-title", title)
    coord.select_option("#f-kind", "forum")
    coord.fill("#f-description", "Kokeilijat kertovat, mitä oppivat.")
    coord.fill("#f-starts_at", "2031-09-10T09:00")
    coord.fill("#f-ends_at", "2031-09-10T12:00")
    coord.fill("#f-location", "Kuntatalo, Helsinki")
    coord.fill("#f-capacity", "40")
    coord.click("main form button[type=submit]")
    coord.wait_for_url(re.compile(r".*/coordinators/gatherings/[0-9a-f-]{36}\?notice=saved$"))
    gathering_id = str(coord.url.split("/")[-1].split("?")[0])
    coord.click("form[action$='/publish'] button")
    coord.wait_for_selector(".notice:has-text('Julkaistu')")
    return gathering_id


@pytest.mark.timeout(900)  # a stack of its own, and a Java start for every page checked
def test_member_workspace_in_finnish_and_swedish(
    system: System, chromium: Any, screenshots: Path
) -> None:
    base, mail = system.gateway_url, system.mail
    member = f"ville.{uuid.uuid4().hex[:8]}@example.fi"
    coordinator = os.environ.get("BROWSER_COORDINATOR", COORDINATOR)
    errors: list[str] = []
    context = chromium.new_context(viewport=DESKTOP, locale="fi-FI")
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda dialog: dialog.accept())

    # The notices every page links to, before joining (the consent box points to one).
    page.goto(f"{base}/join")
    page.click("#privacy-link a")
    page.wait_for_selector("h1:has-text('Tietosuojaseloste')")
    assert "Versio 2026-01" in page.inner_text("#privacy-version")
    assert_standards(page)
    page.goto(f"{base}/sv/")
    page.click("footer a[href='/sv/accessibility']")
    page.wait_for_selector("h1:has-text('Tillgänglighetsutlåtande')")
    assert "WCAG 2.1" in page.inner_text("#conformance")
    assert_standards(page)

    join_and_confirm(page, base, mail, member, "Ville Virtanen")
    sign_in(page, base, mail, member)
    published = new_experiment(page, base, "Yhteinen kirjastoauto", publish=True)
    draft = new_experiment(page, base, "Luonnos: kyläkoulu iltaisin", publish=False)

    # A coordinator publishes a gathering; the member registers for it.
    coord = chromium.new_context(viewport=DESKTOP, locale="fi-FI").new_page()
    if mail_count(mail, coordinator) == 0:
        join_and_confirm(coord, base, mail, coordinator, "Kaisa Koordinaattori")
    sign_in(coord, base, mail, coordinator)
    gathering_id = published_gathering(coord, base, "Kokeilufoorumi syksyllä")
    page.goto(f"{base}/gatherings/{gathering_id}")
    page.click("form[action$='/register'] button")
    page.wait_for_selector(".notice:has-text('Olet ilmoittautunut')")

    # The workspace, from the navigation: a draft and the published one, the published one
    # followed (owners follow their own experiments), the registration with its status.
    page.goto(f"{base}/")
    page.click("nav a[href='/workspace']")
    page.wait_for_selector("h1:has-text('Oma työtila')")
    mine = page.locator("#my-experiments")
    assert mine.locator(f"a[href='{draft}']").count() == 1
    assert "Luonnos" in mine.locator("li", has_text="kyläkoulu").inner_text()
    assert mine.locator(f"a[href='{published}']").count() == 1
    follows = page.locator("#my-follows")
    assert follows.locator(f"a[href='{published}']").count() == 1
    row = page.locator("#my-registrations tr", has_text="Kokeilufoorumi syksyllä")
    assert "ilmoittautunut" in row.inner_text()
    assert row.locator(f"a[href='/gatherings/{gathering_id}']").count() == 1
    assert_standards(page)
    shot(page, screenshots, "w01-workspace-fi")

    # Interests, in Swedish: a theme, two municipalities, a daily digest.
    page.goto(f"{base}/sv/workspace")
    page.wait_for_selector("h1:has-text('Min arbetsyta')")
    assert "anmäld" in page.inner_text("#my-registrations")
    page.check("#f-theme-digital-municipality")
    page.select_option("#f-municipality_codes", ["049", "091"])
    page.check("#f-digest-daily")
    page.click("#interests button[type=submit]")
    page.wait_for_selector(".notice:has-text('Sparat')")
    assert page.url.endswith("/sv/workspace?notice=saved#interests-h")
    assert page.is_checked("#f-theme-digital-municipality")
    assert page.is_checked("#f-digest-daily")
    chosen = page.eval_on_selector_all(
        "#f-municipality_codes option:checked", "options => options.map(o => o.value)"
    )
    assert sorted(chosen) == ["049", "091"]
    interests = page.request.get(f"{base}/api/v1/members/me/interests").json()
    assert interests["digest"] == "daily"
    assert sorted(interests["municipality_codes"]) == ["049", "091"]
    assert interests["themes"] == ["digital-municipality"]
    assert_standards(page)
    shot(page, screenshots, "w02-workspace-sv-interests")

    # Unfollow from the workspace (sv): gone from the list, the experiment page agrees.
    page.click(
        f"#my-follows form[action='/sv/workspace/follows/{published.split('/')[-1]}"
        "/unfollow'] button"
    )
    page.wait_for_selector(".notice:has-text('Du följer inte längre försöket.')")
    assert page.locator(f"#my-follows a[href='/sv{published}']").count() == 0
    assert_standards(page)

    # A comment of the member's own: edited on its page (a refusal shown in Swedish first),
    # then deleted there.
    page.goto(f"{base}{published}")
    page.fill("#f-body", "Ensimmäinen ajatus")
    page.click("form.comment-form button[type=submit]")
    page.wait_for_selector(".notice:has-text('Kommenttisi on julkaistu')")
    page.goto(f"{base}/sv{published}")
    page.click("a.comment-edit")
    page.wait_for_selector("h1:has-text('Redigera din kommentar')")
    assert page.input_value("#f-body") == "Ensimmäinen ajatus"
    assert_standards(page)
    page.fill("#f-body", "   ")
    page.click("form.comment-form button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert "Skriv en kommentar." in page.inner_text(".error-summary")
    assert "blank" not in page.inner_text("main")
    assert_standards(page)
    page.fill("#f-body", "Toinen, parempi ajatus: https://example.fi/auto")
    page.click("form.comment-form button[type=submit]")
    page.wait_for_selector(".notice:has-text('Din kommentar har redigerats.')")
    comment = page.locator(".comment", has_text="Toinen, parempi ajatus")
    assert comment.locator("a[href='https://example.fi/auto']").count() == 1
    assert "redigerad" in comment.inner_text()
    assert_standards(page)
    shot(page, screenshots, "w03-comment-edited-sv")
    comment.locator("a.comment-edit").click()
    page.wait_for_selector("h1:has-text('Redigera din kommentar')")
    page.click("main form[action$='/delete'] button")  # confirmed in the dialog
    page.wait_for_url(re.compile(rf".*/sv{published}\?notice=saved$"))
    assert page.locator(".comment", has_text="parempi ajatus").count() == 0
    assert_standards(page)

    # Back in Finnish: the workspace after all that.
    page.goto(f"{base}/workspace")
    assert page.locator(f"#my-follows a[href='{published}']").count() == 0
    assert page.is_checked("#f-digest-daily")
    assert_standards(page)
    context.close()
    # The one refused edit's 422 is the only thing the browser complains of.
    assert [e for e in errors if "status of 422" not in e] == [], errors
    assert len(errors) == 1, errors
