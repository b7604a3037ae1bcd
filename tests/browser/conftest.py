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
import redis
from uskalla_devstack.mail import MailSink
from uskalla_devstack.servers import free_port
from uskalla_devstack.stack import Stack, StackConfig
from uskalla_mailsink import MailStore

CHROMIUM = "/usr/bin/chromium"
COORDINATOR = "koordinaattori@example.fi"
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright")


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
    var = tmp_path_factory.mktemp("browser-stack")
    client = redis.Redis.from_url(redis_server_url)
    client.flushdb()
    client.close()
    sink = MailSink(var / "mail", "127.0.0.1", free_port())
    stack = Stack(
        StackConfig(
            postgres_url=postgres_server_url,
            redis_url=redis_server_url,
            smtp_host=sink.host,
            smtp_port=sink.smtp_port,
            var_dir=var,
            gateway_port=free_port(),
            database_prefix=f"browser_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_",
            fresh_databases=True,
            echo=False,
            extra_env={
                "RATE_LIMITS": "off",
                "RELAY_INTERVAL": "0.5",
                "CELERY_VISIBILITY_TIMEOUT": "8",
                "WORKER_CONCURRENCY": "4",
                "BOOTSTRAP_COORDINATORS": COORDINATOR,
            },
        )
    )
    try:
        stack.start()
        yield System(stack.gateway_url, sink.store)
    finally:
        stack.stop()
        sink.stop()


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
