"""Test suites for stores: run them against your own store to know it behaves as ours do.

Two kinds, best used together:

- **Contract suites** (`IssueStoreContract`, `LabelStoreContract`, `CommentStoreContract`,
  `TrackerStoreContract`, `EventStoreContract`, `HookStoreContract`, `UserStoreContract`):
  example-based tests, one behaviour each.
  Subclass one in your tests and give it a `store` fixture that yields a fresh, empty store;
  pytest then runs every test against it::

      import pytest
      from fastapi_issues.testing import IssueStoreContract

      class TestMyStore(IssueStoreContract):
          @pytest.fixture
          async def store(self):
              store = MyStore(...)
              yield store
              await store.aclose()

  The tests are async and run on anyio's pytest plugin, which comes with FastAPI.
  `UserStoreContract` needs the `auth` extra.

- **The model-based suite** (`tracker_state_machine`, needs the `testing` extra for
  Hypothesis): random sequences of every operation, run on your store and on the reference
  model (`TrackerModel`), which must agree after every step on the touched issue and on a
  random list query. It finds what nobody thought to write an example for::

      from fastapi_issues.testing import tracker_state_machine

      TestMyStoreModel = tracker_state_machine(open_my_store).TestCase

  where `open_my_store(clock)` is an async context manager yielding a fresh, empty store
  that reads the time from `clock`. Our own stores all pass both kinds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi_issues.testing._clock import ManualClock
from fastapi_issues.testing.contracts import (
    CommentStoreContract,
    EventStoreContract,
    HookStoreContract,
    IssueStoreContract,
    LabelStoreContract,
    TrackerStoreContract,
    UserStoreContract,
)
from fastapi_issues.testing.model import ModelPage, TrackerModel

if TYPE_CHECKING:
    from fastapi_issues.testing.stateful import (
        StoreOpener,
        TrackerStateMachine,
        tracker_state_machine,
    )

__all__ = [
    "CommentStoreContract",
    "EventStoreContract",
    "HookStoreContract",
    "IssueStoreContract",
    "LabelStoreContract",
    "ManualClock",
    "ModelPage",
    "StoreOpener",
    "TrackerModel",
    "TrackerStateMachine",
    "TrackerStoreContract",
    "UserStoreContract",
    "tracker_state_machine",
]

_STATEFUL = {"StoreOpener", "TrackerStateMachine", "tracker_state_machine"}


def __getattr__(name: str) -> Any:
    # Hypothesis is needed by the model-based suite only: the contract suites work without it.
    if name in _STATEFUL:
        from fastapi_issues.testing import stateful

        return getattr(stateful, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
