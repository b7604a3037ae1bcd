"""The whole journey in Chromium: join, confirm, sign in, register an experiment, comment,
register for a gathering (the calendar feed's link, in fi and sv), see it cancelled by a
coordinator and get told; a past gathering's page with what it left behind (fi and sv); a
coordinator previews a newsletter (the mail itself), sends it and watches the progress bar,
and the public archive shows it as sent; the member's mail bounces: their page says so, the
coordinator lifts the suppression. axe-core and the Nu HTML checker check every page of the
site the journey shows (the newsletter's preview and archived copy are the mail itself)."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from .conftest import COORDINATOR, System
from .journey import (
    Pages,
    join_and_confirm,
    mail_count,
    past_gathering,
    shot,
    sign_in,
    wait_for_subject,
)

# The whole journey, with the Nu checker (a Java VM a run) on a shared machine: 300 s is too little.
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(1800)]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def test_member_and_coordinator_journey(system: System, chromium: Any, screenshots: Path) -> None:
    base, mail = system.gateway_url, system.mail
    member = f"maija.{uuid.uuid4().hex[:8]}@example.fi"
    coordinator = os.environ.get("BROWSER_COORDINATOR", COORDINATOR)
    errors: list[str] = []
    pages = Pages(screenshots)  # every page: a picture, axe-core, and the Nu checker at the end

    member_ctx = chromium.new_context(viewport=DESKTOP, locale="fi-FI")
    page = member_ctx.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    pages.look(page, "01-home")
    page.goto(f"{base}/join")
    pages.look(page, "02-join")

    # Member: join, confirm from the e-mail, sign in by the e-mailed link.
    join_and_confirm(page, base, mail, member, "Maija Meikäläinen")
    pages.look(page, "03-confirmed")
    sign_in(page, base, mail, member)
    assert page.input_value("#f-name") == "Maija Meikäläinen"
    pages.look(page, "04-my-page")

    # Register an experiment, publish it, comment on it.
    page.goto(f"{base}/experiments/new")
    page.fill("#f-title", "Kirjasto auki iltaisin")
    page.fill("#f-summary", "Omatoimikirjasto ilman henkilökuntaa iltaisin.")
    page.select_option("#f-kind", "experiment")
    page.select_option("#f-scale", "small")
    page.check("#f-theme-digital-municipality")
    page.select_option("#f-municipality_codes", ["049"])
    page.fill("#f-organisation", "Espoon kaupunki")
    pages.look(page, "05-experiment-form")
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/experiments/[0-9a-f-]{36}\?notice=created$"))
    experiment_url = page.url.split("?")[0]
    page.click("form[action$='/publish'] button")
    page.wait_for_selector(".notice:has-text('Julkaistu')")
    page.fill("#f-body", "Hieno kokeilu!\nLisätietoa: https://example.fi/kirjasto")
    page.click("form.comment-form button[type=submit]")
    page.wait_for_selector(".notice:has-text('Kommenttisi on julkaistu')")
    comment = page.locator(".comment-body").last
    assert comment.locator("a[href='https://example.fi/kirjasto']").count() == 1
    assert "HTML-merkintöjä ei sallita" in page.inner_text("#f-body-hint")
    pages.look(page, "06-experiment-detail")

    # Coordinator: join (bootstrapped as coordinator), sign in, publish a gathering.
    coord_ctx = chromium.new_context(viewport=DESKTOP, locale="fi-FI")
    coord = coord_ctx.new_page()
    coord.on("dialog", lambda dialog: dialog.accept())
    if mail_count(mail, coordinator) == 0:
        join_and_confirm(coord, base, mail, coordinator, "Kaisa Koordinaattori")
    sign_in(coord, base, mail, coordinator)
    coord.goto(f"{base}/coordinators")
    pages.look(coord, "07-coordinators")
    coord.goto(f"{base}/coordinators/gatherings/new")
    coord.fill("#f-title", "Tarinapaja Espoossa")
    coord.select_option("#f-kind", "tarinapaja")
    coord.fill("#f-description", "Kehitetään omia kokeiluideoita yhdessä.")
    coord.fill("#f-starts_at", "2031-05-20T10:00")
    coord.fill("#f-ends_at", "2031-05-20T15:00")
    coord.fill("#f-location", "Espoon kulttuurikeskus")
    coord.fill("#f-capacity", "30")
    coord.click("main form button[type=submit]")
    coord.wait_for_url(re.compile(r".*/coordinators/gatherings/[0-9a-f-]{36}\?notice=saved$"))
    gathering_id = coord.url.split("/")[-1].split("?")[0]
    coord.click("form[action$='/publish'] button")
    coord.wait_for_selector(".notice:has-text('Julkaistu')")
    coord.goto(f"{base}/coordinators/gatherings")
    pages.look(coord, "08-gatherings-admin")

    # Member: register for the gathering; the calendar link is there.
    page.goto(f"{base}/gatherings")
    pages.look(page, "09-gatherings")
    page.goto(f"{base}/gatherings/{gathering_id}")
    page.click("form[action$='/register'] button")
    page.wait_for_selector(".notice:has-text('Olet ilmoittautunut')")
    assert page.locator(f"a[href='/api/v1/gatherings/{gathering_id}/calendar.ics']").count() == 1
    pages.look(page, "10-gathering-registered")

    # The gatherings page offers the calendar feed to subscribe to (fi and sv); a coordinator
    # cancels the gathering: it shows as cancelled, and the member is told by e-mail.
    page.goto(f"{base}/gatherings")
    feed = page.locator("a#webcal").get_attribute("href") or ""
    assert feed.startswith("webcal://") and feed.endswith("/api/v1/gatherings/calendar.ics")
    pages.look(page, "09a-gatherings-feed")
    page.goto(f"{base}/sv/gatherings")
    assert "Prenumerera på evenemangskalendern" in page.inner_text("a#webcal")
    pages.look(page, "09b-sv-gatherings")
    before_cancel = mail_count(mail, member)
    coord.goto(f"{base}/coordinators/gatherings/{gathering_id}")
    coord.click(f"a[href='/coordinators/gatherings/{gathering_id}/registrations']")
    assert member in coord.locator("#registrants tr", has_text="ilmoittautunut").inner_text()
    pages.look(coord, "10-registrations")
    coord.goto(f"{base}/coordinators/gatherings/{gathering_id}")
    coord.click("form[action$='/call-off'] button")
    coord.wait_for_selector(".notice:has-text('Peruttu')")
    pages.look(coord, "10a-gathering-cancelled-admin")
    page.goto(f"{base}/gatherings/{gathering_id}")
    assert "Tämä tapahtuma on peruttu." in page.inner_text("#cancelled")
    assert page.locator("form[action$='/register']").count() == 0
    pages.look(page, "10b-gathering-cancelled")
    page.goto(f"{base}/sv/gatherings/{gathering_id}")
    assert "Det här evenemanget är inställt." in page.inner_text("#cancelled")
    pages.look(page, "10b-sv-gathering-cancelled")
    wait_for_subject(mail, member, "Peruttu: Tarinapaja Espoossa", before_cancel)

    # After a gathering: attendance, summary, materials and the experiment discussed, set by the
    # coordinator; its page (fi, sv) and the past gatherings list show them.
    past_id = past_gathering(page, coord, base, experiment_url)
    pages.look(page, "10c-sv-past-gatherings")
    page.goto(f"{base}/gatherings/{past_id}")
    pages.look(page, "10d-past-gathering")

    # Coordinator: compose, preview, test-send, send; watch the progress bar fill.
    coord.goto(f"{base}/coordinators/newsletters/new")
    coord.fill("#f-subject", "Kevään kokeilukirje")
    coord.fill("#f-body", "# Hei verkosto!\n\nUusia **kokeiluja** on julkaistu.")
    coord.check("#f-public")  # into the public archive once sent
    coord.click("main form button[value=save]")
    coord.wait_for_url(re.compile(r".*/coordinators/newsletters/[0-9a-f-]{36}\?notice=created$"))
    newsletter_id = coord.url.split("/")[-1].split("?")[0]
    with coord_ctx.expect_page() as opened:  # the preview is the mail itself, in a new tab
        coord.click("main form button[value=preview]")
    preview = opened.value
    preview.wait_for_selector("td.masthead:has-text('MeUskaltajat')")
    assert preview.locator("h1", has_text="Hei verkosto!").count() == 1
    shot(preview, screenshots, "11-newsletter-preview")  # a mail, not a page of the site
    preview.close()
    before = mail_count(mail, coordinator)
    coord.click("form[action$='/test'] button")
    coord.wait_for_selector(".notice:has-text('Testiviesti')")
    wait_for_subject(mail, coordinator, "Kevään kokeilukirje", before)
    member_before = mail_count(mail, member)
    coord.click("form[action$='/send'] button")
    coord.wait_for_selector("[data-newsletter-progress]")
    pages.look(coord, "12-newsletter-sending")
    coord.wait_for_function(
        "() => { const p = document.querySelector('[data-newsletter-progress]');"
        " const bar = p.querySelector('progress');"
        " return p.dataset.status === 'sent' && bar.value === bar.max && bar.max > 0; }",
        timeout=90_000,
    )
    assert "Lähetetty" in coord.inner_text("[data-field=status]")
    pages.look(coord, "13-newsletter-sent")
    wait_for_subject(mail, member, "Kevään kokeilukirje", member_before)

    # Anyone: the archive lists the sent public newsletter and shows it as it was sent.
    page.goto(f"{base}/")
    page.click("footer a[href='/newsletters']")
    page.wait_for_selector("h1:has-text('Uutiskirjearkisto')")
    pages.look(page, "13a-archive")
    page.click(f"a[href='/newsletters/{newsletter_id}']")
    page.wait_for_selector("td.masthead:has-text('MeUskaltajat')")
    assert page.locator("h1", has_text="Hei verkosto!").count() == 1
    shot(page, screenshots, "13b-archived-newsletter")  # the mail as sent
    page.goto(f"{base}/sv/newsletters")
    pages.look(page, "13c-sv-archive")

    # The rest of the main pages.
    for name, path in (
        ("14-experiments", "/experiments?q=kirjasto"),
        ("15-statistics", "/statistics"),
        ("16-api-docs", "/api/docs"),
        ("17-sv-home", "/sv/"),
        ("18-en-experiments", "/en/experiments"),
    ):
        page.goto(base + path)
        pages.look(page, name)
    coord.goto(f"{base}/coordinators/members")
    pages.look(coord, "19-members")
    coord.goto(f"{base}/coordinators/moderation")
    pages.look(coord, "20-moderation")

    # The member's address bounces (reported by hand here; tests/e2e sends real DSNs): their
    # page says so, the coordinator sees it among the suppressions and lifts it.
    bounced = coord.request.post(
        f"{base}/api/v1/bounces",
        data={"email": member, "kind": "hard", "reason": "550 5.1.1 user unknown"},
        headers={
            "X-CSRF-Token": coord.evaluate(
                "document.querySelector('meta[name=csrf-token]').content"
            )
        },
    )
    assert bounced.ok, bounced.text()
    page.goto(f"{base}/me")
    for _ in range(60):  # members hears notifications.address.bounced.v1 through the broker
        if page.locator("#undeliverable-title").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "Viestimme eivät tavoita sinua" in page.inner_text("main")
    pages.look(page, "20a-my-page-undeliverable")
    coord.goto(f"{base}/coordinators")
    coord.click("a[href='/coordinators/suppressions']")
    row = coord.locator("tr", has_text=member)
    assert "Merkitty käsin" in row.inner_text()
    pages.look(coord, "20b-suppressions")
    row.locator("button").click()
    coord.wait_for_selector(".notice:has-text('Esto poistettu')")
    assert coord.locator("tr", has_text=member).count() == 0
    pages.look(coord, "20c-suppression-lifted")
    phone = chromium.new_context(viewport=PHONE, is_mobile=True).new_page()
    phone.goto(f"{base}/")
    pages.look(phone, "21-phone-home")
    phone.goto(experiment_url)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    pages.look(phone, "22-phone-experiment")
    assert not errors, errors
    pages.assert_valid()
