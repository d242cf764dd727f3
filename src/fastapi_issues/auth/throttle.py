"""Login throttling: failed logins per username and per client address earn a growing wait.

Each key (a username, a client address) may fail `free_failures` times in a row unhindered.
The failure that uses up the last of them, and each one after, locks the key for
`base_delay * 2**(failures - free_failures)` seconds, capped at `max_delay`, counted from
that failure. While a key is locked, logins for it get 429 with
`Retry-After` before any password is checked, and count for nothing, so hammering a locked
key neither costs argon2 time nor extends the lock: a user whose name is attacked waits at
most `max_delay` after the attacker's last guess. A key's failures are forgotten
`forget_after` seconds after its last one; a successful login clears its username's.
Per-address limits are looser than per-username ones, because many people may share one
address (an office, a NAT).

Failure counts live in a `ThrottleStorage`. The default, `InMemoryThrottleStorage`, is per
process: with several workers each keeps its own counts. Give every worker one shared
storage (Redis, a database) by implementing the three-method protocol.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from fastapi_issues._usernames import normalize_username

__all__ = [
    "Failures",
    "InMemoryThrottleStorage",
    "LoginThrottle",
    "LoginThrottled",
    "RateLimit",
    "RegistrationThrottle",
    "RegistrationThrottled",
    "SharedThrottleStorage",
    "ThrottleRule",
    "ThrottleStorage",
    "throttled_login",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Failures:
    """The failed logins counted for one key."""

    count: int
    last: float
    """When the latest one happened, in seconds since the epoch."""


@runtime_checkable
class ThrottleStorage(Protocol):
    """Where failure counts live. Implementations must make `add` atomic per key."""

    async def get(self, key: str) -> Failures | None:
        """The failures counted for `key`, or None once they have expired or been cleared."""
        ...

    async def add(self, key: str, now: float, expire_after: float) -> Failures:
        """Count one more failure for `key` at `now`; forget them all `expire_after` seconds
        after this one unless another comes."""
        ...

    async def clear(self, key: str) -> None:
        """Forget the failures of `key`."""
        ...


@runtime_checkable
class SharedThrottleStorage(ThrottleStorage, Protocol):
    """A storage several processes share (a file, a database table).

    `LoginThrottle` then counts the password checks still running there too, as keys of
    their own (`in-flight:` before the key; `add` with a short expiry, then `subtract`),
    so N workers together allow no more guesses than one.
    """

    async def subtract(self, key: str) -> None:
        """Count one fewer for `key` (forgetting it at zero); atomic per key, as `add`."""
        ...


IN_FLIGHT_EXPIRY = 60.0
"""Seconds after which a password check counted as running in a shared storage is
forgotten: a process killed mid-check must not hold its keys back for ever."""


class InMemoryThrottleStorage:
    """Failure counts in this process's memory, at most `max_keys` of them.

    Expired keys are dropped as new failures arrive; past `max_keys`, the keys whose last
    failure is oldest go first, so a flood of made-up usernames cannot exhaust memory.
    """

    def __init__(self, max_keys: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.max_keys = max_keys
        self._clock = clock
        # key -> (failures, expires at), oldest last failure first
        self._entries: OrderedDict[str, tuple[Failures, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> Failures | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        failures, expires = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return failures

    async def add(self, key: str, now: float, expire_after: float) -> Failures:
        previous = await self.get(key)
        failures = Failures(count=(previous.count if previous else 0) + 1, last=now)
        self._entries[key] = (failures, now + expire_after)
        self._entries.move_to_end(key)
        self._drop_expired_and_excess()
        return failures

    async def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def _drop_expired_and_excess(self) -> None:
        now = self._clock()
        while self._entries:
            key, (_, expires) = next(iter(self._entries.items()))
            # Entries are in order of last failure; with one `expire_after` per key family
            # the oldest expire first, and a live oldest entry ends the sweep.
            if expires > now and len(self._entries) <= self.max_keys:
                return
            del self._entries[key]


@dataclass(frozen=True)
class ThrottleRule:
    """How many failures in a row go unhindered, and how the wait grows after them."""

    free_failures: int
    base_delay: float = 1.0
    max_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.free_failures < 1:
            raise ValueError("free_failures must be at least 1")
        if not 0 < self.base_delay <= self.max_delay:
            raise ValueError("need 0 < base_delay <= max_delay")

    def delay(self, failures: int) -> float:
        """The lock that the `failures`-th failure starts (0 while still free)."""
        over = failures - self.free_failures
        if over < 0:
            return 0.0
        # Bounded exponent: a huge count must not overflow.
        return min(self.max_delay, math.ldexp(self.base_delay, min(over, 64)))


class LoginThrottled(Exception):
    """Logins for this username or from this address must wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after}s")
        self.retry_after = retry_after


