"""Signed JWT access tokens: making them and checking them."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime
from typing import Any

import jwt

from fastapi_issues.auth.settings import AuthSettings

__all__ = [
    "GENERATION_CLAIM",
    "InvalidToken",
    "create_access_token",
    "decode_access_token",
    "token_generation",
]


class InvalidToken(Exception):
    """The token is malformed, forged, expired, or lacks a claim it must have."""


GENERATION_CLAIM = "gen"
"""The claim carrying the user's token generation when the token was minted."""


def create_access_token(
    subject: str, settings: AuthSettings, *, now: datetime | None = None, generation: int = 0
) -> str:
    """A signed access token for `subject` (a username), valid for the configured lifetime,
    in the user's token `generation` (`UserInDB.token_generation`)."""
    issued = now if now is not None else datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": issued,
        "exp": issued + settings.token_lifetime,
        "jti": secrets.token_urlsafe(12),
        GENERATION_CLAIM: generation,
    }
    if settings.issuer is not None:
        claims["iss"] = settings.issuer
    if settings.audience is not None:
        claims["aud"] = settings.audience
    return jwt.encode(claims, settings.secret_key, algorithm=settings.algorithm)


def decode_access_token(token: str, settings: AuthSettings) -> dict[str, Any]:
    """The claims of a valid token; `InvalidToken` for any other.

    Only the configured algorithm is accepted, whatever the token's header claims (so
    `alg: none` and algorithm swaps fail), and `exp` and a non-empty string `sub` are
    required, as are `iss` and `aud` when the settings name them.
    """
    required = ["exp", "sub"]
    if settings.issuer is not None:
        required.append("iss")
    if settings.audience is not None:
        required.append("aud")
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.algorithm],
            issuer=settings.issuer,
            audience=settings.audience,
            options={"require": required, "enforce_minimum_key_length": True},
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(str(exc)) from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise InvalidToken("the token's subject is empty")
    _check_numeric_dates(claims)
    generation = claims.setdefault(GENERATION_CLAIM, 0)
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise InvalidToken("the token's generation is not a whole number")
    return claims


def token_generation(claims: dict[str, Any]) -> int:
    """The generation of decoded `claims`; tokens made before there were generations
    have none, and count as generation 0 (every user's first)."""
    generation: int = claims.get(GENERATION_CLAIM, 0)
    return generation


_NUMERIC_DATES = ("exp", "nbf", "iat")


def _check_numeric_dates(claims: dict[str, Any]) -> None:
    """Refuse `exp`, `nbf` and `iat` that are not JSON numbers (RFC 7519 NumericDate).

    PyJWT checks them with `int(value)`, which passes `"9999999999"`, `true` and `false`;
    the claims are then compared with the clock on every later request, where a string
    raised `TypeError` (a 500). A signed token is only as trustworthy as its key, so a
    claim of the wrong type is refused here, once, like any other malformed token.
    """
    for name in _NUMERIC_DATES:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidToken(f"the token's {name!r} claim is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidToken(f"the token's {name!r} claim is not a finite number")
