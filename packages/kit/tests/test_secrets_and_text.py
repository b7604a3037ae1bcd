"""Text rules, sealed link tokens, signed tokens with expiry and rotation, token standing."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeSerializer
from uskalla_kit.auth import Identity, Standing, apply_standing
from uskalla_kit.problems import Problem
from uskalla_kit.sealed import Sealer, secrets_list
from uskalla_kit.signed import SignedTokens
from uskalla_kit.text import printable, text_problem


@pytest.mark.parametrize("text", ["tab\there", "line\nbreak", "windows\r\nline", "ä € 🙂"])
def test_text_takes_tab_and_line_breaks(text: str) -> None:
    assert text_problem(text) is None


@pytest.mark.parametrize(
    "text", ["\x00", "bell\x07", "esc\x1b[31m", "lone\rcr", "del\x7f", "c1\x85", "nc\ufffe"]
)
def test_text_refuses_other_control_characters(text: str) -> None:
    problem = text_problem(text)
    assert problem is not None and ("control" in problem or "NUL" in problem)


def test_printable_keeps_what_text_takes_and_drops_the_rest() -> None:
    assert printable("a\x01b\tc\r\nd\re\x00f\ud800") == "ab\tc\r\ndef?"


def test_sealed_values_open_under_any_current_key_and_never_in_clear() -> None:
    old = Sealer(["old-key"], "event-token")
    sealed = old.seal("the-token")
    assert "the-token" not in sealed
    rotated = Sealer(secrets_list("new-key, old-key"), "event-token")
    assert rotated.open(sealed) == "the-token"
    assert old.open(rotated.seal("x")) is None  # sealed with the new key only
    assert Sealer(["old-key"], "another-purpose").open(sealed) is None
    assert rotated.open("the-token") is None  # a plain value is not opened


def test_signed_tokens_rotate_and_expire() -> None:
    before = SignedTokens("s1", "unsubscribe", max_age=1)
    token = before.make({"member_id": "m"})
    after = SignedTokens("s2,s1", "unsubscribe", max_age=1)
    assert after.read(token) == {"member_id": "m"}
    assert SignedTokens("s2", "unsubscribe").read(token) is None
    assert SignedTokens("s1", "other").read(token) is None
    legacy = URLSafeSerializer("s1", salt="uskalla.unsubscribe").dumps({"member_id": "m"})
    assert after.read(legacy) is None  # untimed: no expiry to check, so refused
    time.sleep(2.1)
    assert after.read(token) is None


def test_standing_demotes_and_refuses_at_once() -> None:
    coordinator = Identity("m", "coordinator")
    assert apply_standing(coordinator, None) == coordinator  # not heard of yet: the token
    assert apply_standing(coordinator, Standing("coordinator")) == coordinator
    assert apply_standing(coordinator, Standing("member")).role == "member"
    assert apply_standing(Identity("m", "member"), Standing("coordinator")).role == "member"
    for gone in (Standing(active=False), Standing(erased=True)):
        with pytest.raises(Problem) as caught:
            apply_standing(coordinator, gone)
        assert caught.value.status == 401


def test_answers_to_identified_requests_are_not_stored() -> None:
    from uskalla_kit.auth import TokenVerifier
    from uskalla_kit.runtime import make_app

    app = make_app(
        "t", max_body_bytes=1000, verifier=TokenVerifier("", issuer="i", audience="a"), checks={}
    )
    client = app.test_client()
    assert "Cache-Control" not in client.get("/healthz").headers
    for header in ("Authorization", "X-Internal-Token"):
        answer = client.get("/healthz", headers={header: "x"})
        assert answer.headers["Cache-Control"] == "no-store"
