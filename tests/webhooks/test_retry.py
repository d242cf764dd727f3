"""The retry schedule: first retry within 5 s, at least 6 attempts over at least an hour."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from fastapi_issues.webhooks import RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def schedule(policy: RetryPolicy, rand: float) -> list[float]:
    """The delays between attempts until the policy gives up."""
    delays = []
    attempts = 1
    while (delay := policy.delay(attempts, rand)) is not None:
        delays.append(delay)
        attempts += 1
    return delays


DRAWS = [random.Random(7).random() for _ in range(5)]


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999, *DRAWS])
def test_the_default_schedule_keeps_the_issues_bounds(rand: float) -> None:
    delays = schedule(RetryPolicy(), rand)
    assert delays[0] <= 5
    assert len(delays) + 1 >= 6
    assert sum(delays) >= 3600
    assert delays == sorted(delays)


def test_jitter_only_shortens_and_spreads_the_delay() -> None:
    policy = RetryPolicy()
    assert policy.delay(1, 0.0) == 4.0
    assert policy.delay(1, 0.999) == pytest.approx(4.0 * (1 - 0.2 * 0.999))
    assert policy.delay(3, 0.5) == pytest.approx(64.0 * 0.9)
    assert len({policy.delay(2, random.random()) for _ in range(20)}) > 1


def test_retry_at_is_a_pure_function_and_gives_up_after_the_last_attempt() -> None:
    policy = RetryPolicy(attempts=3, first_delay=1.0, factor=2.0, jitter=0.0)
    assert policy.retry_at(1, NOW, 0.3) == NOW + timedelta(seconds=1)
    assert policy.retry_at(2, NOW, 0.3) == NOW + timedelta(seconds=2)
    assert policy.retry_at(2, NOW, 0.3) == policy.retry_at(2, NOW, 0.3)
    assert policy.retry_at(3, NOW, 0.3) is None
    assert policy.retry_at(30, NOW, 0.3) is None


def test_the_delay_is_capped() -> None:
    policy = RetryPolicy(attempts=50, first_delay=10, factor=10, max_delay=60, jitter=0)
    assert policy.delay(40, 0.5) == 60


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"attempts": 0}, "at least one attempt"),
        ({"first_delay": -1}, "cannot be negative"),
        ({"max_delay": -1}, "cannot be negative"),
        ({"factor": 0.5}, "factor must be at least 1"),
        ({"jitter": 1.0}, "jitter is a fraction"),
        ({"jitter": -0.1}, "jitter is a fraction"),
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, float], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        RetryPolicy(**settings)  # type: ignore[arg-type]
