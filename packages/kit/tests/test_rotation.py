"""Keys and the internal token rotate without downtime: every key in rotation is accepted, the
one a token's `kid` names is the one that must have signed it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from uskalla_kit.auth import TokenVerifier, key_id, public_keys
from uskalla_kit.internal import HEADER, init_app, presented_token, require_internal
from uskalla_kit.problems import Problem

PEM = serialization.Encoding.PEM


def pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key().public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    )


def token(key: Ed25519PrivateKey, kid: str | None) -> str:
    now = datetime.now(UTC)
    claims = {"sub": "m1", "role": "member", "iss": "i", "aud": "a", "iat": now}
    claims["exp"] = now + timedelta(minutes=5)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid} if kid else None)


@pytest.fixture
def keys() -> tuple[Ed25519PrivateKey, Ed25519PrivateKey]:
    return Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def test_every_key_of_a_pem_bundle_is_accepted_by_the_kid_it_names(
    keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey],
) -> None:
    new, old = keys
    new_kid, old_kid = key_id(new.public_key()), key_id(old.public_key())
    verifier = TokenVerifier(pem(new) + pem(old), issuer="i", audience="a")
    assert set(verifier.keys) == {new_kid, old_kid}
    for key, kid in ((new, new_kid), (old, old_kid), (old, None)):
        assert verifier.verify(token(key, kid)).member_id == "m1"
    with pytest.raises(jwt.InvalidSignatureError):  # the kid names the other key
        verifier.verify(token(old, new_kid))
    with pytest.raises(jwt.InvalidTokenError, match="not in rotation"):
        verifier.verify(token(Ed25519PrivateKey.generate(), "someone-elses"))
    # Once the old key is retired, its tokens are refused.
    retired = TokenVerifier(pem(new), issuer="i", audience="a")
    with pytest.raises(jwt.InvalidTokenError, match="not in rotation"):
        retired.verify(token(old, old_kid))
    with pytest.raises(jwt.InvalidSignatureError):
        retired.verify(token(old, None))


def test_a_jwks_document_keeps_its_kids(keys: tuple[Ed25519PrivateKey, Ed25519PrivateKey]) -> None:
    new, old = keys
    jwks = {
        "keys": [
            {
                **jwt.algorithms.OKPAlgorithm.to_jwk(new.public_key(), as_dict=True),
                "kid": "2026-12",
            },
            jwt.algorithms.OKPAlgorithm.to_jwk(old.public_key(), as_dict=True),
        ]
    }
    verifier = TokenVerifier(json.dumps(jwks), issuer="i", audience="a")
    assert set(verifier.keys) == {"2026-12", key_id(old.public_key())}
    assert verifier.verify(token(new, "2026-12")).role == "member"
    assert verifier.verify(token(old, key_id(old.public_key()))).role == "member"


def test_what_is_no_key_fails_at_start() -> None:
    with pytest.raises(ValueError, match="no PEM public key"):
        public_keys("not a key")
    assert public_keys("") == {}


def test_the_internal_token_accepts_the_current_and_the_next() -> None:
    app = Flask("t")
    init_app(app, "new-token,old-token\n")
    for given, ok in (("new-token", True), ("old-token", True), ("other", False), ("", False)):
        with app.test_request_context(headers={HEADER: given}):
            if ok:
                require_internal()
            else:
                with pytest.raises(Problem):
                    require_internal()
    assert presented_token("new-token,old-token") == "new-token"
    assert presented_token("only") == "only"
