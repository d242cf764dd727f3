"""`LoginThrottle`: free failures, bounded exponential back-off, per username and address."""

from __future__ import annotations

import asyncio

import pytest

from fastapi_issues.auth.throttle import (
    Failures,
    InMemoryThrottleStorage,
    LoginThrottle,
    LoginThrottled,
    RateLimit,
    RegistrationThrottle,
    RegistrationThrottled,
    ThrottleRule,
    ThrottleStorage,
)

pytestmark = pytest.mark.anyio

ADDRESS = "203.0.113.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock: Clock) -> LoginThrottle:
    return LoginThrottle(clock=clock)


async def fail(throttle: LoginThrottle, username: str = "alice", address: str = ADDRESS) -> None:
    async with throttle.attempt(username, address):
        await throttle.failed(username, address)


async def test_five_failures_in_a_row_then_a_doubling_wait(
    throttle: LoginThrottle, clock: Clock
) -> None:
    for _ in range(5):
        assert await throttle.retry_after("alice", ADDRESS) == 0
        await fail(throttle)
    waits = []
    for _ in range(12):
        wait = await throttle.retry_after("alice", ADDRESS)
        waits.append(wait)
        with pytest.raises(LoginThrottled) as refused:
            async with throttle.attempt("alice", ADDRESS):
                pytest.fail("a locked login must not be tried")
        assert refused.value.retry_after == wait
        clock.now += wait
        await fail(throttle)
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]


async def test_the_wait_never_passes_the_cap(clock: Clock) -> None:
    storage = InMemoryThrottleStorage(clock=clock)
    throttle = LoginThrottle(storage, clock=clock)
    for _ in range(10_000):  # a determined attacker's count
        await storage.add("user:alice", clock.now, 900)
    assert await throttle.retry_after("alice", "198.51.100.1") == 300
    clock.now += 300
    assert await throttle.retry_after("alice", "198.51.100.1") == 0


