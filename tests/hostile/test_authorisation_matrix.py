"""Every endpoint of API.md by every kind of caller: no access where none belongs, access where it
does. The expected table is written out from API.md's "who" column. And the old token of a
member demoted, deactivated or erased loses what they lost in every service within 5 seconds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .system import Member, System
from .tokens import hostile_tokens
from .world import World, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

# Who may call, from API.md. "draft-owner" and "draft-coordinator" are reads that anyone may do
# once the thing is published, but of a draft only its owners / coordinators.
ANYONE, MEMBER, OWNER, COORDINATOR = "anyone", "member", "owner", "coordinator"
DRAFT_OWNER, DRAFT_COORDINATOR = "draft-owner", "draft-coordinator"

GOOD_CALLERS = ("anonymous", "other_member", "member", "coordinator")
BAD_TOKENS = ("expired", "other_key", "alg_none", "wrong_audience", "wrong_issuer", "garbage")


@dataclass
class Call:
    who: str
    body: Any = None
    # Path ids by name of a World field, or a factory giving a fresh object for each caller
    # (for calls that use their object up, like deleting a comment).
    ids: Mapping[str, str | Callable[[World, System], str]] = field(default_factory=dict)


def _gathering_body() -> dict[str, Any]:
    starts = datetime.now(UTC) + timedelta(days=40)
    return {
        "title": "Webinaari",
        "kind": "webinar",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "online_url": "https://meet.example.fi/x",
        "language": "fi",
    }


def _fresh_comment(world: World, system: System) -> str:
    answer = system.api(
        "POST",
        f"/experiments/{world.published_experiment}/comments",
        headers=world.owner.auth,
        json={"body": "Poistettava kommentti"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _fresh_gathering(world: World, system: System) -> str:
    """A published gathering of its own (cancelling uses it up)."""
    made = system.api("POST", "/gatherings", headers=world.coordinator.auth, json=_gathering_body())
    assert made.status_code == 201, made.text
    gathering = str(made.json()["id"])
    published = system.api(
        "POST", f"/gatherings/{gathering}/publish", headers=world.coordinator.auth
    )
    assert published.status_code == 200, published.text
    return gathering


_HELD: list[str] = []


def _held_gathering(world: World, system: System) -> str:
    """A published gathering that has started (made once): attendance and its record are set
    only after the start."""
    if _HELD:
        return _HELD[0]
    starts = datetime.now(UTC) - timedelta(hours=1)
    body = {**_gathering_body(), "starts_at": starts.isoformat()}
    body["ends_at"] = (starts + timedelta(hours=3)).isoformat()
    made = system.api("POST", "/gatherings", headers=world.coordinator.auth, json=body)
    assert made.status_code == 201, made.text
    gathering = str(made.json()["id"])
    published = system.api(
        "POST", f"/gatherings/{gathering}/publish", headers=world.coordinator.auth
    )
    assert published.status_code == 200, published.text
    _HELD.append(gathering)
    return gathering


def _fresh_letter(world: World, system: System, scheduled: bool = False) -> str:
    made = system.api(
        "POST",
        "/newsletters",
        headers=world.coordinator.auth,
        json={"subject": "Ajastettu", "body": "Teksti", "language": "fi"},
    )
    assert made.status_code == 201, made.text
    letter = str(made.json()["id"])
    if scheduled:
        answer = system.api(
            "POST",
            f"/newsletters/{letter}/schedule",
            headers=world.coordinator.auth,
            json={"send_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
        )
        assert answer.status_code in (200, 202), answer.text
    return letter


def _fresh_suppression(world: World, system: System) -> str:
    """A suppression of its own (lifting uses it up): the newest after a hard bounce by hand."""
    email = f"lifted.{uuid.uuid4().hex[:10]}@example.fi"
    bounced = system.api(
        "POST", "/bounces", headers=world.coordinator.auth, json={"email": email, "kind": "hard"}
    )
    assert bounced.status_code == 200, bounced.text
    listed = system.api("GET", "/suppressions", headers=world.coordinator.auth)
    return str(listed.json()["items"][0]["id"])


_ARCHIVED: list[str] = []


def _archived_letter(world: World, system: System) -> str:
    """A public newsletter, sent (made once): what the archive shows anyone."""
    if _ARCHIVED:
        return _ARCHIVED[0]
    letter = _fresh_letter(world, system)
    auth = world.coordinator.auth
    marked = system.api("PATCH", f"/newsletters/{letter}", headers=auth, json={"public": True})
    assert marked.status_code == 200, marked.text
    assert system.api("POST", f"/newsletters/{letter}/send", headers=auth).status_code == 202
    deadline = time.monotonic() + 90
    while system.api("GET", f"/newsletters/{letter}", headers=auth).json()["status"] != "sent":
        assert time.monotonic() < deadline, "the newsletter was not sent in 90 s"
        time.sleep(0.5)
    _ARCHIVED.append(letter)
    return letter


EXP = {"experiment_id": "draft_experiment"}
PUB = {"experiment_id": "published_experiment"}
COMMENT = {"comment_id": "comment"}
GDRAFT = {"gathering_id": "draft_gathering"}
GPUB = {"gathering_id": "published_gathering"}
GHELD = {"gathering_id": _held_gathering}
LETTER = {"newsletter_id": "newsletter"}

# In the order they are called: reads of drafts before they are published, registering before
# cancelling, and erasure last.
EXPECTED: dict[tuple[str, str], Call] = {
    ("GET", "/api/v1/openapi.json"): Call(ANYONE),
    ("GET", "/api/v1/municipalities"): Call(ANYONE),
    ("GET", "/api/v1/themes"): Call(ANYONE),
    ("POST", "/api/v1/members"): Call(
        ANYONE,
        {
            "email": "joiner@example.fi",
            "name": "Jussi Joiner",
            "organisation": "Oy",
            "language": "fi",
            "newsletter": False,
            "invitations": False,
            "consent": True,
        },
    ),
    ("POST", "/api/v1/members/confirm"): Call(ANYONE, {"token": "not-a-real-token"}),
    ("POST", "/api/v1/auth/sign-in"): Call(ANYONE, {"email": "nobody@example.fi"}),
    ("POST", "/api/v1/auth/token"): Call(ANYONE, {"token": "not-a-real-token"}),
    ("POST", "/api/v1/unsubscribe"): Call(ANYONE, {"token": "not-a-real-token"}),
    ("GET", "/api/v1/members/me"): Call(MEMBER),
    ("PATCH", "/api/v1/members/me"): Call(MEMBER, {"title": "Kehittäjä"}),
    ("GET", "/api/v1/members/me/export"): Call(MEMBER),
    ("GET", "/api/v1/members/me/interests"): Call(MEMBER),
    ("PUT", "/api/v1/members/me/interests"): Call(
        MEMBER, {"themes": ["sote-uudistus"], "municipality_codes": ["091"], "digest": "weekly"}
    ),
    ("GET", "/api/v1/members/me/registrations"): Call(MEMBER),
    ("GET", "/api/v1/members"): Call(COORDINATOR),
    ("PATCH", "/api/v1/members/{member_id}"): Call(
        COORDINATOR, {"role": "member"}, {"member_id": "other_member_id"}
    ),
    ("GET", "/api/v1/gatherings"): Call(ANYONE),
    ("POST", "/api/v1/gatherings"): Call(COORDINATOR, _gathering_body()),
    ("GET", "/api/v1/gatherings/{gathering_id}"): Call(DRAFT_COORDINATOR, ids=GDRAFT),
    ("GET", "/api/v1/gatherings/{gathering_id}/calendar.ics"): Call(ANYONE, ids=GPUB),
    ("PATCH", "/api/v1/gatherings/{gathering_id}"): Call(
        COORDINATOR, {"description": "Uusi kuvaus"}, GDRAFT
    ),
    ("POST", "/api/v1/gatherings/{gathering_id}/publish"): Call(COORDINATOR, ids=GDRAFT),
    ("POST", "/api/v1/gatherings/{gathering_id}/cancel"): Call(
        COORDINATOR, ids={"gathering_id": _fresh_gathering}
    ),
    ("GET", "/api/v1/gatherings/calendar.ics"): Call(ANYONE),
    ("POST", "/api/v1/gatherings/{gathering_id}/registrations"): Call(MEMBER, ids=GPUB),
    ("GET", "/api/v1/gatherings/{gathering_id}/registrations"): Call(COORDINATOR, ids=GPUB),
    ("DELETE", "/api/v1/gatherings/{gathering_id}/registrations/me"): Call(MEMBER, ids=GPUB),
    ("GET", "/api/v1/gatherings/{gathering_id}/attendance"): Call(COORDINATOR, ids=GHELD),
    ("PUT", "/api/v1/gatherings/{gathering_id}/attendance"): Call(
        COORDINATOR, {"attended": []}, GHELD
    ),
    ("PUT", "/api/v1/gatherings/{gathering_id}/record"): Call(
        COORDINATOR,
        {
            "summary": "Kiitos kaikille: https://example.fi/tallenne",
            "materials": [{"title": "Diat", "url": "https://example.fi/diat.pdf"}],
            "experiment_ids": [],
        },
        GHELD,
    ),
    ("GET", "/api/v1/experiments"): Call(ANYONE),
    ("GET", "/api/v1/experiments.csv"): Call(ANYONE),
    ("GET", "/api/v1/experiments/feed.atom"): Call(ANYONE),
    ("GET", "/api/v1/experiments/stats"): Call(ANYONE),
    ("POST", "/api/v1/experiments"): Call(
        MEMBER, {"title": "Uusi", "summary": "Tiivistelmä", "kind": "pilot", "scale": "large"}
    ),
    ("GET", "/api/v1/experiments/{experiment_id}"): Call(DRAFT_OWNER, ids=EXP),
    ("PATCH", "/api/v1/experiments/{experiment_id}"): Call(
        OWNER, {"summary": "Muutettu tiivistelmä"}, EXP
    ),
    ("POST", "/api/v1/experiments/{experiment_id}/stage"): Call(OWNER, {"stage": "planning"}, EXP),
    ("PUT", "/api/v1/experiments/{experiment_id}/evaluation"): Call(
        OWNER,
        {
            "outcome": "failed",
            "rating": 3,
            "what_worked": "Yhteistyö",
            "what_failed": "Aikataulu",
            "lessons": "Pienemmin",
            "next_steps": "Uusi yritys",
        },
        EXP,
    ),
    ("POST", "/api/v1/experiments/{experiment_id}/publish"): Call(OWNER, ids=EXP),
    ("GET", "/api/v1/experiments/{experiment_id}/comments"): Call(ANYONE, ids=PUB),
    ("POST", "/api/v1/experiments/{experiment_id}/comments"): Call(
        MEMBER, {"body": "Kiinnostavaa"}, PUB
    ),
    ("PATCH", "/api/v1/comments/{comment_id}"): Call(OWNER, {"body": "Korjattu"}, COMMENT),
    ("POST", "/api/v1/comments/{comment_id}/reports"): Call(
        MEMBER, {"reason": "off_topic"}, COMMENT
    ),
    ("POST", "/api/v1/comments/{comment_id}/hide"): Call(COORDINATOR, ids=COMMENT),
    ("POST", "/api/v1/comments/{comment_id}/restore"): Call(COORDINATOR, ids=COMMENT),
    ("GET", "/api/v1/moderation/comments"): Call(COORDINATOR),
    ("DELETE", "/api/v1/comments/{comment_id}"): Call(OWNER, ids={"comment_id": _fresh_comment}),
    ("POST", "/api/v1/experiments/{experiment_id}/followers"): Call(MEMBER, ids=PUB),
    ("GET", "/api/v1/members/me/follows"): Call(MEMBER),
    ("DELETE", "/api/v1/experiments/{experiment_id}/followers/me"): Call(MEMBER, ids=PUB),
    ("GET", "/api/v1/newsletters"): Call(COORDINATOR),
    ("POST", "/api/v1/newsletters"): Call(
        COORDINATOR, {"subject": "Toinen", "body": "Teksti", "language": "fi"}
    ),
    ("GET", "/api/v1/newsletters/{newsletter_id}"): Call(COORDINATOR, ids=LETTER),
    ("PATCH", "/api/v1/newsletters/{newsletter_id}"): Call(
        COORDINATOR, {"subject": "Uutiskirje 2"}, LETTER
    ),
    ("POST", "/api/v1/newsletters/{newsletter_id}/test"): Call(COORDINATOR, ids=LETTER),
    ("POST", "/api/v1/newsletters/{newsletter_id}/send"): Call(COORDINATOR, ids=LETTER),
    ("POST", "/api/v1/newsletters/{newsletter_id}/cancel"): Call(COORDINATOR, ids=LETTER),
    ("POST", "/api/v1/newsletters/preview"): Call(
        COORDINATOR, {"subject": "Esikatselu", "body": "Teksti", "language": "fi"}
    ),
    ("POST", "/api/v1/newsletters/{newsletter_id}/schedule"): Call(
        COORDINATOR,
        {"send_at": (datetime.now(UTC) + timedelta(days=30)).isoformat()},
        {"newsletter_id": _fresh_letter},
    ),
    ("DELETE", "/api/v1/newsletters/{newsletter_id}/schedule"): Call(
        COORDINATOR,
        ids={"newsletter_id": lambda world, system: _fresh_letter(world, system, scheduled=True)},
    ),
    ("GET", "/api/v1/newsletters/archive"): Call(ANYONE),
    ("GET", "/api/v1/newsletters/archive/{newsletter_id}"): Call(
        ANYONE, ids={"newsletter_id": _archived_letter}
    ),
    ("GET", "/api/v1/suppressions"): Call(COORDINATOR),
    ("DELETE", "/api/v1/suppressions/{suppression_id}"): Call(
        COORDINATOR, ids={"suppression_id": _fresh_suppression}
    ),
    ("GET", "/api/v1/bounces/unread"): Call(COORDINATOR),
    ("GET", "/api/v1/deliveries"): Call(COORDINATOR),
    ("POST", "/api/v1/bounces"): Call(
        COORDINATOR, {"email": "bounced@example.fi", "kind": "soft", "reason": "mailbox full"}
    ),
    ("DELETE", "/api/v1/members/me"): Call(MEMBER),
}

#: Signed-in callers whose "no" may be either answer: 403, or 404 where even existence is private.
DENIED = {403, 404}


def allowed(who: str, caller: str) -> bool:
    if who == ANYONE or caller == "coordinator":
        return True
    if caller == "anonymous":
        return False
    if who == MEMBER:
        return True
    return caller == "member" and who in (OWNER, DRAFT_OWNER)


def check(who: str, caller: str, status: int) -> str | None:
    """None if `status` is right for `caller` on an endpoint for `who`, else what is wrong."""
    if status >= 500:
        return "server error"
    if caller in BAD_TOKENS:
        # A public endpoint may ignore a bad token or refuse it; nothing else may let it through.
        if who == ANYONE:
            return None
        if who in (DRAFT_OWNER, DRAFT_COORDINATOR):
            return None if status in (401, 404) else "bad token saw a draft"
        return None if status == 401 else "bad token not refused with 401"
    if allowed(who, caller):
        return "refused a caller who belongs" if status in (401, 403, 404) else None
    if caller == "anonymous":
        expected = {404} if who in (DRAFT_OWNER, DRAFT_COORDINATOR) else {401}
        return None if status in expected else f"anonymous: expected {expected}"
    return None if status in DENIED else "a signed-in caller without rights got in"


@pytest.fixture(scope="module")
def world(system: System) -> World:
    return build_world(system, "matrix")


def test_the_table_covers_every_operation_of_the_merged_openapi(system: System) -> None:
    document = system.api("GET", "/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert operations == set(EXPECTED), (
        f"not in the table: {sorted(operations - set(EXPECTED))}; "
        f"not served: {sorted(set(EXPECTED) - operations)}"
    )


# One operation per service for the old token of a member whose standing changed: one that only
# coordinators may do, and one that any signed-in member of that service's API may do (the
# notifications API has only coordinators' operations, so the members whose standing changes
# below are all coordinators first: each service has something to take away).
Probe = tuple[str, str, Any]
COORDINATORS_ONLY: dict[str, Probe] = {
    "members": ("GET", "/members", None),
    "experiments": ("GET", "/moderation/comments", None),
    "notifications": ("POST", "/newsletters", {"subject": "Vanha valta", "body": "Teksti"}),
}
SIGNED_IN: dict[str, Probe] = {
    "members": ("GET", "/members/me", None),
    "experiments": (
        "POST",
        "/experiments",
        {"title": "Vanha valta", "summary": "Tiivistelmä", "kind": "pilot", "scale": "small"},
    ),
    "notifications": ("GET", "/newsletters", None),
}
# What happens to the member, what the old token is asked to do, and the answers that say no.
CHANGES: dict[str, tuple[dict[str, Probe], set[int]]] = {
    "demoted": (COORDINATORS_ONLY, {403}),
    "deactivated": (SIGNED_IN, {401, 403}),
    "erased": (SIGNED_IN, {401}),
}
WITHIN = 5.0


def _statuses(system: System, member: Member, probes: dict[str, Probe]) -> dict[str, int]:
    return {
        service: system.api(method, path, headers=member.auth, json=body).status_code
        for service, (method, path, body) in probes.items()
    }


@pytest.mark.parametrize("change", list(CHANGES))
def test_an_old_token_loses_what_the_member_lost_in_every_service_within_five_seconds(
    system: System, world: World, change: str
) -> None:
    probes, refused = CHANGES[change]
    member = system.member(f"{change}.standing@example.fi", f"Vilma Vallaton {change}")
    promoted = system.api(
        "PATCH",
        f"/members/{member.id}",
        headers=world.coordinator.auth,
        json={"role": "coordinator"},
    )
    assert promoted.status_code == 200, promoted.text
    member = replace(member, token=system.sign_in(member.email))  # a coordinator's token
    before = _statuses(system, member, probes)
    assert all(status in (200, 201) for status in before.values()), before

    if change == "erased":
        answer = system.api("DELETE", "/members/me", headers=member.auth)
        assert answer.status_code == 202, answer.text
    else:
        body = {"role": "member"} if change == "demoted" else {"active": False}
        answer = system.api(
            "PATCH", f"/members/{member.id}", headers=world.coordinator.auth, json=body
        )
        assert answer.status_code == 200, answer.text
    started = time.monotonic()
    while True:
        after = _statuses(system, member, probes)
        took = time.monotonic() - started
        if all(status in refused for status in after.values()) or took > WITHIN:
            break
        time.sleep(0.1)
    print(f"\n{change}: before {before}, after {took:.2f}s {after}")
    assert all(status in refused for status in after.values()), (
        f"{change} member's old token after {took:.1f}s (wanted {refused}): {after}"
    )


def test_the_callers_own_experiments_are_for_the_caller_alone(system: System, world: World) -> None:
    """`GET /experiments?owner=me` (one operation with the public list, so not in the table):
    401 without a valid token, and each member sees only their own, drafts included."""
    bad = hostile_tokens(
        system.stack.config.var_dir / "keys" / "jwt-private.pem", world.coordinator.id
    )
    mine = {"owner": "me", "per_page": 100}
    for token in bad.values():
        headers = {"Authorization": f"Bearer {token}"}
        assert system.api("GET", "/experiments", headers=headers, params=mine).status_code == 401
    assert system.api("GET", "/experiments", params=mine).status_code == 401
    owned = system.api("GET", "/experiments", headers=world.owner.auth, params=mine)
    assert owned.status_code == 200, owned.text
    ids = {item["id"] for item in owned.json()["items"]}
    assert {world.draft_experiment, world.published_experiment} <= ids
    others = system.api("GET", "/experiments", headers=world.other.auth, params=mine).json()
    assert ids.isdisjoint(item["id"] for item in others["items"])


def test_no_access_where_none_belongs(system: System, world: World) -> None:
    bad = hostile_tokens(
        system.stack.config.var_dir / "keys" / "jwt-private.pem", world.coordinator.id
    )
    members: dict[str, Member] = {
        "member": world.owner,
        "other_member": world.other,
        "coordinator": world.coordinator,
    }
    named = {**world.__dict__, "other_member_id": world.other.id}
    failures: list[str] = []
    seen: dict[str, list[int]] = {}
    checked = 0
    for (method, template), call in EXPECTED.items():
        for caller in BAD_TOKENS + GOOD_CALLERS:
            path = template
            for param, source in call.ids.items():
                value = source(world, system) if callable(source) else named[source]
                path = path.replace("{" + param + "}", str(value))
            if caller in BAD_TOKENS:
                headers = {"Authorization": f"Bearer {bad[caller]}"}
            elif caller == "anonymous":
                headers = {}
            else:
                headers = members[caller].auth
            answer = system.api(
                method, path.removeprefix("/api/v1"), headers=headers, json=call.body
            )
            checked += 1
            seen.setdefault(f"{method} {template}", []).append(answer.status_code)
            problem = check(call.who, caller, answer.status_code)
            if problem:
                failures.append(
                    f"{method} {path} as {caller}: {answer.status_code} ({problem}) "
                    f"{answer.text[:200]!r}"
                )
    print(f"\nauthorisation matrix: {len(EXPECTED)} endpoints, {checked} calls checked")
    print("callers:", " ".join(BAD_TOKENS + GOOD_CALLERS))
    for operation, statuses in seen.items():
        print(f"{operation:<62} {' '.join(map(str, statuses))}")
    assert not failures, "\n".join(failures)
