"""The clock the suites hand a store: it stands still until a test or a rule moves it.

Apart from the model-based suite so that the contract suites, which do not need Hypothesis,
can use it too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that stands still until told to move: store and model read the same time."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, step: timedelta) -> None:
        self.now += step