class LoginThrottle:
    """Decides whether a login may be tried, and counts how it went.

    Use it around the password check::

        async with throttle.attempt(username, client_address):  # raises LoginThrottled
            ok = await check_password(...)
            if ok:
                await throttle.succeeded(username)
            else:
                await throttle.failed(username, client_address)

    Args:
        storage: where counts live; `InMemoryThrottleStorage()` by default.
        per_username: the rule for each username (default 5 free failures, then 1 s
            doubling up to 5 minutes).
        per_address: the rule for each client address (default 20 free failures, same
            back-off). Keep it looser than `per_username`.
        forget_after: seconds after a key's last failure when its count starts again.
        clock: seconds since the epoch; for tests.
    """

    def __init__(
        self,
        storage: ThrottleStorage | None = None,
        *,
        per_username: ThrottleRule = ThrottleRule(free_failures=5),
        per_address: ThrottleRule = ThrottleRule(free_failures=20),
        forget_after: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if forget_after < max(per_username.max_delay, per_address.max_delay):
            raise ValueError("forget_after must be at least the longest max_delay")
        self.storage: ThrottleStorage = (
            storage if storage is not None else InMemoryThrottleStorage(clock=clock)
        )
        self.per_username = per_username
        self.per_address = per_address
        self.forget_after = forget_after
        self._clock = clock
        # Attempts whose password check is still running, per key: they may yet fail, so
        # they count against the free failures. In this process's memory, unless the
        # storage is shared by several processes: then in it, seen by all of them.
        self._shared = storage if isinstance(storage, SharedThrottleStorage) else None
        self._in_flight: dict[str, int] = {}

    def _keys(self, username: str, address: str | None) -> list[tuple[str, ThrottleRule]]:
        # Normalised as the user stores compare names: `Alice`, `alice` and a full-width
        # `alice` are one account, so they share one count.
        return [
            (_username_key(username), self.per_username),
            (f"addr:{address or 'unknown'}", self.per_address),
        ]

    async def retry_after(self, username: str, address: str | None) -> int:
        """Seconds (rounded up) before a login for `username` from `address` may be
        tried; 0 when it may be tried now."""
        return await self._wait(username, address, ahead=None)

    async def _wait(self, username: str, address: str | None, ahead: dict[str, int] | None) -> int:
        """The wait for a login now; `ahead`: per key, the checks still running that
        started before this attempt's (None: all that are running)."""
        now = self._clock()
        wait = 0.0
        for key, rule in self._keys(username, address):
            failures = await self.storage.get(key)
            count = failures.count if failures is not None else 0
            key_wait = failures.last + rule.delay(count) - now if failures is not None else 0.0
            others = ahead[key] if ahead is not None else await self._running(key)
            if key_wait <= 0 and others > 0 and count + others >= rule.free_failures:
                # Checks still running may use up the free failures, or (past them) are
                # the one try the expired lock allows: wait for their outcome.
                key_wait = rule.base_delay
            wait = max(wait, key_wait)
        return math.ceil(wait) if wait > 0 else 0

    async def _running(self, key: str) -> int:
        if self._shared is None:
            return self._in_flight.get(key, 0)
        running = await self._shared.get(_IN_FLIGHT + key)
        return running.count if running is not None else 0

    async def _enter(self, keys: list[str]) -> dict[str, int]:
        """Count a check as running under each key; per key, how many ran before it.

        Counted atomically (`add`), so of attempts entering together, in any process,
        each sees those ahead of it and none behind: the first goes on, the next ones
        wait for its outcome once the free failures could run out.
        """
        ahead: dict[str, int] = {}
        for key in keys:
            if self._shared is None:
                running = self._in_flight[key] = self._in_flight.get(key, 0) + 1
            else:
                added = await self._shared.add(_IN_FLIGHT + key, self._clock(), IN_FLIGHT_EXPIRY)
                running = added.count
            ahead[key] = running - 1
        return ahead

    async def _leave(self, keys: list[str]) -> None:
        if self._shared is None:
            for key in keys:
                left = self._in_flight.get(key, 0) - 1
                if left > 0:
                    self._in_flight[key] = left
                else:
                    self._in_flight.pop(key, None)
            return
        for key in keys:
            await self._shared.subtract(_IN_FLIGHT + key)

    def attempt(self, username: str, address: str | None) -> _Attempt:
        """An async context manager around one password check; raises `LoginThrottled`
        on entry when the login must wait."""
        return _Attempt(self, username, address)

    async def failed(self, username: str, address: str | None) -> None:
        """Count a failed login for the username and the address."""
        now = self._clock()
        for key, _ in self._keys(username, address):
            await self.storage.add(key, now, self.forget_after)

    async def succeeded(self, username: str) -> None:
        """Clear the username's failures. The address keeps its count: else anyone with
        one valid account could wipe their address's count between guesses at others."""
        await self.storage.clear(_username_key(username))


def _username_key(username: str) -> str:
    # Cut first: the name is the client's, and may be long.
    return f"user:{normalize_username(username[:200])}"


async def throttled_login(
    throttle: LoginThrottle,
    username: str,
    address: str | None,
    authenticate: Callable[[], Awaitable[T | None]],
) -> T | None:
    """Run `authenticate` (which returns the user, or None for bad credentials) under
    `throttle`, and count its outcome. Raises `LoginThrottled` without running it when the
    login must wait."""
    async with throttle.attempt(username, address):
        user = await authenticate()
        if user is None:
            await throttle.failed(username, address)
        else:
            await throttle.succeeded(username)
        return user


_IN_FLIGHT = "in-flight:"


class _Attempt:
    def __init__(self, throttle: LoginThrottle, username: str, address: str | None) -> None:
        self._throttle = throttle
        self._keys = [key for key, _ in throttle._keys(username, address)]
        self._username = username
        self._address = address

    async def __aenter__(self) -> None:
        # Counted as running before the check reads anything, so that two attempts checked
        # at once (in this process, or in others sharing the storage) each see the other.
        ahead = await self._throttle._enter(self._keys)
        try:
            wait = await self._throttle._wait(self._username, self._address, ahead)
        except BaseException:
            await self._throttle._leave(self._keys)
            raise
        if wait:
            await self._throttle._leave(self._keys)
            raise LoginThrottled(wait)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._throttle._leave(self._keys)


# -- registration ------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """At most `requests` in any `per_seconds`, refilled evenly (a token bucket): a burst
    of `requests` goes through at once, then one more every `per_seconds / requests`."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1:
            raise ValueError("requests must be at least 1")
        if not self.per_seconds > 0:
            raise ValueError("per_seconds must be positive")

    @property
    def refill_per_second(self) -> float:
        return self.requests / self.per_seconds


class RegistrationThrottled(Exception):
    """Registrations from this address, or from everyone, must wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many registrations; retry after {retry_after}s")
        self.retry_after = retry_after


class RegistrationThrottle:
    """Limits `POST /register` per client address and for everyone together.

    Registering costs an argon2 hash and leaves an account behind, so unlike logins every
    attempt counts, successful or not. A registration refused here costs no hash and does
    not count. Each address gets its own bucket; the overall one caps sign-ups from many
    addresses at once (and so the hashing they cost).

    Args:
        per_address: by default 10 an hour per client address (an office behind one NAT
            can still sign up its team in a morning).
        overall: by default 30 a minute for everyone together: about a fifth of one core
            spent hashing at the default argon2 parameters.
        max_addresses: addresses remembered at most; the least recently seen are forgotten
            first, so a flood of addresses cannot exhaust memory.
        clock: seconds, monotonic; for tests.

    The counts live in this process: with several workers, each allows this much.
    """

    def __init__(
        self,
        *,
        per_address: RateLimit = RateLimit(10, 3600.0),
        overall: RateLimit = RateLimit(30, 60.0),
        max_addresses: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_addresses < 1:
            raise ValueError("max_addresses must be at least 1")
        self.per_address = per_address
        self.overall = overall
        self.max_addresses = max_addresses
        self._clock = clock
        # bucket key -> (tokens, when counted), least recently used first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def acquire(self, address: str | None) -> None:
        """Count one registration from `address`, or raise `RegistrationThrottled` (and
        count nothing) when it or everyone has used up their limit.

        Synchronous: the check and the count happen with nothing else in between.
        """
        now = self._clock()
        buckets = [(f"addr:{address or 'unknown'}", self.per_address), ("all", self.overall)]
        levels = [self._level(key, limit, now) for key, limit in buckets]
        wait = max(
            (1.0 - tokens) / limit.refill_per_second
            for (_, limit), tokens in zip(buckets, levels, strict=True)
        )
        if wait > 0:
            raise RegistrationThrottled(max(1, math.ceil(wait)))
        for (key, _), tokens in zip(buckets, levels, strict=True):
            self._buckets[key] = (tokens - 1.0, now)
            self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_addresses + 1:  # + the overall bucket
            oldest = next(iter(self._buckets))
            if oldest == "all":
                self._buckets.move_to_end(oldest)
                continue
            del self._buckets[oldest]

    def _level(self, key: str, limit: RateLimit, now: float) -> float:
        """Tokens in the bucket `key` at `now`: full when unseen, else refilled since."""
        entry = self._buckets.get(key)
        if entry is None:
            return float(limit.requests)
        tokens, counted = entry
        refilled = tokens + (now - counted) * limit.refill_per_second
        return min(float(limit.requests), refilled)
