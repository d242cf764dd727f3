"""The signature header: GitHub's scheme, checked by `verify_signature`."""

from __future__ import annotations

from fastapi_issues.webhooks import sign, verify_signature

# GitHub's documented test vector for X-Hub-Signature-256: the same scheme gives the same value.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_the_signature_is_githubs() -> None:
    assert sign(GITHUB_SECRET, GITHUB_BODY) == GITHUB_SIGNATURE
    assert sign(GITHUB_SECRET.encode(), GITHUB_BODY) == GITHUB_SIGNATURE


def test_verify_accepts_the_right_signature_only() -> None:
    assert verify_signature(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE)
    assert verify_signature(GITHUB_SECRET, GITHUB_BODY, f"  {GITHUB_SIGNATURE}\t")
    assert not verify_signature(GITHUB_SECRET, GITHUB_BODY + b" ", GITHUB_SIGNATURE)
    assert not verify_signature("another secret entirely", GITHUB_BODY, GITHUB_SIGNATURE)
    assert not verify_signature(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE.upper())
    assert not verify_signature(GITHUB_SECRET, GITHUB_BODY, GITHUB_SIGNATURE[len("sha256=") :])


def test_verify_refuses_missing_and_malformed_headers_without_raising() -> None:
    for header in (None, "", "sha256=", "sha1=abc", "sha256=ü" * 3, "\x00"):
        assert not verify_signature(GITHUB_SECRET, GITHUB_BODY, header)
