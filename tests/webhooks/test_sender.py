"""One attempt against a real receiver on 127.0.0.1: headers, time and size bounds, no
redirects, and the address check at connection time (DNS faked per test)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from fastapi_issues import __version__
from fastapi_issues.storage.deliveries import DueDelivery
from fastapi_issues.webhooks import READ_CAP, Sender, check_target, sign
from tests.webhooks.receiver import Answer, Received, Receiver

pytestmark = pytest.mark.anyio

SECRET = "a-test-secret-of-32-characters!!"
BODY = b'{"id":1,"type":"issue.created"}'


def due(url: str, *, attempts: int = 0) -> DueDelivery:
    return DueDelivery(
        id="0b7f2d0e-6d8c-4b7e-9a51-5c1d8a1f0c11",
        hook_id="hook-1",
        url=url,
        secret=SECRET,
        event="issue.created",
        event_id=1,
        body=BODY,
        attempts=attempts,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def answering(answer: Answer) -> Callable[[Received], Answer]:
    return lambda _: answer


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as running:
        yield running


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Names the test makes resolve as it likes; others resolve as usual."""
    names: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def fake(host: str, port: int, **kwargs: object) -> list[tuple[object, ...]]:
        if host not in names:
            return await real(host, port, **kwargs)  # type: ignore[arg-type]
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in a], socket.SOCK_STREAM, 6, "", (a, port)) for a in names[host]]

    monkeypatch.setattr(loop, "getaddrinfo", fake)
    return names


async def attempt(url: str, **options: object) -> tuple[bool, int | None, str]:
    sender = Sender(allow_private=True, **options)  # type: ignore[arg-type]
    try:
        result = await sender.attempt(due(url))
    finally:
        await sender.aclose()
    return result.ok, result.status_code, result.response


async def test_a_delivery_carries_its_headers_and_a_valid_signature(receiver: Receiver) -> None:
    sender = Sender(allow_private=True)
    try:
        result = await sender.attempt(due(receiver.url))
    finally:
        await sender.aclose()
    assert (result.ok, result.status_code, result.response) == (True, 200, "thanks")
    assert result.duration_ms > 0
    [got] = receiver.snapshot()
    assert got.body == BODY
    assert got.signed
    assert got.headers["x-issues-signature-256"] == sign(SECRET, BODY)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-issues-event"] == "issue.created"
    assert got.headers["x-issues-delivery"] == "0b7f2d0e-6d8c-4b7e-9a51-5c1d8a1f0c11"
    assert got.headers["x-issues-hook-id"] == "hook-1"
    assert got.headers["user-agent"] == f"fastapi-issues-webhooks/{__version__}"


async def test_a_non_2xx_answer_fails_with_its_status_and_snippet(receiver: Receiver) -> None:
    receiver.plan = answering(Answer(503, b"busy " * 1000))
    ok, status, response = await attempt(receiver.url)
    assert (ok, status) == (False, 503)
    assert response.startswith("busy busy")
    assert len(response) == 1024


async def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    elsewhere = f"http://127.0.0.1:{receiver.port}/elsewhere"
    receiver.plan = answering(Answer(302, b"", headers={"Location": elsewhere}))
    ok, status, response = await attempt(receiver.url)
    assert (ok, status) == (False, 302)
    assert response == f"redirect to {elsewhere!r} not followed"
    assert len(receiver.snapshot()) == 1


async def test_a_slow_answer_times_the_whole_attempt_out(receiver: Receiver) -> None:
    receiver.plan = answering(Answer(200, delay=5))
    ok, status, response = await attempt(receiver.url, total_timeout=0.3)
    assert (ok, status, response) == (False, None, "timed out after 0.3 s")


async def test_a_huge_answer_is_read_only_up_to_the_cap(receiver: Receiver) -> None:
    receiver.plan = answering(Answer(200, b"ok", stream_bytes=200 * 1024 * 1024))
    ok, status, response = await attempt(receiver.url)
    assert (ok, status) == (True, 200)
    assert response.startswith("okxxx")
    # The connection was dropped long before 200 MiB were sent.
    assert receiver.streamed < 50 * 1024 * 1024


