"""Browser fixtures: the whole system (with a coordinator bootstrapped), Chromium, screenshots.

Set BROWSER_GATEWAY_URL and BROWSER_MAIL_DIR to drive an already running system (`make dev`)
instead of starting one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from uskalla_devstack.pytest_plugin import stack_running
from uskalla_mailsink import MailStore

CHROMIUM = "/usr/bin/chromium"
COORDINATOR = "koordinaattori@example.fi"
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"


@dataclass
class System:
    gateway_url: str
    mail: MailStore


@pytest.fixture(scope="module")
def system(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    given = os.environ.get("BROWSER_GATEWAY_URL")
    if given:
        yield System(given.rstrip("/"), MailStore(Path(os.environ["BROWSER_MAIL_DIR"])))
        return
    with stack_running(
        postgres_server_url,
        redis_server_url,
        tmp_path_factory.mktemp("browser-stack"),
        "browser",
        {"BOOTSTRAP_COORDINATORS": COORDINATOR},
    ) as (stack, sink):
        yield System(stack.gateway_url, sink.store)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
