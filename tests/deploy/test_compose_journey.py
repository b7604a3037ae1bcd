"""The real stack: `docker-compose up --build`, sign up through the gateway, read both e-mails;
a real DSN (RFC 3464, a hard bounce) for a delivered e-mail's VERP envelope sender goes over
SMTP to the compose bounce receiver, and the public API shows the address suppressed and the
member undeliverable; then the disaster-recovery drill (deploy/backup-drill.sh: dump, drop,
restore every database) and the member signs in afterwards."""

from __future__ import annotations

import json
import os
import re
import shutil
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "uskalla-ci"
GATEWAY = "http://localhost:8080"
MAIL = "http://localhost:8025"
#: The bounce receiver's port, published on localhost by docker-compose.yml.
BOUNCE_PORT = int(os.environ.get("BOUNCE_PORT", "2526"))
#: A coordinator from the start (BOOTSTRAP_COORDINATORS): reads the suppressions.
COORDINATOR = "ci-koordinaattori@example.fi"
#: docker-compose.yml reads BOOTSTRAP_COORDINATORS from the environment; every compose
#: command (the drill's too) gets the same, so that none recreates a container with another.
ENV = {**os.environ, "BOOTSTRAP_COORDINATORS": COORDINATOR}
#: The sample DSNs of real MTAs (notifications' tests fill them the same way).
SAMPLES = ROOT / "services" / "notifications" / "tests" / "bounces"
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")
#: Who joined in the journey (the drill then checks they are still there).
JOINED: list[str] = []

pytestmark = [pytest.mark.deploy, pytest.mark.docker, pytest.mark.e2e]

#: The one-shot services (keygen, each service's migrate): `restart: "no"` in the file.
ONE_SHOTS = [
    name
    for name, service in yaml.safe_load((ROOT / "docker-compose.yml").read_text())[
        "services"
    ].items()
    if str(service.get("restart")) in ("no", "False")
]
#: `up` in stages: docker-compose 1.29, on a machine loaded by the rest of the suite, has
#: created a one-shot that several services wait for twice at once ("Conflict. The container
#: name ... is already in use", then `_2` copies). Images first; then keygen, which every
#: migrate waits for; then the migrates; then the rest, which finds them done.
STAGES = [
    ("build",),
    ("up", "-d", "keygen"),
    ("up", "-d", *(name for name in ONE_SHOTS if name != "keygen")),
    ("up", "-d"),
]


