"""What the webhook worker and a `HookStore` hand each other: a delivery due now, and the
result of one attempt; and the bodies deliveries carry, shaped in this one place."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from fastapi_issues.schemas import PING, EventOut, HookOut

__all__ = [
    "FINISHED_KEPT",
    "RESPONSE_SNIPPET",
    "AttemptResult",
    "DueDelivery",
    "checked_kept",
    "event_body",
    "ping_body",
]

RESPONSE_SNIPPET = 1024
"""How many characters of an answer's body a delivery keeps (`DeliveryOut.response`)."""

FINISHED_KEPT = 100
"""How many finished (delivered or failed) deliveries a store keeps per hook, by default:
the history an admin reads and redelivers from, bounded so that a store does not grow with
every event ever delivered (each delivery keeps its body). Stores take another number as
`deliveries_kept=`."""


@dataclass(frozen=True)
class DueDelivery:
    """A delivery to attempt now, with all an attempt needs. The only place a hook's secret
    leaves its store; it is kept out of the repr."""

    id: str
    hook_id: str
    url: str
    secret: str = field(repr=False)
    event: str
    event_id: int | None
    body: bytes = field(repr=False)
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to.

    `ok` is a 2xx answer. When not ok, `retry_at` is when to try again, or None to give the
    delivery up (`failed`). `response` is the start of the answer's body, or why none came;
    the store keeps at most `RESPONSE_SNIPPET` characters of it.
    """

    at: datetime
    ok: bool
    status_code: int | None
    duration_ms: float
    response: str
    retry_at: datetime | None = None


def checked_kept(kept: int) -> int:
    """`kept` as a store's `deliveries_kept`, or a ValueError saying why it cannot be."""
    if isinstance(kept, bool) or not isinstance(kept, int) or kept < 0:
        raise ValueError(f"deliveries_kept must be a whole number >= 0, not {kept!r}")
    return kept


def event_body(event: EventOut) -> bytes:
    """The body delivering `event`: its JSON as the feed shows it."""
    return event.model_dump_json().encode()


def ping_body(hook: HookOut) -> bytes:
    """The body of a hook's ping: the hook as the API shows it (never its secret)."""
    ping = {"type": PING, "hook_id": hook.id, "hook": hook.model_dump(mode="json")}
    return json.dumps(ping, separators=(",", ":")).encode()
