"""How the model-based suite compares what a store returned with what the model expected."""

from __future__ import annotations

from typing import Any

__all__ = ["same"]


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value


def same(actual: Any, expected: Any, what: str) -> None:
    """Fail with both sides shown unless they are equal as plain data."""
    assert _plain(actual) == _plain(expected), (
        f"{what}: the store returned\n  {_plain(actual)!r}\nthe model expected\n  "
        f"{_plain(expected)!r}"
    )
