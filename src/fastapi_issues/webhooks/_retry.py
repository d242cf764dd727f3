"""When a failed delivery is tried again: exponential backoff with jitter, then giving up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """The retry schedule of one delivery.

    After the n-th failed attempt (n < `attempts`), the next is due
    `first_delay * factor ** (n - 1)` seconds later (at most `max_delay`), shortened by up to
    `jitter` of itself at random so that receivers coming back from an outage are not hit by
    every sender at the same instant. After `attempts` failures the delivery is given up.

    The defaults: 7 attempts, the first retry within 4 s, the last one 1.2 to 1.5 hours
    after the first attempt (4, 16, 64, 256, 1024 and 4096 s, each less up to a fifth).
    """

    attempts: int = 7
    first_delay: float = 4.0
    factor: float = 4.0
    max_delay: float = 6 * 3600.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a delivery needs at least one attempt")
        if self.first_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")
        if self.factor < 1:
            raise ValueError("the backoff factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction from 0 up to (not including) 1")

    def delay(self, attempts_made: int, rand: float) -> float | None:
        """Seconds until the next attempt after `attempts_made` failed ones, or None to give
        up; `rand` is a random number in [0, 1)."""
        if attempts_made >= self.attempts:
            return None
        exponent = max(attempts_made - 1, 0)
        base = min(self.first_delay * self.factor**exponent, self.max_delay)
        return base * (1 - self.jitter * min(max(rand, 0.0), 1.0))

    def retry_at(self, attempts_made: int, now: datetime, rand: float) -> datetime | None:
        """When to try again after `attempts_made` failed attempts, the last at `now`; None
        to give the delivery up."""
        delay = self.delay(attempts_made, rand)
        return None if delay is None else now + timedelta(seconds=delay)
