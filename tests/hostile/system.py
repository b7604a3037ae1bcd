"""Driving the running system: real members (joined, confirmed, signed in), databases, row counts."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import requests
from uskalla_devstack.mail import MailSink
from uskalla_devstack.pytest_plugin import wait_until
from uskalla_devstack.stack import SERVICES, Stack

COORDINATOR_EMAIL = "koordinaattori.hostile@example.fi"
TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_.-]+)")
TIMEOUT = 20


@dataclass(frozen=True)
class Member:
    id: str
    email: str
    name: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class System:
    def __init__(self, stack: Stack, sink: MailSink) -> None:
        self.stack, self.sink = stack, sink

    @property
    def gateway(self) -> str:
        return self.stack.gateway_url

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return requests.request(method, f"{self.gateway}/api/v1{path}", **kwargs)

    def db(self, service: str) -> psycopg.Connection[Any]:
        url = self.stack.env[f"{service.upper()}_DATABASE_URL"]
        return psycopg.connect(
            url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
        )

    def link_token(self, to: str, path: str, seen: int) -> str:
        def arrived() -> list[str]:
            texts = [m["text"] for m in self.sink.store.messages(to) if path in m["text"]]
            return texts[seen:]

        text = wait_until(arrived, timeout=60, message=f"a {path} link to {to}")[0]
        match = TOKEN.search(text[text.index(path) :])
        assert match, text
        return match.group(1)

    def links_sent(self, to: str, path: str) -> int:
        return sum(path in m["text"] for m in self.sink.store.messages(to))

    def join(self, email: str, name: str, language: str = "en") -> str:
        """Join and confirm; returns the member's id."""
        answer = self.api(
            "POST",
            "/members",
            json={
                "email": email,
                "name": name,
                "organisation": "Hostile Test Oy",
                "municipality_code": "049",
                "language": language,
                "newsletter": True,
                "invitations": True,
                "consent": True,
            },
        )
        assert answer.status_code == 202, answer.text
        confirmed = self.api(
            "POST", "/members/confirm", json={"token": self.link_token(email, "/confirm?", 0)}
        )
        assert confirmed.status_code == 200, confirmed.text
        return str(confirmed.json()["id"])

    def sign_in(self, email: str) -> str:
        seen = self.links_sent(email, "/sign-in/callback?")
        assert self.api("POST", "/auth/sign-in", json={"email": email}).status_code == 202
        answer = self.api(
            "POST",
            "/auth/token",
            json={"token": self.link_token(email, "/sign-in/callback?", seen)},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def member(self, email: str, name: str, language: str = "en") -> Member:
        member_id = self.join(email, name, language)
        return Member(member_id, email, name, self.sign_in(email))

    def coordinator(self) -> Member:
        member = self.member(COORDINATOR_EMAIL, "Kaija Koordinaattori", "fi")
        me = self.api("GET", "/members/me", headers=member.auth).json()
        assert me["role"] == "coordinator", me
        return member

    def row_counts(self) -> dict[str, int]:
        """Rows in every table of every service's database, keyed 'service.table'."""
        counts: dict[str, int] = {}
        for service in SERVICES:
            with self.db(service) as conn:
                tables = [
                    r[0]
                    for r in conn.execute(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    )
                ]
                for table in tables:
                    row = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                    counts[f"{service}.{table}"] = row[0] if row else 0
        return counts

    def contents(self) -> dict[str, str]:
        """A digest of every row of every table of every service's database (all columns as
        text), keyed 'service.table': unlike counts, it sees an update too."""
        digests: dict[str, str] = {}
        for service in SERVICES:
            with self.db(service) as conn:
                for schema, table in relations(conn):
                    row = conn.execute(
                        "SELECT md5(coalesce(string_agg(t::text, chr(10) ORDER BY t::text), ''))"
                        f' FROM "{schema}"."{table}" AS t'
                    ).fetchone()
                    digests[f"{service}.{table}"] = row[0] if row else ""
        return digests

    def settled_counts(self, quiet: float = 1.0) -> dict[str, int]:
        """Row counts once background work (relays, consumers, mail) has left them unchanged
        for `quiet` seconds."""
        last: list[dict[str, int]] = [self.row_counts()]
        since = [time.monotonic()]

        def stable() -> dict[str, int] | None:
            now = self.row_counts()
            if now != last[0]:
                last[0], since[0] = now, time.monotonic()
                return None
            return now if time.monotonic() - since[0] >= quiet else None

        return wait_until(stable, timeout=60, interval=0.5, message="row counts to settle")  # type: ignore[no-any-return]


def relations(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(schema, name) of every table and materialized view outside PostgreSQL's own schemas."""
    return [
        (r[0], r[1])
        for r in conn.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm')"
            " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
        )
    ]