async def test_reading_stops_at_the_cap() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"y" * 1024

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    ok, status, _ = await attempt("http://receiver.test/", transport=httpx.MockTransport(handler))
    assert (ok, status) == (True, 200)
    assert pulled == READ_CAP // 1024


async def test_only_http_and_https_are_called() -> None:
    for url in ("ftp://example.com/x", "file:///etc/passwd", "gopher://example.com/"):
        ok, status, response = await attempt(url)
        assert (ok, status) == (False, None)
        assert response == "refused: a hook URL must be http:// or https://"


async def test_nobody_answering_is_a_failed_attempt() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    ok, status, response = await attempt(f"http://127.0.0.1:{port}/")
    assert (ok, status) == (False, None)
    assert response.startswith("no answer: ConnectError")


REFUSED = {
    "127.0.0.1": "a loopback address",
    "::1": "a loopback address",
    "10.0.0.5": "a private address",
    "192.168.1.1": "a private address",
    "172.16.0.1": "a private address",
    "fd00::1": "a private address",
    "169.254.169.254": "a link-local address (cloud metadata lives there)",
    "fe80::1": "a link-local address (cloud metadata lives there)",
    "224.0.0.1": "a multicast address",
    "ff02::1": "a multicast address",
    "100.100.100.200": "a cloud metadata address",
    "0.0.0.0": "a private address",
    "240.0.0.1": "a private address",
    "::ffff:10.0.0.1": "a private address",
    "100.64.0.1": "an address that is not public",
}


@pytest.mark.parametrize("address", REFUSED)
async def test_every_refused_address_class_is_refused_at_delivery(
    address: str, dns: dict[str, list[str]], receiver: Receiver
) -> None:
    dns["hooks.example.com"] = ["93.184.215.14"]
    await check_target("http://hooks.example.com/hook")  # public when registered
    dns["hooks.example.com"] = [address]  # then the name turns
    sender = Sender()
    try:
        result = await sender.attempt(due(f"http://hooks.example.com:{receiver.port}/hook"))
    finally:
        await sender.aclose()
    assert (result.ok, result.status_code) == (False, None)
    assert result.response == (
        f"refused: the host 'hooks.example.com' resolves to {address}, {REFUSED[address]}"
    )
    assert receiver.snapshot() == []


async def test_one_private_address_among_public_ones_refuses_the_name(
    dns: dict[str, list[str]], receiver: Receiver
) -> None:
    dns["mixed.example.com"] = ["93.184.215.14", "127.0.0.1"]
    sender = Sender()
    try:
        result = await sender.attempt(due(f"http://mixed.example.com:{receiver.port}/hook"))
    finally:
        await sender.aclose()
    assert result.response == (
        "refused: the host 'mixed.example.com' resolves to 127.0.0.1, a loopback address"
    )
    assert receiver.snapshot() == []


async def test_an_address_in_the_url_is_checked_too(receiver: Receiver) -> None:
    sender = Sender()
    try:
        result = await sender.attempt(due(receiver.url))
    finally:
        await sender.aclose()
    assert (
        result.response == "refused: the host '127.0.0.1' resolves to 127.0.0.1, a loopback address"
    )
    assert receiver.snapshot() == []


async def test_allow_private_connects_to_the_address_the_check_resolved(
    dns: dict[str, list[str]], receiver: Receiver
) -> None:
    # The name exists only in the fake resolver: reaching the receiver proves the connection
    # went to the checked address rather than a second lookup of the name.
    dns["receiver.invalid"] = ["127.0.0.1"]
    ok, status, _ = await attempt(f"http://receiver.invalid:{receiver.port}/hook")
    assert (ok, status) == (True, 200)
    [got] = receiver.snapshot()
    assert got.headers["host"] == f"receiver.invalid:{receiver.port}"
