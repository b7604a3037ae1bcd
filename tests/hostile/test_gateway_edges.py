"""The gateway's edge against the running system, over raw sockets so that no client library
normalises a path first: only normalised paths are routed, no /metrics on the public port,
no link off the site, and the sign-in link names the address before it signs anybody in."""

from __future__ import annotations

import json
import re
import socket
from urllib.parse import urlsplit

import pytest
import requests

from .system import System

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PROBLEM = "application/problem+json"

#: The issue's three, and their relatives: each reached a service's /metrics before.
UNCLEAN = [
    "/api/v1/members/../../../metrics",
    "/api/v1/members/%2e%2e/%2e%2e/%2e%2e/metrics",
    "/api/v1/experiments/..%2f..%2f..%2fmetrics",
    "/api/v1/experiments/..%2F..%2F..%2Fmetrics",
    "/api/v1/notifications/%2E%2E/%2E%2E/%2E%2E/metrics",
    "/api/v1/newsletters/./../../../metrics",
    "/api/v1/members/..\\..\\..\\metrics",
    "/api/v1/members/..%5c..%5c..%5cmetrics",
    "/api/v1/members//../../metrics",
    "/api/v1/experiments/../../../internal/v1/members",
    "http://127.0.0.1/api/v1/members/../../../metrics",
]


def _raw(system: System, target: str) -> tuple[int, dict[str, str], bytes]:
    """GET the target exactly as written; the whole answer (status, headers, body)."""
    where = urlsplit(system.gateway)
    request = f"GET {target} HTTP/1.1\r\nHost: {where.netloc}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(request.encode("latin-1"))
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split(" ", 2)[1]), headers, body


@pytest.mark.parametrize("target", UNCLEAN)
def test_a_path_not_in_normal_form_reaches_no_service(system: System, target: str) -> None:
    status, headers, body = _raw(system, target)
    assert status in (400, 404), (status, body[:300])
    assert headers["content-type"].startswith(PROBLEM), headers
    assert json.loads(body)["status"] == status
    assert b"# HELP" not in body and b"# TYPE" not in body


def test_the_public_port_serves_no_metrics(system: System) -> None:
    status, headers, body = _raw(system, "/metrics")
    assert status == 404 and headers["content-type"].startswith(PROBLEM)
    assert b"# HELP" not in body
    assert _raw(system, "/healthz")[0] == 200  # the probes stay public


@pytest.mark.parametrize(
    "target", ["/sv//evil.example", "/en//x", "///x", "/sv/\\evil", "/sv/%09/evil.example"]
)
def test_no_link_on_the_page_leads_off_the_site(system: System, target: str) -> None:
    status, headers, body = _raw(system, target)
    assert 400 <= status < 500, status
    if not headers["content-type"].startswith("text/html"):
        return  # a problem document links nowhere
    links = re.findall(r'(?:href|action|src)="([^"]*)"', body.decode())
    assert links
    for link in links:
        seen = re.sub(r"[\t\n\r]", "", link)  # as a browser reads a URL
        assert seen.startswith(("/", "#")) and not seen.startswith(("//", "/\\")), link


def test_the_sign_in_link_names_the_address_and_only_this_browsers_post_signs_in(
    system: System,
) -> None:
    email = "linkki.edge@example.fi"
    system.join(email, "Linkki Edge")
    seen = system.links_sent(email, "/sign-in/callback?")
    assert system.api("POST", "/auth/sign-in", json={"email": email}).status_code == 202
    token = system.link_token(email, "/sign-in/callback?", seen)
    browser = requests.Session()
    page = browser.get(f"{system.gateway}/en/sign-in/callback", params={"token": token})
    assert page.status_code == 200
    assert f"Sign in as {email}?" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    # Opening the page (twice, as a mail scanner and then the member) spent nothing.
    again = browser.get(f"{system.gateway}/en/sign-in/callback", params={"token": token})
    assert f"Sign in as {email}?" in again.text
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', again.text)
    assert csrf
    # Another site's form, posted in this browser, has no CSRF token of this browser's.
    forged = browser.post(
        f"{system.gateway}/en/sign-in/callback",
        data={"token": token},
        headers={"Origin": "https://evil.example"},
        allow_redirects=False,
    )
    assert forged.status_code == 403
    assert not [c for c in browser.cookies if "session" in c.name]
    signed_in = browser.post(
        f"{system.gateway}/en/sign-in/callback",
        data={"token": token, "csrf_token": csrf.group(1)},
        allow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text[:300]
    assert browser.get(f"{system.gateway}/en/me").status_code == 200
    # Spent now: the link says so and offers a new one.
    spent = requests.get(f"{system.gateway}/en/sign-in/callback", params={"token": token})
    assert spent.status_code == 400 and 'href="/en/sign-in"' in spent.text
