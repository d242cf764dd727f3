"""The reference model's webhooks and deliveries: what `HookStore` means, in plain Python.

Like the rest of the model it shares no code with the stores (not the memory store's hook
book, nor `storage.deliveries`' body builders): a delivery's body is kept as the JSON value
it must decode to, so a store that shapes bodies its own way is judged on what they say.

The model is told the ids a store assigns (hooks, pings: their returned id; event
deliveries: `ids`, by hook and event) and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi_issues.schemas import (
    DeliveryOut,
    DeliveryState,
    HookCreate,
    HookOut,
    HookUpdate,
)
from fastapi_issues.storage.deliveries import FINISHED_KEPT
from fastapi_issues.storage.errors import DeliveryNotFound, HookNotFound
from fastapi_issues.testing._model_events import ModelEventLog

__all__ = ["ModelDelivery", "ModelHook", "ModelHooks"]

_PING = "ping"
_EVERY = "*"
_SNIPPET = 1024  # characters of an answer a delivery keeps


@dataclass
class ModelHook:
    hook: HookOut
    secret: str
    cursor: int  # the id of the last event this hook has read


@dataclass
class ModelDelivery:
    delivery: DeliveryOut
    body: Any  # the JSON value the body decodes to
    # Event deliveries wait in their hook's queue; pings and redeliveries of finished
    # ones go on their own.
    queued: bool


@dataclass
class ModelHooks:
    """Every hook (dict order: creation order) and every delivery (creation order)."""

    log: ModelEventLog
    kept: int = FINISHED_KEPT
    """How many finished deliveries a hook keeps: the store's `deliveries_kept`."""
    hooks: dict[str, ModelHook] = field(default_factory=dict)
    deliveries: dict[str, ModelDelivery] = field(default_factory=dict)
    gone: list[str] = field(default_factory=list)
    """The ids of deliveries deleted with their hook or dropped from its history, for the
    suite to ask for."""

    # -- hooks ---------------------------------------------------------------------------

    def create(self, hook_id: str, data: HookCreate, now: datetime) -> HookOut:
        hook = HookOut(
            id=hook_id,
            url=data.url,
            events=list(data.events),
            active=data.active,
            created_at=now,
            updated_at=now,
        )
        secret = data.secret.get_secret_value()
        self.hooks[hook_id] = ModelHook(hook, secret, self.log.newest_id())
        return hook

    def get(self, hook_id: str) -> HookOut:
        return self._hook(hook_id).hook

    def page(self, offset: int, limit: int) -> tuple[list[HookOut], int]:
        hooks = [stored.hook for stored in self.hooks.values()]
        return hooks[offset : offset + limit], len(hooks)

    def update(self, hook_id: str, changes: HookUpdate, now: datetime) -> HookOut:
        stored = self._hook(hook_id)
        hook = stored.hook
        sent = changes.model_fields_set
        url = changes.url if "url" in sent else hook.url
        events = list(changes.events) if "events" in sent else hook.events
        active = changes.active if "active" in sent else hook.active
        failing_since = hook.failing_since
        if active and not hook.active:
            # Back from inactive: start at what happens from now on, with a clean record.
            failing_since = None
            stored.cursor = self.log.newest_id()
        if "secret" in sent:
            stored.secret = changes.secret.get_secret_value()
        stored.hook = HookOut(
            id=hook.id,
            url=url,
            events=events,
            active=active,
            created_at=hook.created_at,
            updated_at=now,
            failing_since=failing_since,
        )
        return stored.hook

    def delete(self, hook_id: str) -> None:
        self._hook(hook_id)
        del self.hooks[hook_id]
        for delivery_id in [d for d, kept in self.deliveries.items() if _of(kept, hook_id)]:
            del self.deliveries[delivery_id]
            self.gone.append(delivery_id)

    # -- deliveries ----------------------------------------------------------------------

    def list_deliveries(
        self, hook_id: str, offset: int, limit: int
    ) -> tuple[list[DeliveryOut], int]:
        self._hook(hook_id)
        mine = [d.delivery for d in self.deliveries.values() if _of(d, hook_id)]
        mine.reverse()
        return mine[offset : offset + limit], len(mine)

    def get_delivery(self, hook_id: str, delivery_id: str) -> DeliveryOut:
        return self._delivery(hook_id, delivery_id).delivery

    def ping(self, hook_id: str, delivery_id: str, now: datetime) -> DeliveryOut:
        hook = self._hook(hook_id).hook
        body = {"type": _PING, "hook_id": hook_id, "hook": hook.model_dump(mode="json")}
        return self._add(hook_id, delivery_id, None, _PING, body, now, queued=False)

    def redeliver(self, hook_id: str, delivery_id: str, now: datetime) -> DeliveryOut:
        stored = self._delivery(hook_id, delivery_id)
        if stored.delivery.state is not DeliveryState.pending:
            stored.queued = False
        stored.delivery = stored.delivery.model_copy(
            update={"state": DeliveryState.pending, "next_attempt_at": now}
        )
        return stored.delivery

    def enqueue(self, limit: int, now: datetime, ids: Mapping[tuple[str, int], str]) -> int:
        """Turn new events into deliveries, each hook's queue topped up to `limit` pending
        ones; `ids` are the store's, by (hook id, event id) (one it did not make gets an id
        no store gives, so the lists disagree)."""
        made = 0
        for hook_id, stored in self.hooks.items():
            waiting = sum(
                1
                for d in self.deliveries.values()
                if d.queued and d.delivery.hook_id == hook_id
                and d.delivery.state is DeliveryState.pending
            )  # fmt: skip
            if not stored.hook.active or waiting >= limit:
                continue
            events = self.log.after(stored.cursor, limit - waiting)
            for event in events:
                kind = event.type.value
                if _EVERY not in stored.hook.events and kind not in stored.hook.events:
                    continue
                delivery_id = ids.get((hook_id, event.id), f"not made by the store: {event.id}")
                body = event.model_dump(mode="json")
                self._add(hook_id, delivery_id, event.id, kind, body, now, queued=True)
                made += 1
            if events:
                stored.cursor = events[-1].id
        return made

    def due(self, now: datetime) -> list[ModelDelivery]:
        """What is due now, by when it fell due (ties in creation order)."""
        found: list[ModelDelivery] = []
        queue_heads: set[str] = set()
        for stored in self.deliveries.values():
            delivery = stored.delivery
            if delivery.state is not DeliveryState.pending:
                continue
            if stored.queued:
                if delivery.hook_id in queue_heads:
                    continue  # behind its hook's oldest pending one
                queue_heads.add(delivery.hook_id)
            hook = self.hooks[delivery.hook_id].hook
            if not hook.active and delivery.event != _PING:
                continue
            if delivery.next_attempt_at is not None and delivery.next_attempt_at <= now:
                found.append(stored)
        return sorted(found, key=lambda d: d.delivery.next_attempt_at or now)

    def record(
        self,
        delivery_id: str,
        at: datetime,
        ok: bool,
        retry_at: datetime | None,
        status_code: int | None,
        duration_ms: float,
        response: str,
    ) -> HookOut:
        stored = self.deliveries.get(delivery_id)
        if stored is None:
            raise DeliveryNotFound(delivery_id)
        if ok:
            state, next_at = DeliveryState.delivered, None
        elif retry_at is not None:
            state, next_at = DeliveryState.pending, retry_at
        else:
            state, next_at = DeliveryState.failed, None
        stored.delivery = stored.delivery.model_copy(
            update={
                "state": state,
                "attempts": stored.delivery.attempts + 1,
                "status_code": status_code,
                "duration_ms": duration_ms,
                "response": response[:_SNIPPET],
                "last_attempt_at": at,
                "next_attempt_at": next_at,
            }
        )
        hook = self.hooks[stored.delivery.hook_id]
        failing_since = None if ok else hook.hook.failing_since or at
        hook.hook = hook.hook.model_copy(update={"failing_since": failing_since})
        if state is not DeliveryState.pending:
            self._forget_oldest_finished(hook.hook.id)
        return hook.hook

    def _forget_oldest_finished(self, hook_id: str) -> None:
        # The dict is in creation order, so the first finished ones are the oldest.
        finished = [
            delivery_id
            for delivery_id, kept in self.deliveries.items()
            if _of(kept, hook_id) and kept.delivery.state is not DeliveryState.pending
        ]
        for delivery_id in finished[: max(len(finished) - self.kept, 0)]:
            del self.deliveries[delivery_id]
            self.gone.append(delivery_id)

    def secret(self, hook_id: str) -> str:
        return self.hooks[hook_id].secret

    # -- internals -----------------------------------------------------------------------

    def _hook(self, hook_id: str) -> ModelHook:
        stored = self.hooks.get(hook_id)
        if stored is None:
            raise HookNotFound(hook_id)
        return stored

    def _delivery(self, hook_id: str, delivery_id: str) -> ModelDelivery:
        self._hook(hook_id)
        stored = self.deliveries.get(delivery_id)
        if stored is None or not _of(stored, hook_id):
            raise DeliveryNotFound(delivery_id)
        return stored

    def _add(
        self,
        hook_id: str,
        delivery_id: str,
        event_id: int | None,
        kind: str,
        body: Any,
        now: datetime,
        *,
        queued: bool,
    ) -> DeliveryOut:
        delivery = DeliveryOut(
            id=delivery_id,
            hook_id=hook_id,
            event_id=event_id,
            event=kind,
            state=DeliveryState.pending,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        self.deliveries[delivery_id] = ModelDelivery(delivery, body, queued)
        return delivery


def _of(stored: ModelDelivery, hook_id: str) -> bool:
    return stored.delivery.hook_id == hook_id