async def test_refused_attempts_count_for_nothing(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(5):
        await fail(throttle)
    for _ in range(100):
        with pytest.raises(LoginThrottled):
            async with throttle.attempt("alice", ADDRESS):
                pass
    assert await throttle.storage.get("user:alice") == Failures(count=5, last=clock.now)
    clock.now += 1
    assert await throttle.retry_after("alice", ADDRESS) == 0


async def test_success_clears_the_username_but_not_the_address(throttle: LoginThrottle) -> None:
    for _ in range(4):
        await fail(throttle)
    async with throttle.attempt("alice", ADDRESS):
        await throttle.succeeded("alice")
    assert await throttle.storage.get("user:alice") is None
    assert (await throttle.storage.get(f"addr:{ADDRESS}")).count == 4  # type: ignore[union-attr]
    for _ in range(4):
        await fail(throttle)
    assert await throttle.retry_after("alice", ADDRESS) == 0


async def test_one_address_guessing_many_usernames_is_throttled(throttle: LoginThrottle) -> None:
    for n in range(20):
        await fail(throttle, username=f"user{n}")
    assert await throttle.retry_after("someone-new", ADDRESS) == 1
    # The users themselves, from their own addresses, are not affected.
    assert await throttle.retry_after("user0", "198.51.100.1") == 0


async def test_address_limits_are_looser_than_username_limits() -> None:
    throttle = LoginThrottle()
    assert throttle.per_address.free_failures > throttle.per_username.free_failures
    assert throttle.per_username.max_delay <= 300
    assert throttle.per_address.max_delay <= 300


async def test_attacks_from_many_addresses_still_lock_the_username(
    throttle: LoginThrottle,
) -> None:
    for n in range(5):
        await fail(throttle, address=f"198.51.100.{n}")
    assert await throttle.retry_after("alice", "198.51.100.200") == 1


async def test_failures_are_forgotten_after_a_quiet_spell(
    throttle: LoginThrottle, clock: Clock
) -> None:
    for _ in range(8):
        clock.now += await throttle.retry_after("alice", ADDRESS)
        await fail(throttle)
    clock.now += 899
    assert (await throttle.storage.get("user:alice")).count == 8  # type: ignore[union-attr]
    clock.now += 1
    assert await throttle.storage.get("user:alice") is None
    await fail(throttle)
    assert await throttle.retry_after("alice", ADDRESS) == 0


async def test_username_case_does_not_buy_more_guesses(throttle: LoginThrottle) -> None:
    for name in ("alice", "Alice", "ALICE", "aLiCe", "ALIce"):
        await fail(throttle, username=name)
    assert await throttle.retry_after("alice", "198.51.100.1") == 1


async def test_concurrent_attempts_cannot_outrun_the_count(throttle: LoginThrottle) -> None:
    release = asyncio.Event()
    entered = 0
    refused = 0
    waits: set[int] = set()

    async def guess() -> None:
        nonlocal entered, refused
        try:
            async with throttle.attempt("alice", ADDRESS):
                entered += 1
                await release.wait()  # the password check is slow
                await throttle.failed("alice", ADDRESS)
        except LoginThrottled as exc:
            waits.add(exc.retry_after)
            refused += 1

    tasks = [asyncio.create_task(guess()) for _ in range(50)]
    await asyncio.sleep(0.01)
    assert (entered, refused) == (5, 45)
    assert waits == {1}
    release.set()
    await asyncio.gather(*tasks)
    assert (await throttle.storage.get("user:alice")).count == 5  # type: ignore[union-attr]


async def test_after_a_lock_only_one_try_at_a_time(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(5):
        await fail(throttle)
    clock.now += 1
    async with throttle.attempt("alice", ADDRESS):
        with pytest.raises(LoginThrottled):
            async with throttle.attempt("alice", ADDRESS):
                pass
        await throttle.failed("alice", ADDRESS)
    assert await throttle.retry_after("alice", ADDRESS) == 2


async def test_an_attempt_that_raises_frees_its_place(throttle: LoginThrottle) -> None:
    for _ in range(4):
        await fail(throttle)
    with pytest.raises(RuntimeError):
        async with throttle.attempt("alice", ADDRESS):
            raise RuntimeError("user store down")
    async with throttle.attempt("alice", ADDRESS):
        pass


async def test_unknown_client_address_is_one_key(throttle: LoginThrottle) -> None:
    for n in range(20):
        await fail(throttle, username=f"u{n}", address=None)  # type: ignore[arg-type]
    assert await throttle.retry_after("v", None) == 1


# -- storage ------------------------------------------------------------------------------


async def test_memory_storage_is_bounded(clock: Clock) -> None:
    storage = InMemoryThrottleStorage(max_keys=100, clock=clock)
    for n in range(10_000):
        await storage.add(f"user:{n}", clock.now, 900)
    assert len(storage) == 100
    assert await storage.get("user:9999") is not None
    assert await storage.get("user:0") is None


async def test_memory_storage_drops_expired_keys(clock: Clock) -> None:
    storage = InMemoryThrottleStorage(clock=clock)
    for n in range(50):
        await storage.add(f"user:{n}", clock.now, 900)
    clock.now += 901
    await storage.add("user:new", clock.now, 900)
    assert len(storage) == 1


class DictStorage:
    """A storage of the test's own, as a Redis- or SQL-backed one would be plugged in."""

    def __init__(self) -> None:
        self.data: dict[str, Failures] = {}
        self.calls: list[str] = []

    async def get(self, key: str) -> Failures | None:
        self.calls.append("get")
        return self.data.get(key)

    async def add(self, key: str, now: float, expire_after: float) -> Failures:
        self.calls.append("add")
        old = self.data.get(key)
        self.data[key] = Failures((old.count if old else 0) + 1, now)
        return self.data[key]

    async def clear(self, key: str) -> None:
        self.calls.append("clear")
        self.data.pop(key, None)


async def test_storage_is_pluggable(clock: Clock) -> None:
    storage = DictStorage()
    assert isinstance(storage, ThrottleStorage)
    throttle = LoginThrottle(storage, clock=clock)
    for _ in range(5):
        await fail(throttle)
    assert storage.data["user:alice"].count == 5
    assert await throttle.retry_after("alice", ADDRESS) == 1
    await throttle.succeeded("alice")
    assert "user:alice" not in storage.data
    assert {"get", "add", "clear"} == set(storage.calls)


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="free_failures"):
        ThrottleRule(free_failures=0)
    with pytest.raises(ValueError, match="base_delay"):
        ThrottleRule(free_failures=3, base_delay=10, max_delay=5)
    with pytest.raises(ValueError, match="forget_after"):
        LoginThrottle(forget_after=60)
    with pytest.raises(ValueError, match="max_keys"):
        InMemoryThrottleStorage(max_keys=0)
    assert ThrottleRule(free_failures=3).delay(2) == 0
    assert ThrottleRule(free_failures=3).delay(10**9) == 300


# -- registration ------------------------------------------------------------------------


def registrations(
    clock: Clock, per_address: RateLimit, overall: RateLimit, **options: int
) -> RegistrationThrottle:
    return RegistrationThrottle(per_address=per_address, overall=overall, clock=clock, **options)


def refused_for(throttle: RegistrationThrottle, address: str | None) -> int:
    with pytest.raises(RegistrationThrottled) as refused:
        throttle.acquire(address)
    return refused.value.retry_after


def test_registrations_per_address_come_in_a_burst_then_evenly() -> None:
    clock = Clock()
    throttle = registrations(clock, RateLimit(3, 60), RateLimit(1000, 1))
    for _ in range(3):
        throttle.acquire("203.0.113.1")
    assert refused_for(throttle, "203.0.113.1") == 20  # one every 60 / 3 seconds
    throttle.acquire("203.0.113.2")  # another address has its own
    clock.now += 19.5
    assert refused_for(throttle, "203.0.113.1") == 1
    clock.now += 0.5
    throttle.acquire("203.0.113.1")
    assert refused_for(throttle, "203.0.113.1") == 20
    # Idle, a bucket fills up to its burst, never beyond.
    clock.now += 3600
    for _ in range(3):
        throttle.acquire("203.0.113.1")
    assert refused_for(throttle, "203.0.113.1") == 20


def test_registrations_overall_cap_every_address_together() -> None:
    clock = Clock()
    throttle = registrations(clock, RateLimit(10, 3600), RateLimit(2, 10))
    throttle.acquire("203.0.113.1")
    throttle.acquire("203.0.113.2")
    assert refused_for(throttle, "203.0.113.3") == 5
    assert refused_for(throttle, None) == 5
    clock.now += 5
    throttle.acquire("203.0.113.3")


def test_a_refused_registration_counts_for_nothing() -> None:
    clock = Clock()
    throttle = registrations(clock, RateLimit(1, 60), RateLimit(2, 60))
    throttle.acquire("203.0.113.1")
    for _ in range(5):
        refused_for(throttle, "203.0.113.1")  # must not use up the overall bucket
    throttle.acquire("203.0.113.2")
    assert refused_for(throttle, "203.0.113.3") == 30


def test_registration_throttle_forgets_the_least_recent_addresses_first() -> None:
    clock = Clock()
    throttle = registrations(clock, RateLimit(1, 3600), RateLimit(1000, 1), max_addresses=2)
    for address in ("a", "b", "c"):
        throttle.acquire(address)
    assert len(throttle._buckets) == 3  # two addresses and the overall bucket
    throttle.acquire("a")  # forgotten, so full again
    refused_for(throttle, "c")


def test_registration_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="requests"):
        RateLimit(0, 60)
    with pytest.raises(ValueError, match="per_seconds"):
        RateLimit(1, 0)
    with pytest.raises(ValueError, match="max_addresses"):
        RegistrationThrottle(max_addresses=0)
    defaults = RegistrationThrottle()
    assert (defaults.per_address, defaults.overall) == (RateLimit(10, 3600), RateLimit(30, 60))


async def test_login_counts_are_shared_by_every_form_of_a_name() -> None:
    throttle = LoginThrottle(per_username=ThrottleRule(free_failures=2))
    await throttle.failed("alice", "203.0.113.1")
    await throttle.failed("ALICE", "203.0.113.2")
    assert await throttle.retry_after("\uff41lice", "203.0.113.3") == 1
