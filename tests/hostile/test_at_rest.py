"""No usable link token at rest: right after a join, a confirmation, two sign-in links (one spent,
one not) and a one-click unsubscribe, none of those token strings is in any row of any service's
database, any Redis key or any process's log, in clear, URL-encoded, hex or inside base64 (as
Celery message bodies are)."""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, unquote

import pytest
import redis
import requests
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import SERVICES

from .system import COORDINATOR_EMAIL, TIMEOUT, TOKEN, System, relations

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


def readings(text: str, depth: int = 2) -> Iterator[str]:
    """The text, URL-decoded, and whatever base64 runs in it decode to (nested `depth` deep)."""
    yield text
    yield unquote(text)
    if depth == 0:
        return
    for run in BASE64_RUN.findall(text):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(padded).decode("latin-1")
            except (binascii.Error, ValueError):
                continue
            yield from readings(decoded, depth - 1)


def forms(token: str) -> set[str]:
    return {token, quote(token, safe=""), quote_plus(token), token.encode().hex()}


def holds(text: str, tokens: dict[str, str]) -> list[str]:
    """The names of the tokens found anywhere in `text`, in any of their forms."""
    found = []
    for name, token in tokens.items():
        needles = forms(token)
        if any(needle in reading for reading in readings(text) for needle in needles):
            found.append(name)
    return found


def in_databases(system: System, tokens: dict[str, str], seen: Counter[str]) -> list[str]:
    hits = []
    for service in SERVICES:
        with system.db(service) as conn:
            for schema, table in relations(conn):
                for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" AS t'):
                    seen["rows"] += 1
                    for name in holds(row, tokens):
                        hits.append(f"{service}.{schema}.{table}: {name} in {row[:300]!r}")
    return hits


def _values(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "hash":
        return [part for pair in client.hgetall(key).items() for part in pair]
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return list(client.zrange(key, 0, -1))
    if kind == "stream":
        return [part for _, entry in client.xrange(key) for pair in entry.items() for part in pair]
    return []


def in_redis(system: System, tokens: dict[str, str], seen: Counter[str]) -> list[str]:
    hits = []
    client = redis.Redis.from_url(system.stack.config.redis_url)
    try:
        for key in client.scan_iter(count=1000):
            seen["Redis keys"] += 1
            for value in [key, *_values(client, key)]:
                for name in holds(value.decode("latin-1"), tokens):
                    hits.append(f"redis {key.decode('latin-1')}: {name}")
    finally:
        client.close()
    return hits


def in_logs(system: System, tokens: dict[str, str], seen: Counter[str]) -> list[str]:
    hits = []
    for log in sorted((system.stack.config.var_dir / "log").glob("*.log")):
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1):
            seen["log lines"] += 1
            for name in holds(line, tokens):
                hits.append(f"{log.name}:{number}: {name}")
    return hits


def everywhere(system: System, tokens: dict[str, str]) -> list[str]:
    seen: Counter[str] = Counter()
    hits = [
        *in_databases(system, tokens, seen),
        *in_redis(system, tokens, seen),
        *in_logs(system, tokens, seen),
    ]
    print(f"\nscanned {', '.join(f'{n} {what}' for what, n in seen.items())}")
    return hits


def _unsubscribe_url(system: System, to: str) -> str:
    def arrived() -> list[str]:
        return [
            m["headers"]["List-Unsubscribe"].strip("<>")
            for m in system.sink.store.messages(to)
            if "List-Unsubscribe" in m["headers"]
        ]

    return str(wait_until(arrived, timeout=60, message="a mail with List-Unsubscribe")[0])


def test_no_link_token_is_stored_in_clear_anywhere(system: System) -> None:
    email, tokens = COORDINATOR_EMAIL, {}
    joined = system.api(
        "POST",
        "/members",
        json={
            "email": email,
            "name": "Kaija Koordinaattori",
            "organisation": "Levossa Oy",
            "language": "fi",
            "newsletter": True,
            "invitations": True,
            "consent": True,
        },
    )
    assert joined.status_code == 202, joined.text
    tokens["confirmation"] = system.link_token(email, "/confirm?", 0)
    confirmed = system.api("POST", "/members/confirm", json={"token": tokens["confirmation"]})
    assert confirmed.status_code == 200, confirmed.text

    for name in ("sign-in (spent)", "sign-in (not spent)"):
        seen = system.links_sent(email, "/sign-in/callback?")
        assert system.api("POST", "/auth/sign-in", json={"email": email}).status_code == 202
        tokens[name] = system.link_token(email, "/sign-in/callback?", seen)
    spent = system.api("POST", "/auth/token", json={"token": tokens["sign-in (spent)"]})
    assert spent.status_code == 200, spent.text
    auth = {"Authorization": f"Bearer {spent.json()['access_token']}"}

    # A test copy of a newsletter is list mail: it carries the one-click unsubscribe link.
    letter = system.api(
        "POST", "/newsletters", headers=auth, json={"subject": "Levossa", "body": "Hei."}
    )
    assert letter.status_code == 201, letter.text
    copy = system.api("POST", f"/newsletters/{letter.json()['id']}/test", headers=auth)
    assert copy.status_code == 202, copy.text
    url = _unsubscribe_url(system, email)
    match = TOKEN.search(url)
    assert match, url
    tokens["unsubscribe"] = unquote(match.group(1))
    one_click = requests.post(
        url.replace(system.stack.env["PUBLIC_BASE_URL"], system.gateway),
        data={"List-Unsubscribe": "One-Click"},
        timeout=TIMEOUT,
    )
    assert one_click.status_code == 200, one_click.text

    # Right after, while the events are fresh; then once every process has finished with them.
    found = everywhere(system, tokens)
    system.settled_counts()
    found += everywhere(system, tokens)
    print(f"looked for {len(tokens)} tokens: {', '.join(tokens)}")
    assert not found, "link tokens at rest:\n" + "\n".join(sorted(set(found)))
