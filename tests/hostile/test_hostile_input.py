"""Hostile input through the gateway: oversized and chunked bodies, deep JSON, invalid UTF-8,
huge query strings, NUL and lone surrogates, and framing the HTTP server refuses. Each gets a
problem document with a clear 4xx (501 only for a transfer coding no server implements), never
another 5xx, and no row in any service's database changes. A control character in any string
field of any JSON body is refused naming the field (tab and line breaks are taken), and the feeds,
CSV files and calendars stay well-formed whatever the databases hold."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import icalendar
import pytest
import requests

from .system import Member, System
from .world import World, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

MiB = 1024 * 1024
PROBLEM = "application/problem+json"


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    body: bytes | None = None
    who: str = "anonymous"  # or "member", "coordinator"
    query: str = ""
    expected: tuple[int, ...] = (422,)
    chunked: bool = False


def _join(**fields: Any) -> dict[str, Any]:
    return {
        "email": "hostile@example.fi",
        "name": "Hanna Hostile",
        "organisation": "Oy",
        "language": "fi",
        "newsletter": True,
        "invitations": True,
        "consent": True,
    } | fields


def _json(data: Any) -> bytes:
    """ensure_ascii escapes a lone surrogate as \\ud800, which is how it arrives over the wire."""
    return json.dumps(data, ensure_ascii=True).encode()


def _experiment(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Otsikko",
        "summary": "Tiivistelmä",
        "kind": "pilot",
        "scale": "small",
    } | fields


def _gathering(**fields: Any) -> dict[str, Any]:
    return {
        "title": "Foorumi",
        "kind": "forum",
        "starts_at": "2031-05-01T10:00:00+00:00",
        "ends_at": "2031-05-01T12:00:00+00:00",
        "location": "Espoo",
        "language": "fi",
    } | fields


def _text_field_cases() -> Iterator[tuple[str, Hostile]]:
    for bad_name, bad in (("nul", "a\x00b"), ("surrogate", "a\ud800b")):
        yield f"join-name-{bad_name}", Hostile("POST", "/members", _json(_join(name=bad)))
        yield (
            f"profile-title-{bad_name}",
            Hostile("PATCH", "/members/me", _json({"title": bad}), "member"),
        )
        yield (
            f"experiment-title-{bad_name}",
            Hostile("POST", "/experiments", _json(_experiment(title=bad)), "member"),
        )
        yield (
            f"comment-body-{bad_name}",
            Hostile("POST", "/experiments/{published}/comments", _json({"body": bad}), "member"),
        )
        yield (
            f"gathering-title-{bad_name}",
            Hostile("POST", "/gatherings", _json(_gathering(title=bad)), "coordinator"),
        )
        yield (
            f"newsletter-subject-{bad_name}",
            Hostile("POST", "/newsletters", _json({"subject": bad, "body": "x"}), "coordinator"),
        )
        yield (
            f"sign-in-email-{bad_name}",
            Hostile("POST", "/auth/sign-in", _json({"email": f"x{bad}@example.fi"})),
        )


def _big(size: int) -> bytes:
    return _json(_join(name="x" * size))


CASES: dict[str, Hostile] = {
    "body-1MiB": Hostile("POST", "/members", _big(MiB), expected=(413,)),
    "body-10MiB": Hostile("POST", "/members", _big(10 * MiB), expected=(413,)),
    "body-1MiB-chunked": Hostile("POST", "/members", _big(MiB), expected=(413,), chunked=True),
    "body-10MiB-chunked-member": Hostile(
        "POST", "/experiments", _big(10 * MiB), "member", expected=(413,), chunked=True
    ),
    "deep-json-open": Hostile("POST", "/members", b"[" * 100_000, expected=(400, 413, 422)),
    "deep-json-closed": Hostile(
        "POST", "/members", b"[" * 100_000 + b"]" * 100_000, expected=(400, 413, 422)
    ),
    "deep-json-objects": Hostile(
        "POST",
        "/experiments",
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "member",
        expected=(400, 413, 422),
    ),
    "invalid-utf8-body": Hostile(
        "POST", "/members", _json(_join()).replace(b"Hanna", b"H\xff\xfeanna"), expected=(400, 422)
    ),
    "invalid-utf8-body-member": Hostile(
        "POST",
        "/experiments/{published}/comments",
        b'{"body": "\xc3\x28 \xed\xa0\x80"}',
        "member",
        expected=(400, 422),
    ),
    "invalid-utf8-query-search": Hostile(
        "GET", "/experiments", query="q=%FF%FE", expected=(400, 422)
    ),
    "invalid-utf8-query-directory": Hostile(
        "GET", "/members", who="coordinator", query="q=%C3%28", expected=(400, 422)
    ),
    "nul-query-search": Hostile("GET", "/experiments", query="q=a%00b", expected=(400, 422)),
    "nul-query-deliveries": Hostile(
        "GET", "/deliveries", who="coordinator", query="cause=a%00b", expected=(400, 422)
    ),
    "huge-query-100KB": Hostile(
        "GET", "/experiments", query="q=" + "a" * 100_000, expected=(400, 413, 414, 422, 431)
    ),
    "huge-query-100KB-post": Hostile(
        "POST",
        "/members",
        _json(_join()),
        query="x=" + "b" * 100_000,
        expected=(400, 413, 414, 422, 431),
    ),
    **dict(_text_field_cases()),
}


@pytest.fixture(scope="module")
def world(system: System) -> World:
    world = build_world(system, "hostile")
    # The world's own mail and fan-outs (a published gathering's invitations start a little
    # later) must be done before the first case compares counts.
    system.settled_counts(quiet=5.0)
    return world


def _send(system: System, world: World, case: Hostile) -> requests.Response:
    members: dict[str, Member] = {"member": world.owner, "coordinator": world.coordinator}
    headers = {"Content-Type": "application/json"}
    if case.who in members:
        headers |= members[case.who].auth
    path = case.path.replace("{published}", world.published_experiment)
    url = f"{system.gateway}/api/v1{path}" + (f"?{case.query}" if case.query else "")
    body: Any = case.body
    if case.chunked and body is not None:
        whole = body
        body = (whole[i : i + 64 * 1024] for i in range(0, len(whole), 64 * 1024))
    try:
        return requests.request(case.method, url, data=body, headers=headers, timeout=60)
    except requests.ConnectionError as error:
        # The edge must read (or drain) enough to answer 413, not reset the connection.
        pytest.fail(f"the connection broke instead of an answer: {error!r}")


def _assert_nothing_stored(system: System, before: dict[str, int]) -> None:
    after = system.settled_counts()
    changed = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
    assert not changed and set(after) == set(before), changed


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_request_gets_a_clear_4xx_and_stores_nothing(
    system: System, world: World, name: str
) -> None:
    case = CASES[name]
    before = system.settled_counts()
    answer = _send(system, world, case)
    assert answer.status_code in case.expected, (answer.status_code, answer.text[:500])
    assert answer.headers["Content-Type"].startswith(PROBLEM), answer.headers
    assert answer.json()["status"] == answer.status_code
    if answer.status_code == 422:
        assert answer.json().get("errors"), answer.text
    _assert_nothing_stored(system, before)


def _raw(system: System, request: bytes) -> int:
    """Send bytes as they are, read the whole answer (the gateway closes after an error) and
    check that it is a problem document; return its status."""
    where = urlsplit(system.gateway)
    with socket.create_connection((where.hostname, where.port), timeout=30) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    assert headers.get("content-type", "").startswith(PROBLEM), data[:500]
    assert json.loads(body)["status"] == status, data[:500]
    return status


def test_raw_invalid_utf8_in_the_request_line(system: System) -> None:
    """Bytes no client library would send: the gateway must still answer, and with a 4xx."""
    status = _raw(
        system,
        b"GET /api/v1/experiments?q=\xff\xfe\xc3\x28 HTTP/1.1\r\n"
        b"Host: localhost\r\nConnection: close\r\n\r\n",
    )
    assert 400 <= status < 500, status


JOIN = _json(_join(email="framing@example.fi"))
# Message framing (and expectations) the HTTP server decides before any application code runs. A coding it does not
# implement is answered 501 (RFC 9112, 6.1); framing that could be read two ways (the ground of
# request smuggling) is refused with 400. Either way the answer is a problem document (gunicorn's
# own errors are written as problems, uskalla_kit.processes) and no join is accepted.
FRAMING: dict[str, tuple[bytes, tuple[int, ...]]] = {
    "unknown-transfer-coding": (b"Transfer-Encoding: %mf^P_\r\n", (501,)),
    "gzip-transfer-coding": (b"Transfer-Encoding: gzip\r\n", (400, 501)),
    "chunked-and-content-length": (
        b"Transfer-Encoding: chunked\r\nContent-Length: %d\r\n" % len(JOIN),
        (400,),
    ),
    "two-content-lengths": (
        b"Content-Length: %d\r\nContent-Length: 2\r\n" % len(JOIN),
        (400,),
    ),
    "content-length-not-a-number": (b"Content-Length: 1e3\r\n", (400,)),
    "unknown-expectation": (b"Expect: 200-ok\r\nContent-Length: %d\r\n" % len(JOIN), (417,)),
}


@pytest.mark.parametrize("name", list(FRAMING))
def test_ambiguous_framing_is_refused_and_stores_nothing(
    system: System, world: World, name: str
) -> None:
    headers, expected = FRAMING[name]
    before = system.settled_counts()
    status = _raw(
        system,
        b"POST /api/v1/members HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n" + headers + b"\r\n" + JOIN,
    )
    assert status in expected, status
    _assert_nothing_stored(system, before)


# Control characters (issue 14, item 6): every string field of every JSON body refuses them,
# but tab and line breaks; and whatever was stored before the rule, the feeds stay well-formed.
CONTROLS = {"soh": "\x01", "esc": "\x1b", "del": "\x7f", "lone-cr": "\r"}
#: What no text of a feed, CSV file or calendar may hold (line breaks written CR LF may).
REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")
#: A body each operation would otherwise take (a PATCH takes just the one field).
BASES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/auth/sign-in"): {"email": "nobody@example.fi"},
    ("POST", "/api/v1/auth/token"): {"token": "not-a-real-token"},
    ("POST", "/api/v1/members/confirm"): {"token": "not-a-real-token"},
    ("POST", "/api/v1/unsubscribe"): {"token": "not-a-real-token"},
    ("POST", "/api/v1/bounces"): {"email": "bounced@example.fi", "kind": "soft", "reason": "full"},
    ("PATCH", "/api/v1/comments/{comment_id}"): {},
    ("POST", "/api/v1/comments/{comment_id}/reports"): {"reason": "off_topic"},
    ("POST", "/api/v1/experiments"): _experiment(),
    ("PATCH", "/api/v1/experiments/{experiment_id}"): {},
    ("POST", "/api/v1/experiments/{experiment_id}/comments"): {"body": "Kiinnostavaa"},
    ("PUT", "/api/v1/experiments/{experiment_id}/evaluation"): {"outcome": "failed", "rating": 3},
    ("POST", "/api/v1/experiments/{experiment_id}/stage"): {"stage": "planning"},
    ("POST", "/api/v1/gatherings"): _gathering(),
    ("PATCH", "/api/v1/gatherings/{gathering_id}"): {},
    ("PUT", "/api/v1/gatherings/{gathering_id}/record"): {
        "summary": "Kiitos",
        "materials": [],
        "experiment_ids": [],
    },
    ("PUT", "/api/v1/gatherings/{gathering_id}/attendance"): {"attended": []},
    ("POST", "/api/v1/members"): _join(email="control@example.fi"),
    ("PATCH", "/api/v1/members/me"): {},
    ("PUT", "/api/v1/members/me/interests"): {
        "themes": [],
        "municipality_codes": [],
        "digest": "off",
    },
    ("PATCH", "/api/v1/members/{member_id}"): {},
    ("POST", "/api/v1/newsletters"): {"subject": "Aihe", "body": "Teksti"},
    ("PATCH", "/api/v1/newsletters/{newsletter_id}"): {},
    ("POST", "/api/v1/newsletters/preview"): {
        "subject": "Aihe",
        "body": "Teksti",
        "language": "fi",
    },
    ("POST", "/api/v1/newsletters/{newsletter_id}/schedule"): {"send_at": "2099-01-01T09:00:00Z"},
}
#: Takes its token as a query or form field too, so its OpenAPI document names no JSON body.
EXTRA_FIELDS = {("POST", "/api/v1/unsubscribe"): ["token"]}


def _string_fields(document: dict[str, Any], schema: dict[str, Any], path: str = "") -> list[str]:
    """Dotted paths of the string fields a schema takes ("themes.0" for a list's items)."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if kind == "string":
        return [path]
    if kind == "array":
        return _string_fields(document, schema.get("items", {}), f"{path}.0")
    return [
        field
        for name, inner in schema.get("properties", {}).items()
        for field in _string_fields(document, inner, f"{path}.{name}" if path else name)
    ]


def _json_operations(system: System) -> dict[tuple[str, str], list[str]]:
    document = system.api("GET", "/openapi.json").json()
    operations = {
        (method.upper(), path): _string_fields(document, content["schema"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if (content := operation.get("requestBody", {}).get("content", {}).get("application/json"))
    }
    return {key: fields for key, fields in operations.items() if fields} | EXTRA_FIELDS


def _with(body: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    """A copy of `body` with `value` at a dotted path (a ".0" step is a one-item list)."""
    nested: Any = value
    for step in reversed(path.split(".")):
        nested = [nested] if step == "0" else {step: nested}
    return {**body, **nested}


def _names(errors: dict[str, Any], path: str) -> bool:
    return any(path == key or path.startswith(f"{key}.") for key in errors)


def _target(world: World, template: str) -> str:
    ids = {
        "experiment_id": world.published_experiment
        if template.endswith("/comments")
        else world.draft_experiment,
        "comment_id": world.comment,
        "gathering_id": world.draft_gathering,
        "newsletter_id": world.newsletter,
        "member_id": world.other.id,
    }
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template).removeprefix("/api/v1")


def test_a_control_character_in_any_string_field_is_refused_naming_it(
    system: System, world: World
) -> None:
    operations = _json_operations(system)
    assert set(operations) <= set(BASES), f"no base body for {set(operations) - set(BASES)}"
    system.settled_counts()
    before = system.contents()
    failures, sent = [], 0
    for (method, template), fields in operations.items():
        path = _target(world, template)
        for field in fields:
            for name, char in CONTROLS.items():
                body = _with(BASES[(method, template)], field, f"Hyvä{char}teksti")
                answer = system.api(method, path, headers=world.coordinator.auth, json=body)
                sent += 1
                errors = answer.json().get("errors", {}) if answer.status_code == 422 else {}
                if not _names(errors, field):
                    failures.append(
                        f"{method} {template} {field} with {name}: {answer.status_code}"
                        f" {answer.text[:200]}"
                    )
    print(f"\n{sent} requests: {len(operations)} operations, every string field, {len(CONTROLS)}")
    assert not failures, "\n".join(failures)
    system.settled_counts()
    after = system.contents()
    assert after == before, {t for t in before if before[t] != after.get(t)}


def test_tab_and_line_breaks_are_still_taken_in_free_text(system: System, world: World) -> None:
    text = "Ensimmäinen rivi\r\nToinen rivi\n\n\tSisennetty kohta\tja sarkain."
    comment = system.api(
        "POST",
        f"/experiments/{world.published_experiment}/comments",
        headers=world.owner.auth,
        json={"body": text},
    )
    assert comment.status_code == 201, comment.text
    edited = system.api(
        "PATCH",
        f"/experiments/{world.draft_experiment}",
        headers=world.owner.auth,
        json={"description": text},
    )
    assert edited.status_code == 200, edited.text
    read = system.api(
        "GET", f"/experiments/{world.draft_experiment}", headers=world.owner.auth
    ).json()
    comments = system.api(
        "GET", f"/experiments/{world.published_experiment}/comments", params={"per_page": 100}
    ).json()["items"]
    assert read["description"] == text
    assert text in [c["body"] for c in comments]


def test_feeds_csv_and_calendars_stay_well_formed_whatever_is_stored(
    system: System, world: World
) -> None:
    """Text stored before the rule (written here straight into the databases) holding control
    characters: the Atom feed parses as XML, the CSV files parse, each calendar parses with
    icalendar, and none of them carries a refused character."""
    registered = system.api(
        "POST",
        f"/gatherings/{world.published_gathering}/registrations",
        headers=world.owner.auth,
    )
    assert registered.status_code == 201, registered.text
    with system.db("experiments") as conn:
        conn.execute(
            "UPDATE experiments SET title = title || E'\\x01\\x1b[31m',"
            " summary = summary || E'\\x7f\\x0b\\r\\x08', organisation = E'Oy\\x1b\\x02'"
            " WHERE id = %s",
            (world.published_experiment,),
        )
    with system.db("members") as conn:
        conn.execute(
            "UPDATE members SET name = name || E'\\x01\\x1b', organisation = E'Oy\\x7f\\r'"
            " WHERE id = %s",
            (world.owner.id,),
        )
        conn.execute(
            "UPDATE gatherings SET title = title || E'\\x01', location = E'Espoo\\x1b\\x7f',"
            " description = E'Kuvaus\\x0c\\r\\x02' WHERE id = %s",
            (world.published_gathering,),
        )
    coordinator = world.coordinator.auth
    csv_accept = {**coordinator, "Accept": "text/csv"}
    documents = {
        "atom": system.api("GET", "/experiments/feed.atom"),
        "experiments.csv": system.api("GET", "/experiments.csv"),
        "members.csv": system.api("GET", "/members", headers=csv_accept),
        "registrations.csv": system.api(
            "GET", f"/gatherings/{world.published_gathering}/registrations", headers=csv_accept
        ),
        "gathering.ics": system.api("GET", f"/gatherings/{world.published_gathering}/calendar.ics"),
    }
    failures = []
    for name, answer in documents.items():
        assert answer.status_code == 200, (name, answer.text[:300])
        text = answer.content.decode("utf-8")
        assert "Espoo" in text or "Julkaistu kokeilu" in text or "Olli" in text, (name, text)
        try:
            if name == "atom":
                ElementTree.fromstring(answer.content)
            elif name.endswith(".csv"):
                list(csv.reader(io.StringIO(text, newline="")))
            else:
                icalendar.Calendar.from_ical(text)
        except Exception as error:
            failures.append(f"{name} does not parse: {error!r}")
        found = REFUSED.search(text)
        if found:
            failures.append(f"{name} holds U+{ord(found.group()):04X}")
    assert not failures, failures