def compose(
    *args: str, timeout: float = 900, check: bool = True
) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary is not None
    out = subprocess.run(
        [binary, "-p", PROJECT, "-f", str(ROOT / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=ROOT,
        env=ENV,
    )
    if check:
        assert out.returncode == 0, f"docker-compose {' '.join(args)}:\n{out.stderr[-4000:]}"
    return out


def http(
    method: str,
    url: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, raw.decode(errors="replace")


def unhealthy_containers() -> list[str]:
    """Long-running containers not (yet) healthy, and one-shots that failed."""
    ids = compose("ps", "-q", timeout=60).stdout.split()
    out = subprocess.run(
        ["docker", "inspect", *ids], capture_output=True, text=True, check=True, timeout=60
    )
    bad = []
    for container in json.loads(out.stdout):
        state, name = container["State"], container["Name"].lstrip("/")
        if state["Status"] == "exited":
            if state["ExitCode"] != 0:
                bad.append(f"{name} exited {state['ExitCode']}")
        elif state.get("Health", {}).get("Status", "healthy") != "healthy":
            bad.append(f"{name} {state.get('Health', {}).get('Status')}")
    return bad


def health_report() -> str:
    """Each container that is not running healthy: its state, its last health probes' output
    and the end of its log (what `up` failing on "Container ... is unhealthy" leaves unsaid)."""
    ids = compose("ps", "-q", timeout=60, check=False).stdout.split()
    if not ids:
        return "no containers"
    out = subprocess.run(
        ["docker", "inspect", *ids], capture_output=True, text=True, check=False, timeout=60
    )
    lines = []
    for container in json.loads(out.stdout or "[]"):
        state, name = container["State"], container["Name"].lstrip("/")
        health = state.get("Health") or {}
        if state["Status"] == "running" and health.get("Status", "healthy") == "healthy":
            continue
        lines.append(f"{name}: {state['Status']} exit {state['ExitCode']} {health.get('Status')}")
        for probe in (health.get("Log") or [])[-3:]:
            lines.append(f"  probe exit {probe['ExitCode']}: {probe['Output'].strip()[:200]}")
        log = subprocess.run(
            ["docker", "logs", "--tail", "15", container["Id"]],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        lines.extend(f"  | {line}" for line in (log.stdout + log.stderr).splitlines()[-15:])
    return "\n".join(lines)


def wait_until(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as exc:
            last = exc
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def mail_to(address: str) -> list[dict[str, Any]]:
    status, messages = http("GET", f"{MAIL}/api/messages")
    assert status == 200
    return [m for m in messages if address in m["to"]]


@pytest.fixture(scope="module")
def stack(docker_engine: None) -> Iterator[dict[str, float]]:
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not on PATH (`/work/shared/tools/container-engine up`)")
    timings: dict[str, float] = {}
    started = time.monotonic()
    compose("down", "-v", "--remove-orphans", timeout=300)  # a stack left by another run
    try:
        for stage in STAGES:
            done = compose(*stage, timeout=1500, check=False)
            if done.returncode != 0:
                # Seen on a loaded machine: say why, then let the stage run once more.
                print(f"docker-compose {' '.join(stage)} failed once:\n{done.stderr[-3000:]}")
                print(health_report())
                again = compose(*stage, timeout=900, check=False)
                assert again.returncode == 0, (
                    f"docker-compose {' '.join(stage)} failed twice:\n{again.stderr[-3000:]}\n"
                    f"{health_report()}"
                )
        timings["up"] = time.monotonic() - started
        wait_until("every container healthy", lambda: not unhealthy_containers(), timeout=240)
        timings["healthy"] = time.monotonic() - started
        yield timings
    except BaseException:
        print(compose("ps", check=False, timeout=60).stdout)
        print(compose("logs", "--tail", "40", check=False, timeout=120).stdout[-20000:])
        raise
    finally:
        compose("down", "-v", "--remove-orphans", timeout=300, check=False)
        print(f"compose journey timings (s): {timings}, total {time.monotonic() - started:.0f}")


def sign_up_through_the_gateway_delivers_confirmation_and_welcome(
    stack: dict[str, float],
) -> None:
    started = time.monotonic()
    address = f"ci-{uuid.uuid4().hex[:12]}@example.fi"
    status, body = http(
        "POST",
        f"{GATEWAY}/api/v1/members",
        {
            "email": address,
            "name": "Kokeilija CI",
            "organisation": "Uskalla CI",
            "language": "fi",
            "newsletter": True,
            "invitations": False,
            "consent": True,
        },
    )
    assert status == 202, body

    confirmation = wait_until(
        "the confirmation e-mail",
        lambda: next((m for m in mail_to(address) if TOKEN.search(m["text"])), None),
        timeout=60,
    )
    token = TOKEN.search(confirmation["text"]).group(1)  # type: ignore[union-attr]
    status, member = http("POST", f"{GATEWAY}/api/v1/members/confirm", {"token": token})
    assert status == 200, member
    assert member["email"] == address

    welcome = wait_until(
        "the welcome e-mail",
        lambda: next((m for m in mail_to(address) if m["id"] != confirmation["id"]), None),
        timeout=60,
    )
    assert welcome["subject"] != confirmation["subject"]
    assert len(mail_to(address)) == 2, "exactly one confirmation and one welcome"
    stack["journey"] = time.monotonic() - started
    JOINED.append(address)


def signed_in(address: str) -> dict[str, str]:
    """Join, confirm and sign in through the gateway, each link read from the real e-mail;
    the bearer headers."""
    status, body = http(
        "POST",
        f"{GATEWAY}/api/v1/members",
        {
            "email": address,
            "name": "Kokeilija CI",
            "language": "fi",
            "newsletter": True,
            "invitations": False,
            "consent": True,
        },
    )
    assert status == 202, body
    confirmation = wait_until(
        f"the confirmation e-mail to {address}",
        lambda: next((m for m in mail_to(address) if TOKEN.search(m["text"])), None),
        timeout=60,
    )
    token = TOKEN.search(confirmation["text"]).group(1)  # type: ignore[union-attr]
    status, body = http("POST", f"{GATEWAY}/api/v1/members/confirm", {"token": token})
    assert status == 200, body
    seen = {m["id"] for m in mail_to(address)}
    status, body = http("POST", f"{GATEWAY}/api/v1/auth/sign-in", {"email": address})
    assert status == 202, body
    link = wait_until(
        f"the sign-in e-mail to {address}",
        lambda: next(
            (
                m
                for m in mail_to(address)
                if m["id"] not in seen and "/sign-in/callback?token=" in m["text"]
            ),
            None,
        ),
        timeout=60,
    )
    token = TOKEN.search(link["text"]).group(1)  # type: ignore[union-attr]
    status, body = http("POST", f"{GATEWAY}/api/v1/auth/token", {"token": token})
    assert status == 200, body
    return {"Authorization": f"Bearer {body['access_token']}"}


def send_report(sample: str, verp: str, about: str) -> None:
    """A report in a real MTA's format, over SMTP to the compose bounce receiver, addressed
    (envelope and headers) to the VERP sender of the mail it is about."""
    text = (SAMPLES / sample).read_text().replace("{verp}", verp).replace("{rcpt}", about)
    text = text.replace("{bounce_domain}", verp.rpartition("@")[2])
    with smtplib.SMTP("127.0.0.1", BOUNCE_PORT, timeout=30) as smtp:
        refused = smtp.sendmail("", [verp], text.replace("\n", "\r\n").encode())
    assert not refused, refused


def a_hard_bounce_dsn_through_the_bounce_receiver_suppresses_the_address(
    stack: dict[str, float],
) -> None:
    started = time.monotonic()
    coordinator = signed_in(COORDINATOR)
    address = f"ci-bounce-{uuid.uuid4().hex[:12]}@example.fi"
    member = signed_in(address)
    status, me = http("GET", f"{GATEWAY}/api/v1/members/me", headers=member)
    assert status == 200 and me["undeliverable"] is False, me

    # A delivered e-mail's envelope sender is its own signed VERP address under the bounce
    # domain (bounces. + MAIL_FROM's domain); the mail sink keeps it as Return-Path.
    welcome = wait_until(
        "the welcome e-mail",
        lambda: next((m for m in mail_to(address) if "Tervetuloa" in m["subject"]), None),
        timeout=60,
    )
    verp = welcome["headers"]["Return-Path"].strip("<>")
    assert re.fullmatch(r"b-[0-9a-f]{32}-[0-9a-f]{20}@bounces\.uskalla\.localhost", verp), verp

    # The recipient's MTA refuses it for good: Postfix's DSN (5.1.1) comes back over SMTP.
    send_report("postfix_hard.eml", verp, address)

    def suppression() -> dict[str, Any] | None:
        status, page = http("GET", f"{GATEWAY}/api/v1/suppressions", headers=coordinator)
        assert status == 200, page
        return next((s for s in page["items"] if s["email"] == address), None)

    row = wait_until("the address suppressed", suppression, timeout=60)
    assert row["reason"] == "hard_bounce" and row["bounces"] == 1, row
    assert "5.1.1" in (row["last_reason"] or ""), row

    def undeliverable() -> dict[str, Any] | None:
        status, me = http("GET", f"{GATEWAY}/api/v1/members/me", headers=member)
        assert status == 200, me
        return me if me["undeliverable"] else None

    wait_until("the member's page saying undeliverable", undeliverable, timeout=60)
    stack["bounce"] = time.monotonic() - started


def backup_drill_drops_and_restores_every_database_and_the_member_signs_in(
    stack: dict[str, float],
) -> None:
    if not JOINED:
        pytest.fail("the sign-up journey must run first (it makes the data the drill restores)")
    (address,) = JOINED
    started = time.monotonic()
    binary = shutil.which("docker-compose")
    out = subprocess.run(
        [str(ROOT / "deploy" / "backup-drill.sh")],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**ENV, "COMPOSE": f"{binary} -p {PROJECT} -f {ROOT / 'docker-compose.yml'}"},
    )
    print(out.stdout)
    assert out.returncode == 0, out.stdout + out.stderr
    for service in ("members", "experiments", "notifications"):
        assert f"{service}: dropped and created empty (0 rows)" in out.stdout
        assert re.search(rf"{service}: restored, [1-9]\d* rows, data identical", out.stdout)
    wait_until("every container healthy again", lambda: not unhealthy_containers(), timeout=240)

    # The restored member is a member: a sign-in link arrives and works.
    seen = {m["id"] for m in mail_to(address)}

    # Once, right after the restart, the gateway answered 502 ("members is not reachable")
    # although members was healthy: a restarted container may come back on another address,
    # which the gateway's resolver (libcurl's DNS cache, 60 s) may still hold. A 502 means the
    # request never reached members, so asking again is safe.
    def ask_for_a_link() -> tuple[int, Any] | None:
        answer = http("POST", f"{GATEWAY}/api/v1/auth/sign-in", {"email": address})
        return None if answer[0] == 502 else answer

    restarted = time.monotonic()
    status, body = wait_until("the gateway to reach members", ask_for_a_link, 120, every=5)
    print(f"the gateway reached the restarted members after {time.monotonic() - restarted:.0f} s")
    assert status == 202, body
    link = wait_until(
        "the sign-in e-mail",
        lambda: next((m for m in mail_to(address) if m["id"] not in seen), None),
        timeout=90,
    )
    token = TOKEN.search(link["text"]).group(1)  # type: ignore[union-attr]
    status, session = http("POST", f"{GATEWAY}/api/v1/auth/token", {"token": token})
    assert status == 200, session
    stack["drill"] = time.monotonic() - started


@pytest.mark.timeout(3600)
def test_the_compose_stack_journey(stack: dict[str, float]) -> None:
    """One test, so that one xdist worker runs all of it on the one compose project (three
    tests were once spread over two workers, and one's pre-clean tore the other's stack down):
    the sign-up, then a DSN through the bounce receiver, then the backup drill."""
    sign_up_through_the_gateway_delivers_confirmation_and_welcome(stack)
    a_hard_bounce_dsn_through_the_bounce_receiver_suppresses_the_address(stack)
    backup_drill_drops_and_restores_every_database_and_the_member_signs_in(stack)
