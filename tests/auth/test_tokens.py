"""Access tokens: what they carry and every kind of token that must be refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from fastapi_issues.auth.settings import AuthSettings
from fastapi_issues.auth.tokens import InvalidToken, create_access_token, decode_access_token

SETTINGS = AuthSettings(secret_key="test-signing-key-" + "k" * 47)
OTHER_SECRET = "another-signing-key-" + "o" * 44


def _b64(data: dict[str, object]) -> str:
    raw = json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _future() -> int:
    return int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())


def forged(claims: dict[str, object], *, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or str(SETTINGS.secret_key), algorithm=algorithm)


def test_a_token_carries_the_subject_and_expires_after_the_lifetime() -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    token = create_access_token("ada", SETTINGS, now=now)
    claims = decode_access_token(token, SETTINGS)
    assert claims["sub"] == "ada"
    assert claims["iat"] == int(now.timestamp())
    assert claims["exp"] - claims["iat"] == 30 * 60
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert "iss" not in claims
    assert "aud" not in claims


def test_tokens_are_unique() -> None:
    assert create_access_token("ada", SETTINGS) != create_access_token("ada", SETTINGS)


def test_issuer_and_audience_are_set_and_required_when_configured() -> None:
    settings = AuthSettings(
        secret_key=SETTINGS.secret_key, issuer="https://issues.example", audience="issues-api"
    )
    claims = decode_access_token(create_access_token("ada", settings), settings)
    assert (claims["iss"], claims["aud"]) == ("https://issues.example", "issues-api")
    # A token made without them (e.g. before they were configured) is refused.
    with pytest.raises(InvalidToken):
        decode_access_token(create_access_token("ada", SETTINGS), settings)
    for other in (
        AuthSettings(secret_key=SETTINGS.secret_key, issuer="https://evil.example"),
        AuthSettings(secret_key=SETTINGS.secret_key, audience="other-api"),
    ):
        with pytest.raises(InvalidToken):
            decode_access_token(create_access_token("ada", other), settings)


def test_a_token_for_an_audience_is_refused_where_none_is_configured() -> None:
    with_audience = AuthSettings(secret_key=SETTINGS.secret_key, audience="other-api")
    with pytest.raises(InvalidToken):
        decode_access_token(create_access_token("ada", with_audience), SETTINGS)


def test_the_forging_helpers_make_valid_tokens_when_nothing_is_wrong() -> None:
    # So each attack below fails for its own flaw, not for the way it was made.
    assert decode_access_token(forged({"sub": "ada", "exp": _future()}), SETTINGS)["sub"] == "ada"


def _edited(token: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{_b64({'sub': 'root', 'exp': _future()})}.{signature}"


ATTACKS: dict[str, Callable[[], str]] = {
    "alg none": lambda: (
        _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sub": "ada", "exp": _future()}) + "."
    ),
    "alg none with a signature": lambda: (
        _b64({"alg": "none"}) + "." + _b64({"sub": "ada", "exp": _future()}) + ".c2ln"
    ),
    "another secret": lambda: forged({"sub": "ada", "exp": _future()}, key=OTHER_SECRET),
    "another algorithm, same secret": lambda: forged(
        {"sub": "ada", "exp": _future()}, algorithm="HS512"
    ),
    "expired": lambda: create_access_token(
        "ada", SETTINGS, now=datetime.now(UTC) - timedelta(minutes=31)
    ),
    "missing sub": lambda: forged({"exp": _future()}),
    "empty sub": lambda: forged({"sub": "", "exp": _future()}),
    "sub not a string": lambda: forged({"sub": 42, "exp": _future()}),
    "missing exp": lambda: forged({"sub": "ada"}),
    "exp not a number": lambda: forged({"sub": "ada", "exp": "tomorrow"}),
    "not yet valid": lambda: forged({"sub": "ada", "exp": _future(), "nbf": _future()}),
    "payload edited after signing": lambda: _edited(create_access_token("ada", SETTINGS)),
    "malformed: garbage": lambda: "not-a-token",
    "malformed: empty": lambda: "",
    "malformed: three dots": lambda: "a.b.c",
    "malformed: bad json": lambda: base64.urlsafe_b64encode(b"{").decode() + ".e30.sig",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bad_tokens_are_refused(attack: str) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(ATTACKS[attack](), SETTINGS)


# A NumericDate (RFC 7519) is a JSON number. PyJWT checks these claims with `int(value)`,
# which lets `"9999999999"`, `true` and `false` through; the dependency's cache then compared
# a string `exp` with the clock and answered 500.
WRONG_TYPES: dict[str, object] = {
    "integer string": str(_future()),
    "float string": f"{_future()}.5",
    "list": [_future()],
    "true": True,
    "false": False,
    "null": None,
    "object": {"t": _future()},
}
NUMERIC_DATES = {"exp": _future, "nbf": lambda: 0, "iat": lambda: 0}


@pytest.mark.parametrize("claim", sorted(NUMERIC_DATES))
@pytest.mark.parametrize("kind", list(WRONG_TYPES))
def test_numeric_dates_of_the_wrong_type_are_refused(claim: str, kind: str) -> None:
    claims = {"sub": "ada", **{name: make() for name, make in NUMERIC_DATES.items()}}
    assert decode_access_token(forged(claims), SETTINGS)["sub"] == "ada"  # the control
    with pytest.raises(InvalidToken):
        decode_access_token(forged({**claims, claim: WRONG_TYPES[kind]}), SETTINGS)


def test_numeric_dates_may_be_fractional_and_a_nan_is_refused() -> None:
    # RFC 7519 allows non-integer NumericDates; PyJWT reads NaN from its own JSON.
    claims = {"sub": "ada", "exp": _future() + 0.5, "nbf": 0.5, "iat": 0.25}
    assert decode_access_token(forged(claims), SETTINGS)["exp"] == claims["exp"]
    for claim in NUMERIC_DATES:
        with pytest.raises(InvalidToken):
            decode_access_token(forged({**claims, claim: float("nan")}), SETTINGS)
