"""The model-based suite: random histories of edits, run on a store and on `TrackerModel`.

Hypothesis drives a `RuleBasedStateMachine` whose rules are the store's operations (create,
update and patch every field, close with and without a reason, reopen, delete; create, rename,
recolour and delete labels, set, add and remove them on issues; add, edit and delete
comments; import issues, labels and comments), each with expected versions that are right,
stale or absent, on issues that exist, were deleted, or never were. After every step the
touched issue must read back as the model has it, so must every issue in the default list
and in a random order (any sort, either direction), and a random list query (any mix of
filters,
any sort and direction, a page before, on or after the last one) must return the model's ids
in the model's order with the model's total. One `ManualClock` gives store and model the time,
and moves only when a rule moves it, so issues share timestamps (every sort's tie-break is
exercised) and filters cut exactly on stored times, or one microsecond to either side. Due
dates come from a pool of five (or none), so they collide too, and their filters cut on
them or a day to either side.

On a store with an event log (`EventStore`), every write passes an actor, and after every
step the events the store reports since the last step must be the model's, then a random
read of the log (the feed with filters, or the touched issue's timeline) must agree; a rule
prunes the log at a recorded time (see `_event_checks`). On a store with webhooks (`hooks`),
rules create, change and delete hooks, deliver, ping, redeliver and record attempts, and
every hook, delivery and due list must be the model's (see `_hook_checks`).

A failure prints the shrunk sequence of steps that reproduces it. Settings: `max_examples`
and `stateful_step_count` from the Hypothesis profile in force (see `docs/storage.md`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, get_args

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueCreate,
    IssueOut,
    IssuePriority,
    IssueStatus,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.deliveries import FINISHED_KEPT
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import (
    EventStore,
    HookStore,
    IssueImporter,
    TrackerImporter,
)
from fastapi_issues.storage.query import (
    ASSIGNEE_ANY,
    ASSIGNEE_NONE,
    IssueQuery,
    IssueSortField,
    SortDirection,
)
from fastapi_issues.testing._clock import ManualClock
from fastapi_issues.testing._compare import same
from fastapi_issues.testing._draws import (
    LABEL_NAMES,
    MICROSECOND,
    TEXTS,
    UNKNOWN_ID,
    USERS,
    clock_steps,
    comment_bodies,
    due_cut_points,
    imported_issues,
    issue_changes,
    label_colors,
    maybe_users,
    new_issues,
)
from fastapi_issues.testing._event_checks import EventChecks
from fastapi_issues.testing._hook_checks import HookChecks
from fastapi_issues.testing.model import TrackerModel

__all__ = ["ManualClock", "StoreOpener", "TrackerStateMachine", "tracker_state_machine"]

_SORTS: tuple[IssueSortField, ...] = get_args(IssueSortField)
_DIRECTIONS: tuple[SortDirection, ...] = get_args(SortDirection)

T = TypeVar("T")

StoreOpener = Callable[[Clock], AbstractAsyncContextManager[Any]]
"""`opener(clock)`: an async context manager yielding a fresh, empty store on that clock."""


class TrackerStateMachine(EventChecks, HookChecks, RuleBasedStateMachine):
    """Runs every rule on `store` and `model` and checks they agree. Made by
    `tracker_state_machine`; subclass it to add rules of your own store's, or override
    `acting_user`, `label_names` and `queries` to drive something that can express less
    than a store, such as an app over HTTP (`tests/examples/test_app_model.py`)."""

    open_store: ClassVar[StoreOpener]
    collaboration: ClassVar[bool] = True
    deliveries_kept: ClassVar[int] = FINISHED_KEPT

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.model = TrackerModel(deliveries_kept=type(self).deliveries_kept)
        self.loop = asyncio.new_event_loop()
        self._opened = type(self).open_store(self.clock)
        self.store: Any = self.run(self._opened.__aenter__())
        self.known_ids: list[str] = []  # every issue id ever seen, deleted ones too
        # The event log is checked on stores that keep one, through `EventStore` only.
        self.has_events = isinstance(self.store, EventStore)
        self.seen_event = 0
        # Webhooks too, on stores that keep them (`hooks`, a `HookStore`) beside the log.
        hooks = getattr(self.store, "hooks", None)
        self.has_hooks = self.has_events and isinstance(hooks, HookStore)
        self.known_hooks: list[str] = []  # every hook id ever seen, deleted ones too

    def teardown(self) -> None:
        try:
            self.run(self._opened.__aexit__(None, None, None))
        finally:
            self.loop.close()

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    # -- issues --------------------------------------------------------------------------

    @initialize(
        issues=st.lists(st.tuples(new_issues, maybe_users), min_size=2, max_size=6),
        steps=st.lists(clock_steps, min_size=6, max_size=6),
    )
    def start_with_issues(
        self, issues: list[tuple[IssueCreate, str | None]], steps: list[timedelta]
    ) -> None:
        """Some issues to begin with: one create rule among many would leave lists short."""
        for (new, reporter), step in zip(issues, steps, strict=False):
            self.add_issue(new, reporter)
            self.clock.advance(step)

    @rule(step=clock_steps)
    def advance_clock(self, step: timedelta) -> None:
        self.clock.advance(step)

    @rule(data=st.data(), new=new_issues, reporter=maybe_users)
    def create(self, data: st.DataObject, new: IssueCreate, reporter: str | None) -> None:
        self.check(data, self.add_issue(new, reporter))

    def add_issue(self, new: IssueCreate, reporter: str | None) -> str:
        """Create the issue in the store and the model; they must return the same one."""
        reporter = self.acting_user(reporter)
        created = self.run(self.store.create(new, reporter=reporter))
        self.known_ids.append(created.id)
        same(created, self.model.create(created.id, new, reporter, self.clock()), "create")
        return str(created.id)

    @rule(data=st.data(), changes=issue_changes(), actor=maybe_users)
    def update(self, data: st.DataObject, changes: IssueUpdate, actor: str | None) -> None:
        issue_id = self.draw_issue_id(data)
        version = self.draw_version(data, issue_id)
        actor = self.acting_user(actor)
        self.agree(
            "update",
            self.attempt(
                self.store.update(issue_id, changes, expected_version=version, actor=actor)
            ),
            lambda: self.model.update(issue_id, changes, version, actor, self.clock()),
        )
        self.check(data, issue_id)

    @rule(data=st.data(), actor=maybe_users)
    def delete(self, data: st.DataObject, actor: str | None) -> None:
        issue_id = self.draw_issue_id(data)
        version = self.draw_version(data, issue_id)
        actor = self.acting_user(actor)
        self.agree(
            "delete",
            self.attempt(
                self.store.delete(issue_id, expected_version=version, **self.actor_of(actor))
            ),
            lambda: self.model.delete(issue_id, version, actor, self.clock()),
        )
        self.check(data, issue_id)

    @precondition(lambda self: isinstance(self.store, IssueImporter))
    @rule(data=st.data())
    def import_issues(self, data: st.DataObject) -> None:
        batch = data.draw(st.lists(self.imported_issue(), min_size=1, max_size=3))
        self.agree(
            "import_issues",
            self.attempt(self.store.import_issues(batch)),
            lambda: self.model.import_issues(batch),
        )
        self.known_ids.extend(issue.id for issue in batch)
        self.check(data, batch[0].id)

    # -- labels --------------------------------------------------------------------------

    @precondition(lambda self: self.collaboration)
    @rule(
        data=st.data(),
        name=st.sampled_from(LABEL_NAMES),
        color=label_colors,
        description=st.sampled_from(("", "Something is wrong")),
    )
    def create_label(self, data: st.DataObject, name: str, color: str, description: str) -> None:
        new = LabelCreate(name=name, color=color, description=description)
        outcome = self.attempt(self.store.create_label(new))
        self.agree("create_label", outcome, lambda: self.model.create_label(new, _id(outcome)))
        self.check(data, None)

    @precondition(lambda self: self.collaboration)
    @rule(
        data=st.data(),
        name=st.sampled_from(LABEL_NAMES),
        changes=st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(LABEL_NAMES),
                "color": label_colors,
                "description": st.just("Renamed"),
            },
        ),
    )
    def update_label(self, data: st.DataObject, name: str, changes: dict[str, str]) -> None:
        update = LabelUpdate(**changes)
        self.learn_label_ids()
        self.agree(
            "update_label",
            self.attempt(self.store.update_label(name, update)),
            lambda: self.model.update_label(name, update),
        )
        self.check(data, None)

    @precondition(lambda self: self.collaboration)
    @rule(data=st.data(), name=st.sampled_from(LABEL_NAMES), actor=maybe_users)
    def delete_label(self, data: st.DataObject, name: str, actor: str | None) -> None:
        self.learn_label_ids()
        actor = self.acting_user(actor)
        self.agree(
            "delete_label",
            self.attempt(self.store.delete_label(name, **self.actor_of(actor))),
            lambda: self.model.delete_label(name, actor, self.clock()),
        )
        self.check(data, None)

    @precondition(lambda self: self.collaboration)
    @rule(data=st.data(), how=st.sampled_from(("set", "add", "remove")), actor=maybe_users)
    def label_issue(self, data: st.DataObject, how: str, actor: str | None) -> None:
        names = data.draw(self.label_names(how), label="names")
        issue_id = self.draw_issue_id(data)
        version = self.draw_version(data, issue_id)
        actor = self.acting_user(actor)
        store_call = getattr(self.store, f"{how}_issue_labels")
        model_call = getattr(self.model, f"{how}_issue_labels")
        self.agree(
            f"{how}_issue_labels",
            self.attempt(
                store_call(issue_id, names, expected_version=version, **self.actor_of(actor))
            ),
            lambda: model_call(issue_id, names, version, self.clock(), actor),
        )
        self.check(data, issue_id)

    @precondition(lambda self: self.collaboration and isinstance(self.store, TrackerImporter))
    @rule(data=st.data(), name=st.sampled_from(LABEL_NAMES), known_id=st.booleans())
    def import_label(self, data: st.DataObject, name: str, known_id: bool) -> None:
        ids = self.learn_label_ids()
        label_id = data.draw(st.sampled_from(ids)) if known_id and ids else str(uuid.uuid4())
        batch = [LabelOut(id=label_id, name=name, color="c5def5", description="Imported")]
        self.agree(
            "import_labels",
            self.attempt(self.store.import_labels(batch)),
            lambda: self.model.import_labels(batch),
        )
        self.check(data, None)

    # -- comments ------------------------------------------------------------------------

    @precondition(lambda self: self.collaboration)
    @rule(data=st.data(), body=comment_bodies, author=maybe_users)
    def create_comment(self, data: st.DataObject, body: str, author: str | None) -> None:
        issue_id = self.draw_issue_id(data)
        new = CommentCreate(body=body)
        author = self.acting_user(author)
        outcome = self.attempt(self.store.create_comment(issue_id, new, author=author))
        self.agree(
            "create_comment",
            outcome,
            lambda: self.model.create_comment(issue_id, _id(outcome), body, author, self.clock()),
        )
        self.check(data, issue_id)

    @precondition(lambda self: self.collaboration)
    @rule(data=st.data(), body=comment_bodies, actor=maybe_users)
    def update_comment(self, data: st.DataObject, body: str, actor: str | None) -> None:
        issue_id, comment_id, version = self.draw_comment(data)
        actor = self.acting_user(actor)
        self.agree(
            "update_comment",
            self.attempt(
                self.store.update_comment(
                    issue_id,
                    comment_id,
                    CommentUpdate(body=body),
                    expected_version=version,
                    **self.actor_of(actor),
                )
            ),
            lambda: self.model.update_comment(
                issue_id, comment_id, body, version, self.clock(), actor
            ),
        )
        self.check(data, issue_id)

    @precondition(lambda self: self.collaboration)
    @rule(data=st.data(), actor=maybe_users)
    def delete_comment(self, data: st.DataObject, actor: str | None) -> None:
        issue_id, comment_id, version = self.draw_comment(data)
        actor = self.acting_user(actor)
        self.agree(
            "delete_comment",
            self.attempt(
                self.store.delete_comment(
                    issue_id, comment_id, expected_version=version, **self.actor_of(actor)
                )
            ),
            lambda: self.model.delete_comment(issue_id, comment_id, version, actor, self.clock()),
        )
        self.check(data, issue_id)

    @precondition(lambda self: self.collaboration and isinstance(self.store, TrackerImporter))
    @rule(data=st.data(), body=comment_bodies)
    def import_comment(self, data: st.DataObject, body: str) -> None:
        issue_id = self.draw_issue_id(data)
        known = list(self.model.comments)
        reuse = bool(known) and data.draw(st.booleans(), label="an id already here?")
        comment_id = data.draw(st.sampled_from(known)) if reuse else str(uuid.uuid4())
        created = data.draw(st.sampled_from([*self.model.timestamps(), self.clock()]))
        comment = CommentOut(
            id=comment_id,
            issue_id=issue_id,
            body=body,
            author=data.draw(maybe_users),
            created_at=created,
            updated_at=created + data.draw(clock_steps),
            version=data.draw(st.integers(1, 3)),
        )
        self.agree(
            "import_comments",
            self.attempt(self.store.import_comments([comment])),
            lambda: self.model.import_comments([comment]),
        )
        self.check(data, issue_id)

    # -- the checks after every step -----------------------------------------------------

    def check(self, data: st.DataObject, issue_id: str | None) -> None:
        """The touched issue reads back as the model has it, and so does a random list."""
        if issue_id is not None:
            outcome = self.attempt(self.store.get(issue_id))
            self.agree("get", outcome, lambda: self.model.get(issue_id))
        # Every issue as the default list shows it, then in a random order (a random query
        # mostly filters down to a few issues, which leaves little to order), then a random
        # query.
        self.check_list(IssueQuery(limit=1000))
        order = data.draw(st.tuples(st.sampled_from(_SORTS), st.sampled_from(_DIRECTIONS)))
        self.check_list(IssueQuery(limit=1000, sort=order[0], direction=order[1]))
        self.check_list(data.draw(self.queries(), label="query"))
        if self.collaboration:
            self.check_labels(data)
            if issue_id is not None:
                self.check_comments(data, issue_id)
        if self.has_events:
            self.check_events(data, issue_id)

    def check_list(self, query: IssueQuery) -> None:
        page = self.run(self.store.list(query))
        expected = self.model.list(query)
        got = [issue.id for issue in page.items]
        assert (got, page.total) == (expected.ids, expected.total), (
            f"list({query}) returned ids {got} total {page.total}, "
            f"the model {expected.ids} total {expected.total}"
        )
        for issue in page.items:
            same(issue, self.model.get(issue.id), "an issue in list")

    def check_labels(self, data: st.DataObject) -> None:
        offset, limit = data.draw(st.integers(0, 5)), data.draw(st.integers(1, 10))
        page = self.run(self.store.list_labels(offset=offset, limit=limit))
        for label in page.items:
            self.model.learn_label_id(label.name, label.id)
        expected, total = self.model.list_labels(offset, limit)
        assert page.total == total, f"list_labels total {page.total}, the model {total}"
        same(list(page.items), expected, f"list_labels(offset={offset}, limit={limit})")

    def check_comments(self, data: st.DataObject, issue_id: str) -> None:
        offset, limit = data.draw(st.integers(0, 3)), data.draw(st.integers(1, 5))
        since = data.draw(st.none() | self.cut_points())

        def listed() -> tuple[Sequence[CommentOut], int]:
            return self.model.list_comments(issue_id, offset, limit, since)

        outcome = self.attempt(
            self.store.list_comments(issue_id, offset=offset, limit=limit, since=since)
        )
        expected = _outcome(listed)
        if isinstance(outcome, BaseException) or isinstance(expected, BaseException):
            _same_error(outcome, expected, "list_comments")
            return
        same(
            (list(outcome.items), outcome.total),
            expected,
            f"list_comments({issue_id!r}, offset={offset}, limit={limit}, since={since})",
        )

    def learn_label_ids(self) -> list[str]:
        """Tell the model the ids of labels the store made on import; return every id."""
        labels = self.run(self.store.list_labels(limit=1000)).items
        for label in labels:
            self.model.learn_label_id(label.name, label.id)
        return [label.id for label in labels]

    # -- what the rules draw -------------------------------------------------------------

    def acting_user(self, drawn: str | None) -> str | None:
        """Who the store is told reports, changes or comments, for the user drawn (None:
        nobody signed in). Store and model both get the answer. Over HTTP with auth there
        is always a user, so a subclass driving an app maps None to one of its own."""
        return drawn

    def label_names(self, how: str) -> st.SearchStrategy[list[str]]:
        """The names to `set`, `add` or `remove` on an issue in one call. A subclass whose
        API takes fewer (HTTP removes one label per request) draws only those."""
        return st.lists(st.sampled_from(LABEL_NAMES), max_size=3)

    def queries(self) -> st.SearchStrategy[IssueQuery]:
        total = len(self.model.issues)
        names = st.lists(st.sampled_from(LABEL_NAMES), max_size=2)
        return st.builds(
            IssueQuery,
            offset=st.integers(0, total + 2),
            limit=st.sampled_from((1, 2, 3, 5, 100)),
            status=st.lists(st.sampled_from(IssueStatus), unique=True, max_size=2),
            priority=st.lists(st.sampled_from(IssuePriority), unique=True, max_size=2),
            reporter=st.none() | st.sampled_from(USERS),
            text=st.none() | st.sampled_from(TEXTS) | self.title_parts(),
            created_since=st.none() | self.cut_points(),
            updated_since=st.none() | self.cut_points(),
            due_before=st.none() | due_cut_points,
            due_after=st.none() | due_cut_points,
            labels=names if self.collaboration else st.just(()),
            assignee=st.none() | st.sampled_from((ASSIGNEE_NONE, ASSIGNEE_ANY, *USERS)),
            sort=st.sampled_from(_SORTS),
            direction=st.sampled_from(_DIRECTIONS),
        )

    def cut_points(self) -> st.SearchStrategy[datetime]:
        times = [*self.model.timestamps(), self.clock()]
        shifts = st.sampled_from((timedelta(0), MICROSECOND, -MICROSECOND))
        return st.builds(lambda t, d: t + d, st.sampled_from(times), shifts)

    def title_parts(self) -> st.SearchStrategy[str]:
        titles = [stored.issue.title for stored in self.model.issues.values()]
        if not titles:
            return st.nothing()
        return st.builds(
            lambda title, start, size: title[start : start + size] or title,
            st.sampled_from(titles),
            st.integers(0, 5),
            st.integers(1, 4),
        )

    def draw_issue_id(self, data: st.DataObject) -> str:
        """An issue that exists, mostly; sometimes a deleted one, or one that never was."""
        live = list(self.model.issues)
        gone = [i for i in self.known_ids if i not in self.model.issues] or [UNKNOWN_ID]
        # Hypothesis favours small numbers: 0 to 8 (the likely draws) mean a live issue.
        if live and data.draw(st.integers(0, 9), label="pick a live issue?") < 9:
            return data.draw(st.sampled_from(live), label="issue")
        return data.draw(st.sampled_from(gone), label="missing issue")

    def draw_version(self, data: st.DataObject, issue_id: str) -> int | None:
        stored = self.model.issues.get(issue_id)
        current = stored.issue.version if stored is not None else 1
        choices = st.sampled_from((None, current, current, current - 1, current + 1))
        return data.draw(choices, label="expected_version")

    def draw_comment(self, data: st.DataObject) -> tuple[str, str, int | None]:
        comments = list(self.model.comments.values())
        if comments and data.draw(st.integers(0, 9), label="pick a comment?") < 9:
            comment = data.draw(st.sampled_from(comments), label="comment")
            issue_id = comment.issue_id
            if data.draw(st.integers(0, 9), label="keep its issue?") == 9:
                issue_id = self.draw_issue_id(data)  # asking the wrong issue for it
            versions = (None, comment.version, comment.version - 1, comment.version + 1)
            return issue_id, comment.id, data.draw(st.sampled_from(versions))
        return self.draw_issue_id(data), str(uuid.uuid4()), None

    def imported_issue(self) -> st.SearchStrategy[IssueOut]:
        ids = st.uuids().map(str)
        if self.known_ids:
            ids = ids | st.sampled_from(self.known_ids)
        times = st.sampled_from([*self.model.timestamps(), self.clock()])
        names = st.lists(st.sampled_from(LABEL_NAMES), max_size=2)
        return imported_issues(ids, times, names if self.collaboration else st.just([]))

    # -- comparing -----------------------------------------------------------------------

    def attempt(self, awaitable: Awaitable[T]) -> T | StorageError:
        try:
            return self.run(awaitable)
        except StorageError as exc:
            return exc

    def agree(self, what: str, outcome: Any, model_call: Callable[[], Any]) -> None:
        """The store's outcome (its value, or the StorageError it raised; see `attempt`) is
        what the model says it must be."""
        expected = _outcome(model_call)
        if isinstance(outcome, BaseException) or isinstance(expected, BaseException):
            _same_error(outcome, expected, what)
            return
        same(outcome, expected, what)


def _id(outcome: Any) -> str:
    return outcome.id if not isinstance(outcome, BaseException) else ""


def _outcome(call: Callable[[], T]) -> T | StorageError:
    try:
        return call()
    except StorageError as exc:
        return exc


def _same_error(outcome: object, expected: object, what: str) -> None:
    assert type(outcome) is type(expected), (
        f"{what}: the store gave {outcome!r}, the model {expected!r}"
    )


def tracker_state_machine(
    open_store: StoreOpener,
    *,
    collaboration: bool = True,
    name: str | None = None,
    deliveries_kept: int = FINISHED_KEPT,
) -> type[TrackerStateMachine]:
    """A state machine class running the model-based suite on the stores `open_store` opens.

    `open_store(clock)` must be an async context manager yielding a fresh, empty store whose
    writes take their time from `clock`. With `collaboration=False`, a plain `IssueStore` is
    enough: the label and comment rules are left out. `deliveries_kept` is the number of
    finished deliveries per hook the store keeps (its `deliveries_kept=`): a small one lets
    short runs reach it. Its `TestCase` attribute is the test for pytest or unittest to
    collect; `docs/storage.md` shows it in use.
    """
    namespace = {
        "open_store": staticmethod(open_store),
        "collaboration": collaboration,
        "deliveries_kept": deliveries_kept,
    }
    machine = type(name or "TrackerStateMachine", (TrackerStateMachine,), namespace)
    # A sequence does real I/O on real stores: no per-example deadline. Everything else
    # (how many sequences, how many steps) comes from the Hypothesis profile in force.
    machine.TestCase.settings = settings(  # type: ignore[attr-defined]
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    return machine
