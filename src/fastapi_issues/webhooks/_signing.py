"""The signature of a delivery: GitHub's scheme, so that receivers' existing verifiers work.

`X-Issues-Signature-256: sha256=<hex HMAC-SHA256 of the exact body bytes, keyed with the
hook's secret>`. The receiver must hash the bytes it received, before any JSON parsing: a
re-serialised body differs in spacing or key order and no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Issues-Signature-256"


def _key(secret: str | bytes) -> bytes:
    return secret if isinstance(secret, bytes) else secret.encode()


def sign(secret: str | bytes, body: bytes) -> str:
    """The value of `X-Issues-Signature-256` for `body` under `secret`."""
    return "sha256=" + hmac.new(_key(secret), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` (the received `X-Issues-Signature-256`) signs `body` with `secret`.

    Compared in constant time, so that a forger learns nothing from how long a refusal
    takes. A missing or malformed header is simply not valid.
    """
    if not header:
        return False
    expected = sign(secret, body).encode("ascii")
    # Bytes, not str: compare_digest refuses non-ASCII text, and a header is whatever was sent.
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))
