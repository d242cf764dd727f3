"""The model-based suite's part for webhooks (`HookStore`, a store's `hooks`): rules that
create, change and delete hooks, turn events into deliveries, ping, redeliver and record
attempts (delivered, retried at a drawn time, given up), and the checks after each of them.
Mixed into `TrackerStateMachine`; a store without `hooks` skips all of it.

After every hook step every hook, every hook's deliveries and what is due must be the
model's. Delivery ids are the store's: the model takes a ping's from its answer and an event
delivery's by its hook and event (unique per hook). Due deliveries are compared as a set
whose order follows when each fell due (the protocol leaves ties to the store), and a
limited call must return the soonest ones.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import initialize, precondition, rule

from fastapi_issues.schemas import HookCreate, HookUpdate
from fastapi_issues.storage.deliveries import AttemptResult, DueDelivery
from fastapi_issues.testing._clock import ManualClock
from fastapi_issues.testing._compare import same
from fastapi_issues.testing._draws import UNKNOWN_ID, clock_steps
from fastapi_issues.testing._model_hooks import ModelDelivery
from fastapi_issues.testing.model import TrackerModel

__all__ = ["HookChecks"]

_PAGE = 10_000
_EVENT_CHOICES = st.sampled_from(
    (
        ["*"],
        ["issue.created"],
        ["issue.closed", "comment.created"],
        ["issue.updated", "issue.labeled", "issue.deleted"],
    )
)
_URLS = st.sampled_from(("https://a.example.com/hook", "https://b.example.com/hook"))
_SECRETS = st.sampled_from(("first-secret-of-a-hook-01", "second-secret-of-a-hook-2"))
_CHANGES = st.fixed_dictionaries(
    {},
    optional={"url": _URLS, "secret": _SECRETS, "events": _EVENT_CHOICES, "active": st.booleans()},
)
_ENQUEUE_LIMITS = st.sampled_from((1000, 1, 2))
_DRAINED = 12  # attempts at most in a pass that delivers everything due
# At once first (Hypothesis favours it: a waiting delivery would hold its hook's queue for
# the rest of most runs), then give up (None), then the clock's own steps (`clock_steps`).
_RETRIES = st.sampled_from((timedelta(0), None, timedelta(seconds=1), timedelta(days=3)))
_STATUSES = st.sampled_from((500, None, 404))
_RESPONSES = st.sampled_from(("", "fine", "é" * 1100))


class HookChecks:
    """The hook rules and checks; `TrackerStateMachine` provides what is declared here."""

    store: Any
    model: TrackerModel
    has_hooks: bool
    known_hooks: list[str]
    clock: ManualClock
    run: Callable[[Awaitable[Any]], Any]
    attempt: Callable[[Awaitable[Any]], Any]
    agree: Callable[[str, Any, Callable[[], Any]], None]
    confirm_events: Callable[[], None]

    @initialize(data=st.data(), events=st.lists(_EVENT_CHOICES, min_size=1, max_size=2))
    def start_with_hooks(self, data: st.DataObject, events: list[list[str]]) -> None:
        """A hook or two to begin with, so that the worker's rules have work from the
        first steps on (one create rule among many would come late)."""
        if not self.has_hooks:
            return
        for chosen in events:
            self.create_hook(
                data, chosen, "https://a.example.com/hook", "first-secret-of-a-hook-01"
            )

    # -- the admin side ------------------------------------------------------------------

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data(), events=_EVENT_CHOICES, url=_URLS, secret=_SECRETS)
    def create_hook(self, data: st.DataObject, events: list[str], url: str, secret: str) -> None:
        self.confirm_events()  # the model's log carries the store's ids from here on
        # Hypothesis favours small numbers: 0 to 3 (the likely draws) mean an active hook.
        active = data.draw(st.integers(0, 4), label="active?") < 4
        new = HookCreate.model_validate(
            {"url": url, "secret": secret, "events": events, "active": active}
        )
        outcome = self.attempt(self.store.hooks.create_hook(new))
        hook_id = outcome.id if not isinstance(outcome, BaseException) else ""
        self.agree(
            "create_hook", outcome, lambda: self.model.hooks.create(hook_id, new, self.clock())
        )
        self.known_hooks.append(hook_id)
        self.check_hooks(data)

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data(), changes=_CHANGES)
    def update_hook(self, data: st.DataObject, changes: dict[str, Any]) -> None:
        self.confirm_events()
        hook_id = self.draw_hook_id(data)
        update = HookUpdate.model_validate(changes)
        self.agree(
            "update_hook",
            self.attempt(self.store.hooks.update_hook(hook_id, update)),
            lambda: self.model.hooks.update(hook_id, update, self.clock()),
        )
        self.check_hooks(data)

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data())
    def delete_hook(self, data: st.DataObject) -> None:
        hook_id = self.draw_hook_id(data)
        self.agree(
            "delete_hook",
            self.attempt(self.store.hooks.delete_hook(hook_id)),
            lambda: self.model.hooks.delete(hook_id),
        )
        self.check_hooks(data)

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data())
    def ping_hook(self, data: st.DataObject) -> None:
        hook_id = self.draw_hook_id(data)
        outcome = self.attempt(self.store.hooks.queue_ping(hook_id))
        ping_id = outcome.id if not isinstance(outcome, BaseException) else ""
        self.agree(
            "queue_ping", outcome, lambda: self.model.hooks.ping(hook_id, ping_id, self.clock())
        )
        self.check_hooks(data)

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        hook_id = self.draw_hook_id(data)
        delivery_id = self.draw_delivery_id(data, hook_id)
        self.agree(
            "redeliver",
            self.attempt(self.store.hooks.redeliver(hook_id, delivery_id)),
            lambda: self.model.hooks.redeliver(hook_id, delivery_id, self.clock()),
        )
        self.check_hooks(data)

    # -- the worker's side ---------------------------------------------------------------

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data(), limit=_ENQUEUE_LIMITS, attempts=st.integers(1, 3))
    def deliver(self, data: st.DataObject, limit: int, attempts: int) -> None:
        """A worker's pass: new events become deliveries, then up to `attempts` of the due
        ones are attempted, each with a drawn outcome (sometimes on a deleted delivery)."""
        self.confirm_events()
        outcome = self.attempt(self.store.hooks.enqueue_deliveries(limit=limit))
        ids = self.event_delivery_ids()
        self.agree(
            "enqueue_deliveries",
            outcome,
            lambda: self.model.hooks.enqueue(limit, self.clock(), ids),
        )
        self.check_due(data)
        for _ in range(attempts):
            self.record_attempt(data)
        self.check_hooks(data)

    def record_attempt(self, data: st.DataObject) -> None:
        # Attempts take time: a hook failing twice keeps the first failure's time.
        self.clock.advance(data.draw(clock_steps, label="clock step"))
        due = self.model.hooks.due(self.clock())
        if due and data.draw(st.integers(0, 9), label="a due delivery?") < 9:
            delivery_id = data.draw(st.sampled_from(due), label="delivery").delivery.id
        else:
            delivery_id = data.draw(st.sampled_from([*self.model.hooks.gone, UNKNOWN_ID]))
        now = self.clock()
        ok = data.draw(st.booleans(), label="ok?")
        retry = data.draw(_RETRIES, label="retry in")
        result = AttemptResult(
            at=now,
            ok=ok,
            status_code=200 if ok else data.draw(_STATUSES, label="status"),
            duration_ms=data.draw(st.sampled_from((0.0, 12.5)), label="duration"),
            response=data.draw(_RESPONSES, label="response"),
            retry_at=None if ok or retry is None else now + retry,
        )
        self.record_result(delivery_id, result)

    @precondition(lambda self: self.has_hooks)
    @rule(data=st.data())
    def deliver_everything(self, data: st.DataObject) -> None:
        """A worker's pass while every receiver answers 2xx: each due delivery is
        delivered, the next of its hook's queue after it, so finished deliveries pile up
        past the number a hook keeps (`deliveries_kept`), which drops the oldest."""
        self.confirm_events()
        outcome = self.attempt(self.store.hooks.enqueue_deliveries())
        ids = self.event_delivery_ids()
        self.agree(
            "enqueue_deliveries", outcome, lambda: self.model.hooks.enqueue(1000, self.clock(), ids)
        )
        for _ in range(_DRAINED):
            due = self.model.hooks.due(self.clock())
            if not due:
                break
            result = AttemptResult(self.clock(), True, 200, 1.0, "fine")
            self.record_result(due[0].delivery.id, result)
        self.check_hooks(data)

    def record_result(self, delivery_id: str, result: AttemptResult) -> None:
        self.agree(
            f"record_attempt({delivery_id!r}, {result!r})",
            self.attempt(self.store.hooks.record_attempt(delivery_id, result)),
            lambda: self.model.hooks.record(
                delivery_id,
                result.at,
                result.ok,
                result.retry_at,
                result.status_code,
                result.duration_ms,
                result.response,
            ),
        )

    # -- checks --------------------------------------------------------------------------

    def check_hooks(self, data: st.DataObject) -> None:
        """Every hook, every hook's deliveries, a random page of each, and what is due."""
        hooks = self.model.hooks
        page = self.run(self.store.hooks.list_hooks(limit=_PAGE))
        expected, total = hooks.page(0, _PAGE)
        same((list(page.items), page.total), (expected, total), "list_hooks")
        offset, limit = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))
        page = self.run(self.store.hooks.list_hooks(offset=offset, limit=limit))
        what = f"list_hooks(offset={offset}, limit={limit})"
        same((list(page.items), page.total), hooks.page(offset, limit), what)
        for hook_id in hooks.hooks:
            listed = self.run(self.store.hooks.list_deliveries(hook_id, limit=_PAGE))
            want = hooks.list_deliveries(hook_id, 0, _PAGE)
            same((list(listed.items), listed.total), want, f"list_deliveries({hook_id!r})")
        hook_id = self.draw_hook_id(data)
        outcome = self.attempt(
            self.store.hooks.list_deliveries(hook_id, offset=offset, limit=limit)
        )
        if not isinstance(outcome, BaseException):
            outcome = (list(outcome.items), outcome.total)
        self.agree(
            f"list_deliveries({hook_id!r}, offset={offset}, limit={limit})",
            outcome,
            lambda: hooks.list_deliveries(hook_id, offset, limit),
        )
        delivery_id = self.draw_delivery_id(data, hook_id)
        self.agree(
            "get_delivery",
            self.attempt(self.store.hooks.get_delivery(hook_id, delivery_id)),
            lambda: hooks.get_delivery(hook_id, delivery_id),
        )
        self.check_due(data)

    def check_due(self, data: st.DataObject) -> None:
        expected = {d.delivery.id: d for d in self.model.hooks.due(self.clock())}
        due: Sequence[DueDelivery] = self.run(self.store.hooks.due_deliveries(limit=_PAGE))
        got = [d.id for d in due]
        assert sorted(got) == sorted(expected), (
            f"due_deliveries: the store gave {got}, the model {list(expected)}"
        )
        for item in due:
            self.same_due(item, expected[item.id])
        times = [_fell_due(expected[i]) for i in got]
        assert times == sorted(times), f"due_deliveries {got} not by when they fell due"
        limit = data.draw(st.integers(1, 3), label="due limit")
        some = self.run(self.store.hooks.due_deliveries(limit=limit))
        soonest = sorted(_fell_due(d) for d in expected.values())[:limit]
        assert sorted(_fell_due(expected[d.id]) for d in some if d.id in expected) == soonest, (
            f"due_deliveries(limit={limit}) gave {[d.id for d in some]}, not the soonest"
        )

    def same_due(self, item: DueDelivery, expected: ModelDelivery) -> None:
        delivery = expected.delivery
        hook = self.model.hooks.get(delivery.hook_id)
        got = (item.hook_id, item.url, item.secret, item.event, item.event_id)
        want = (hook.id, hook.url, self.model.hooks.secret(hook.id), delivery.event)
        assert got == (*want, delivery.event_id), f"due {item.id}: {got!r}, the model {want!r}"
        assert (item.attempts, item.created_at) == (delivery.attempts, delivery.created_at)
        assert json.loads(item.body) == expected.body, f"due {item.id}: its body differs"

    # -- what the rules draw -------------------------------------------------------------

    def draw_hook_id(self, data: st.DataObject) -> str:
        """A hook that exists, mostly; sometimes a deleted one, or one that never was."""
        live = list(self.model.hooks.hooks)
        gone = [h for h in self.known_hooks if h not in self.model.hooks.hooks] or [UNKNOWN_ID]
        if live and data.draw(st.integers(0, 9), label="pick a live hook?") < 9:
            return data.draw(st.sampled_from(live), label="hook")
        return data.draw(st.sampled_from(gone), label="missing hook")

    def draw_delivery_id(self, data: st.DataObject, hook_id: str) -> str:
        """One of the hook's deliveries, mostly; else another hook's, a deleted or unknown one."""
        hooks = self.model.hooks
        mine = [d for d, kept in hooks.deliveries.items() if kept.delivery.hook_id == hook_id]
        if mine and data.draw(st.integers(0, 9), label="one of its deliveries?") < 8:
            return data.draw(st.sampled_from(mine), label="delivery")
        others = [*hooks.deliveries, *hooks.gone, UNKNOWN_ID]
        return data.draw(st.sampled_from(others), label="another delivery")

    def event_delivery_ids(self) -> dict[tuple[str, int], str]:
        """The store's delivery ids, by hook and event, for the model to take."""
        ids: dict[tuple[str, int], str] = {}
        for hook_id in self.model.hooks.hooks:
            page = self.run(self.store.hooks.list_deliveries(hook_id, limit=_PAGE))
            for delivery in page.items:
                if delivery.event_id is not None:
                    ids[(hook_id, delivery.event_id)] = delivery.id
        return ids


def _fell_due(stored: ModelDelivery) -> datetime:
    moment = stored.delivery.next_attempt_at
    assert moment is not None, "a due delivery has a time"
    return moment
