"""The JWT key and the internal token rotate under traffic with no 401: the running stack's
processes restart one at a time with the new settings, as a rolling update does them."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import requests
from uskalla_devstack.keys import ensure_dev_keys
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import stack_running
from uskalla_devstack.stack import SERVICES, Stack

from .journey import signed_in

pytestmark = pytest.mark.e2e

#: The processes that check tokens, in a rolling update's order.
VERIFIERS = (*(f"{service}-api" for service in SERVICES), "gateway")


class Traffic:
    """Requests through the gateway, one after another in a thread, until stopped: the member's
    own page (the bearer token, checked by the gateway and members) and their data export
    (the gateway's internal token to every service)."""

    def __init__(self, gateway: str, headers: dict[str, str]) -> None:
        self.gateway, self.headers = gateway, headers
        self.answers: Counter[str] = Counter()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            for path in ("/api/v1/members/me", "/api/v1/members/me/export"):
                try:
                    answer = requests.get(self.gateway + path, headers=self.headers, timeout=10)
                    self.answers[str(answer.status_code)] += 1
                except requests.ConnectionError:  # the gateway itself restarting
                    self.answers["no connection"] += 1

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        self.thread.join(30)


@pytest.fixture(scope="module")
def stack(
    postgres_server_url: str, redis_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, MailSink]]:
    var = tmp_path_factory.mktemp("rotation")
    with stack_running(postgres_server_url, redis_server_url, var, "rotation") as running:
        yield running


def roll(stack: Stack, processes: tuple[str, ...], **settings: str) -> None:
    """Restart each process with `settings`, one at a time, each ready before the next."""
    for name in processes:
        process = stack.processes[name]
        process.env = {**process.env, **settings}
        process.stop()
        process.start()
        stack.wait_ready()


def kid(headers: dict[str, str]) -> str:
    return str(jwt.get_unverified_header(headers["Authorization"].split()[1])["kid"])


@pytest.mark.timeout(600)  # four rolling updates of four processes each, one at a time
def test_keys_and_internal_token_rotate_under_traffic_without_a_401(
    stack: tuple[Stack, MailSink], tmp_path: Path
) -> None:
    running, sink = stack
    gateway = running.gateway_url
    old_public = Path(running.env["JWT_PUBLIC_KEY_FILE"])
    new_private, new_public = ensure_dev_keys(tmp_path / "new-keys")
    both = tmp_path / "jwt-public-both.pem"
    both.write_text(new_public.read_text() + old_public.read_text())
    old_token, new_token = running.env["INTERNAL_API_TOKEN"], "rotated-internal-token"

    member = signed_in(gateway, sink, "rotation@example.fi")
    first_kid = kid(member)
    with Traffic(gateway, member) as old_traffic:
        # 1. Everyone accepts both keys and both tokens; nothing is signed or sent anew yet.
        roll(
            running,
            VERIFIERS,
            JWT_PUBLIC_KEY_FILE=str(both),
            INTERNAL_API_TOKEN=f"{old_token},{new_token}",
        )
        # 2. Members signs with the new key.
        roll(running, ("members-api",), JWT_PRIVATE_KEY_FILE=str(new_private))
        renewed = signed_in(gateway, sink, "rotation.two@example.fi")
        assert kid(renewed) != first_kid
        with Traffic(gateway, renewed) as new_traffic:
            # 3. The gateway presents the new internal token.
            roll(running, VERIFIERS, INTERNAL_API_TOKEN=f"{new_token},{old_token}")
    assert old_traffic.answers["401"] == 0, old_traffic.answers
    assert new_traffic.answers["401"] == 0, new_traffic.answers
    assert old_traffic.answers["200"] >= 20 and new_traffic.answers["200"] >= 10
    assert set(old_traffic.answers) | set(new_traffic.answers) <= {
        "200",
        "502",
        "503",
        "no connection",
    }

    # 4. The old key and token retired: the new token works, one signed with the old key not.
    with Traffic(gateway, renewed) as last:
        roll(running, VERIFIERS, JWT_PUBLIC_KEY_FILE=str(new_public), INTERNAL_API_TOKEN=new_token)
    assert last.answers["401"] == 0 and last.answers["200"] >= 10, last.answers
    assert (
        requests.get(f"{gateway}/api/v1/members/me", headers=member, timeout=10).status_code == 401
    )
    me = requests.get(f"{gateway}/api/v1/members/me", headers=renewed, timeout=10).json()
    export = f"{running.service_url('members')}/internal/v1/members/{me['id']}/export"
    for token, status in ((old_token, 401), (new_token, 200)):
        answer = requests.get(export, headers={"X-Internal-Token": token}, timeout=10)
        assert answer.status_code == status, (token, answer.text)
