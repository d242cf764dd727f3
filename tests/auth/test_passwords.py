"""`Passwords`: argon2 hashing that never runs on the event loop, and re-hashing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from fastapi_issues.auth.passwords import Passwords

pytestmark = pytest.mark.anyio

# Cheap parameters keep these tests fast; the defaults are checked where they matter.
WEAK = Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1)


class RecordingHasher(Argon2Hasher):
    """An argon2 hasher that notes which threads run it and how many at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8 * 1024, parallelism=1)
        self.threads: set[int] = set()
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def _enter(self) -> None:
        with self._lock:
            self.threads.add(threading.get_ident())
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(0.01)  # long enough for overlaps to show

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._enter()
        try:
            return super().hash(password, salt=salt)
        finally:
            self._leave()

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        self._enter()
        try:
            return super().verify(password, hash)
        finally:
            self._leave()


async def test_hash_then_verify() -> None:
    passwords = Passwords(PasswordHash((WEAK,)))
    hashed = await passwords.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert await passwords.verify_and_update("correct horse", hashed) == (True, None)
    assert await passwords.verify_and_update("wrong horse", hashed) == (False, None)


async def test_the_default_is_pwdlibs_recommended_argon2() -> None:
    hashed = await Passwords().hash("correct horse")
    assert PasswordHash.recommended().verify("correct horse", hashed)
    assert not PasswordHash.recommended().current_hasher.check_needs_rehash(hashed)


async def test_an_outdated_hash_is_replaced_on_success_only() -> None:
    outdated = PasswordHash((WEAK,)).hash("correct horse")
    passwords = Passwords()  # the recommended, stronger parameters
    assert await passwords.verify_and_update("wrong horse", outdated) == (False, None)
    verified, updated = await passwords.verify_and_update("correct horse", outdated)
    assert verified
    assert updated is not None
    assert updated != outdated
    current = PasswordHash.recommended()
    assert current.verify("correct horse", updated)
    assert not current.current_hasher.check_needs_rehash(updated)


async def test_an_unknown_hash_format_never_matches(caplog: pytest.LogCaptureFixture) -> None:
    passwords = Passwords(PasswordHash((WEAK,)))
    with caplog.at_level(logging.WARNING, logger="fastapi_issues.auth"):
        result = await passwords.verify_and_update("x", "plaintext-not-a-hash")
    assert result == (False, None)
    assert "unknown format" in caplog.text
    assert "plaintext-not-a-hash" not in caplog.text


async def test_a_dummy_check_runs_a_real_verification() -> None:
    hasher = RecordingHasher()
    passwords = Passwords(PasswordHash((hasher,)))
    await passwords.verify_dummy("anything")
    await passwords.verify_dummy("anything")
    # One hash to make the dummy, then one verification per call.
    assert hasher.most_at_once == 1
    assert len(hasher.threads) >= 1


async def test_argon2_never_runs_on_the_event_loop_thread() -> None:
    hasher = RecordingHasher()
    passwords = Passwords(PasswordHash((hasher,)))
    hashed = await passwords.hash("correct horse")
    await passwords.verify_and_update("correct horse", hashed)
    await passwords.verify_dummy("nobody's password")
    assert hasher.threads
    assert threading.get_ident() not in hasher.threads


async def test_concurrent_hashing_is_bounded() -> None:
    hasher = RecordingHasher()
    passwords = Passwords(PasswordHash((hasher,)), max_concurrency=2)
    await asyncio.gather(*(passwords.hash(f"password {n}") for n in range(8)))
    assert hasher.most_at_once == 2


async def max_stall_while(work: object) -> tuple[float, float]:
    """The longest the loop went without running a ticker, and how long `work` took."""
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = time.perf_counter()
    await work  # type: ignore[misc]
    busy = time.perf_counter() - started
    done = True
    await ticking
    return max(gaps), busy


async def test_the_loop_keeps_serving_while_real_argon2_runs() -> None:
    passwords = Passwords()  # real parameters: tens to hundreds of ms per call
    hashed = await passwords.hash("correct horse")
    for work in (passwords.hash("password"), passwords.verify_and_update("guess", hashed)):
        stall, busy = await max_stall_while(work)
        # On the loop, argon2 would stall it for the whole call.
        assert busy > 0.02
        assert stall < busy / 2


async def test_the_stall_probe_catches_argon2_on_the_loop() -> None:
    # The probe above must be able to fail: here argon2 runs on the loop on purpose.
    async def on_the_loop() -> None:
        PasswordHash.recommended().hash("password")

    stall, busy = await max_stall_while(on_the_loop())
    assert stall >= busy / 2
