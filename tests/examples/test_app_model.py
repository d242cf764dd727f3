"""The example app, over HTTP, agrees with the reference model.

The model-based suite (`fastapi_issues.testing.stateful`) usually drives a store. Here it
drives the example app instead, with auth on, through `HTTPTracker`: the store methods the
suite calls, each made as the request a client would send, with the answer's status code and
headers checked (`Location`, `ETag`, `X-Total-Count`, `Link`) and its body turned back into
what a store returns, or into the `StorageError` a store would raise. So every route, header,
status code and error mapping of the issue, label and comment routers is checked against the
model after every step, on top of the store underneath.

The app serves a memory store on the suite's clock (`create_app(..., store=...)`). Everyone
who acts is a real user with a bearer token; all are admins, since the model knows nothing of
who may edit what, and edits and deletes of a comment are made by its author, as the comment
policy demands. Import rules are left out: the API has no import.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import httpx
import pytest
from examples.app import create_app
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from fastapi_issues import InMemoryIssueStore
from fastapi_issues.routers._errors import COMMENT_NOT_FOUND, LABEL_NOT_FOUND, NOT_FOUND
from fastapi_issues.schemas import (
    CommentCreate,
    CommentOut,
    CommentUpdate,
    IssueCreate,
    IssueOut,
    IssueUpdate,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.clock import Clock
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    DuplicateLabel,
    InvalidIssueChange,
    IssueNotFound,
    LabelNotFound,
    StorageError,
    TooManyLabels,
    VersionConflict,
)
from fastapi_issues.storage.query import CommentPage, IssuePage, IssueQuery, LabelPage
from fastapi_issues.testing.stateful import LABEL_NAMES, USERS, TrackerStateMachine
from tests.servers import running

T = TypeVar("T")

ISSUES = "/api/v1/issues"
LABELS = "/api/v1/labels"
MAX_PAGE = 100  # the largest `limit` the list routes take
NOBODY = "eve"  # who acts when the suite draws nobody: over HTTP with auth someone always does
# Usernames are unique ignoring case, so the suite's "Ada" acts as the account "ada".
SAME_ACCOUNT = {"Ada": "ada"}
ACCOUNTS = (*sorted({SAME_ACCOUNT.get(user, user) for user in USERS}), NOBODY)
PASSWORD = "a long passphrase"
SECRET_KEY = "model-suite-test-key-" + "k" * 43

_ISSUES = TypeAdapter(list[IssueOut])
_LABELS = TypeAdapter(list[LabelOut])
_COMMENTS = TypeAdapter(list[CommentOut])
_LINK = re.compile(r'<([^>]*)>; rel="(\w+)"')

# (status code, start of the `detail`, the StorageError it stands for, made from the detail)
Meaning = tuple[int, str, Callable[[str], StorageError]]


def _settings(examples: int) -> settings:
    """`examples` sequences of up to 20 steps, unless a profile other than the default is
    loaded (`--hypothesis-profile=long`), as in `tests/testing/test_model_suite.py`."""
    if settings._current_profile not in (None, "default"):  # type: ignore[attr-defined]
        return settings()
    return settings(
        max_examples=examples,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _env(folder: Path) -> dict[str, str]:
    # Issues come from the store passed to `create_app`; the URL only says where users live.
    return {
        "ISSUES_STORAGE_URL": str(folder / "issues.json"),
        "FASTAPI_ISSUES_SECRET_KEY": SECRET_KEY,
        "FASTAPI_ISSUES_REGISTRATION": "on",
        "FASTAPI_ISSUES_ADMINS": ",".join(ACCOUNTS),
    }


@dataclasses.dataclass
class _Accounts:
    """The users every app of this module serves, registered once (argon2 is slow on
    purpose) in a users file each app reads, and each one's bearer token."""

    folder: Path | None = None
    headers: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


_accounts = _Accounts()


async def _sign_up(folder: Path) -> dict[str, dict[str, str]]:
    headers = {}
    async with running(create_app(_env(folder), store=InMemoryIssueStore())) as client:
        for name in ACCOUNTS:
            body = {"username": name, "password": PASSWORD}
            assert (await client.post("/register", json=body)).status_code == 201
            token = await client.post("/token", data={"username": name, "password": PASSWORD})
            assert token.status_code == 200, token.text
            headers[name] = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return headers


@pytest.fixture(scope="module", autouse=True)
def _signed_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    folder = tmp_path_factory.mktemp("model-app")
    _accounts.folder, _accounts.headers = folder, asyncio.run(_sign_up(folder))
    yield
    _accounts.folder, _accounts.headers = None, {}


class HTTPTracker:
    """The store methods the suite calls, made as HTTP requests to the example app.

    Each checks the status code and headers of the answer and returns what the store would
    have, or raises the `StorageError` the store would have raised. Only what the API can
    express is accepted: one label removed per call, and pages of at most `MAX_PAGE`.
    """

    def __init__(self, client: httpx.AsyncClient, headers: Mapping[str, dict[str, str]]) -> None:
        self.client = client
        self.headers = headers
        self.authors: dict[str, str] = {}  # who wrote each comment: only they may edit it

    def as_user(self, username: str | None, version: int | None = None) -> dict[str, str]:
        headers = dict(self.headers[username or NOBODY])
        if version is not None:
            headers["If-Match"] = f'"v{version}"'
        return headers

    # -- issues --------------------------------------------------------------------------

    async def create(self, data: IssueCreate, *, reporter: str | None = None) -> IssueOut:
        response = await self.client.post(
            ISSUES, json=data.model_dump(mode="json"), headers=self.as_user(reporter)
        )
        issue = _issue(response, 201)
        assert response.headers["Location"] == f"{self.client.base_url}{ISSUES}/{issue.id}"
        return issue

    async def get(self, issue_id: str) -> IssueOut:
        response = await self.client.get(_issue_url(issue_id), headers=self.as_user(None))
        if response.status_code != 200:
            raise _refused(response, _no_issue(issue_id))
        return _issue(response, 200)

    async def list(self, query: IssueQuery) -> IssuePage:
        items, total = await self.window(
            ISSUES, _list_params(query), query.offset, query.limit, _ISSUES
        )
        return IssuePage(items=items, total=total)

    async def update(
        self,
        issue_id: str,
        changes: IssueUpdate,
        *,
        expected_version: int | None = None,
        actor: str | None = None,
    ) -> IssueOut:
        response = await self.client.patch(
            _issue_url(issue_id),
            json=changes.model_dump(mode="json", exclude_unset=True),
            headers=self.as_user(actor, expected_version),
        )
        if response.status_code != 200:
            raise _refused(
                response,
                _no_issue(issue_id),
                _issue_changed(issue_id, expected_version),
                (409, "", lambda detail: InvalidIssueChange(issue_id, "state_reason", detail)),
            )
        return _issue(response, 200)

    async def delete(self, issue_id: str, *, expected_version: int | None = None) -> None:
        response = await self.client.delete(
            _issue_url(issue_id), headers=self.as_user(None, expected_version)
        )
        if response.status_code != 204:
            raise _refused(
                response, _no_issue(issue_id), _issue_changed(issue_id, expected_version)
            )
        assert response.content == b""

    # -- labels --------------------------------------------------------------------------

    async def create_label(self, data: LabelCreate) -> LabelOut:
        response = await self.client.post(
            LABELS, json=data.model_dump(mode="json"), headers=self.as_user(None)
        )
        if response.status_code != 201:
            raise _refused(response, _taken(data.name))
        label = LabelOut.model_validate_json(response.content)
        assert response.headers["Location"] == f"{self.client.base_url}{_label_url(label.name)}"
        return label

    async def list_labels(self, *, offset: int = 0, limit: int = 100) -> LabelPage:
        items, total = await self.window(LABELS, [], offset, limit, _LABELS)
        return LabelPage(items=items, total=total)

    async def update_label(self, name: str, changes: LabelUpdate) -> LabelOut:
        response = await self.client.patch(
            _label_url(name),
            json=changes.model_dump(mode="json", exclude_unset=True),
            headers=self.as_user(None),
        )
        if response.status_code != 200:
            raise _refused(response, _no_label(name), _taken(str(changes.name)))
        return LabelOut.model_validate_json(response.content)

    async def delete_label(self, name: str) -> None:
        response = await self.client.delete(_label_url(name), headers=self.as_user(None))
        if response.status_code != 204:
            raise _refused(response, _no_label(name))

    async def set_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return await self.edit_labels("PUT", issue_id, names, expected_version)

    async def add_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        return await self.edit_labels("POST", issue_id, names, expected_version)

    async def edit_labels(
        self, method: str, issue_id: str, names: Sequence[str], version: int | None
    ) -> IssueOut:
        response = await self.client.request(
            method,
            f"{_issue_url(issue_id)}/labels",
            json={"labels": list(names)},
            headers=self.as_user(None, version),
        )
        if response.status_code != 200:
            raise _refused(
                response,
                _no_issue(issue_id),
                _issue_changed(issue_id, version),
                (409, "No label named", lambda _: LabelNotFound(names)),
                (409, "An issue can carry at most", lambda _: TooManyLabels(issue_id, 0)),
            )
        return _issue(response, 200)

    async def remove_issue_labels(
        self, issue_id: str, names: Sequence[str], *, expected_version: int | None = None
    ) -> IssueOut:
        [name] = names  # the API removes one label per request
        response = await self.client.delete(
            f"{_issue_url(issue_id)}/labels/{quote(name, safe='')}",
            headers=self.as_user(None, expected_version),
        )
        if response.status_code != 200:
            raise _refused(
                response,
                _no_issue(issue_id),
                _issue_changed(issue_id, expected_version),
                _no_label(name),
            )
        return _issue(response, 200)

    # -- comments ------------------------------------------------------------------------

    async def create_comment(
        self, issue_id: str, data: CommentCreate, *, author: str | None = None
    ) -> CommentOut:
        response = await self.client.post(
            f"{_issue_url(issue_id)}/comments",
            json=data.model_dump(mode="json"),
            headers=self.as_user(author),
        )
        if response.status_code != 201:
            raise _refused(response, _no_issue(issue_id))
        comment = _comment(response, 201)
        url = f"{self.client.base_url}{_comment_url(issue_id, comment.id)}"
        assert response.headers["Location"] == url
        self.authors[comment.id] = author or NOBODY
        return comment

    async def list_comments(
        self, issue_id: str, *, offset: int = 0, limit: int = 20, since: datetime | None = None
    ) -> CommentPage:
        params = [("since", since.isoformat())] if since is not None else []
        url = f"{_issue_url(issue_id)}/comments"
        items, total = await self.window(url, params, offset, limit, _COMMENTS, _no_issue(issue_id))
        return CommentPage(items=items, total=total)

    async def update_comment(
        self,
        issue_id: str,
        comment_id: str,
        changes: CommentUpdate,
        *,
        expected_version: int | None = None,
    ) -> CommentOut:
        response = await self.client.patch(
            _comment_url(issue_id, comment_id),
            json=changes.model_dump(mode="json"),
            headers=self.as_user(self.authors.get(comment_id), expected_version),
        )
        if response.status_code != 200:
            raise _refused(response, *_comment_errors(issue_id, comment_id, expected_version))
        return _comment(response, 200)

    async def delete_comment(
        self, issue_id: str, comment_id: str, *, expected_version: int | None = None
    ) -> None:
        response = await self.client.delete(
            _comment_url(issue_id, comment_id),
            headers=self.as_user(self.authors.get(comment_id), expected_version),
        )
        if response.status_code != 204:
            raise _refused(response, *_comment_errors(issue_id, comment_id, expected_version))

    # -- pages ---------------------------------------------------------------------------

    async def window(
        self,
        url: str,
        params: list[tuple[str, str]],
        offset: int,
        limit: int,
        items: TypeAdapter[list[T]],
        *errors: Meaning,
    ) -> tuple[list[T], int]:
        """Items `offset` to `offset + limit` of a list and its total, asked for as the API
        can: the page they are, when `offset` is a multiple of `limit` and `limit` is not
        above `MAX_PAGE`; else the largest pages from the first on, cut."""
        if offset % limit == 0 and limit <= MAX_PAGE:
            return await self.page(url, params, offset // limit + 1, limit, items, errors)
        collected: list[T] = []
        number = 1
        while True:
            got, total = await self.page(url, params, number, MAX_PAGE, items, errors)
            collected.extend(got)
            if len(collected) >= offset + limit or number * MAX_PAGE >= total:
                return collected[offset : offset + limit], total
            number += 1

    async def page(
        self,
        url: str,
        params: list[tuple[str, str]],
        number: int,
        limit: int,
        items: TypeAdapter[list[T]],
        errors: Sequence[Meaning],
    ) -> tuple[list[T], int]:
        sent = [*params, ("page", str(number)), ("limit", str(limit))]
        response = await self.client.get(url, params=sent, headers=self.as_user(None))
        if response.status_code != 200:
            raise _refused(response, *errors)
        page = items.validate_json(response.content)
        total = _page_headers(response, number, limit)
        assert len(page) == max(0, min(limit, total - (number - 1) * limit)), (
            f"GET {response.url}: {len(page)} items of {total}"
        )
        return page, total


# -- what the answers must look like -----------------------------------------------------


def _issue(response: httpx.Response, code: int) -> IssueOut:
    _status(response, code)
    issue = IssueOut.model_validate_json(response.content)
    # Labels and comments add a hash to the tag, so it changes when they do (see router).
    etag = response.headers["ETag"]
    assert re.fullmatch(rf'"v{issue.version}(-[0-9a-f]+)?"', etag), (
        f"{response.request.method} {response.url}: ETag {etag} for version {issue.version}"
    )
    return issue


def _comment(response: httpx.Response, code: int) -> CommentOut:
    _status(response, code)
    comment = CommentOut.model_validate_json(response.content)
    assert response.headers["ETag"] == f'"v{comment.version}"'
    return comment


def _status(response: httpx.Response, code: int) -> None:
    assert response.status_code == code, (
        f"{response.request.method} {response.url}: {response.status_code} {response.text}"
    )


def _page_headers(response: httpx.Response, page: int, limit: int) -> int:
    """The total in `X-Total-Count`, once `Link` is checked against it: first and last
    always, prev and next where there are such pages, every other parameter kept."""
    total = int(response.headers["X-Total-Count"])
    last = max(1, -(-total // limit))
    expected = {"first": 1, "last": last}
    if page > 1:
        expected["prev"] = min(page - 1, last)
    if page < last:
        expected["next"] = page + 1
    asked = sorted((k, v) for k, v in response.url.params.multi_items() if k != "page")
    pages = {}
    for url, rel in _LINK.findall(response.headers["Link"]):
        link = httpx.URL(url)
        assert link.path == response.url.path, f"{rel} link {url} for {response.url}"
        assert sorted((k, v) for k, v in link.params.multi_items() if k != "page") == asked
        pages[rel] = int(link.params["page"])
    assert pages == expected, f"GET {response.url} ({total} in all): Link {pages}"
    return total


def _refused(response: httpx.Response, *meanings: Meaning) -> StorageError:
    """The store's error for a refusal: the first meaning with its status code whose detail
    the answer's JSON `detail` starts with. Any other answer fails the test."""
    is_json = response.headers.get("content-type") == "application/json"
    detail = response.json().get("detail") if is_json else None
    for code, start, error in meanings:
        if response.status_code == code and isinstance(detail, str) and detail.startswith(start):
            return error(detail)
    raise AssertionError(
        f"{response.request.method} {response.url}: unexpected {response.status_code} "
        f"{response.text}"
    )


def _no_issue(issue_id: str) -> Meaning:
    return (404, NOT_FOUND, lambda _: IssueNotFound(issue_id))


def _issue_changed(issue_id: str, version: int | None) -> Meaning:
    return (412, "The issue has changed", lambda _: VersionConflict(issue_id, version or 0, 0))


def _no_label(name: str) -> Meaning:
    return (404, LABEL_NOT_FOUND, lambda _: LabelNotFound([name]))


def _taken(name: str) -> Meaning:
    return (409, "A label named", lambda _: DuplicateLabel(name))


def _comment_errors(issue_id: str, comment_id: str, version: int | None) -> list[Meaning]:
    return [
        _no_issue(issue_id),
        (404, COMMENT_NOT_FOUND, lambda _: CommentNotFound(comment_id)),
        (
            412,
            "The comment has changed",
            lambda _: CommentVersionConflict(comment_id, version or 0, 0),
        ),
    ]


# -- what the requests look like ---------------------------------------------------------


def _issue_url(issue_id: str) -> str:
    return f"{ISSUES}/{quote(issue_id, safe='')}"


def _label_url(name: str) -> str:
    return f"{LABELS}/{quote(name, safe='')}"


def _comment_url(issue_id: str, comment_id: str) -> str:
    return f"{_issue_url(issue_id)}/comments/{quote(comment_id, safe='')}"


def _list_params(query: IssueQuery) -> list[tuple[str, str]]:
    """The query parameters asking for what `query` filters and sorts by."""
    optional = {
        "reporter": query.reporter,
        "q": query.text,
        "created_since": _iso(query.created_since),
        "updated_since": _iso(query.updated_since),
        "due_before": _iso(query.due_before),
        "due_after": _iso(query.due_after),
        "labels": ",".join(query.labels) or None,
        "assignee": query.assignee,
    }
    return [
        *(("status", status.value) for status in query.status),
        *(("priority", priority.value) for priority in query.priority),
        *((name, value) for name, value in optional.items() if value is not None),
        ("sort", query.sort),
        ("direction", query.direction),
    ]


def _iso(moment: datetime | date | None) -> str | None:
    return moment.isoformat() if moment is not None else None


# -- the suite, driving the app ----------------------------------------------------------


@asynccontextmanager
async def example_app(clock: Clock) -> AsyncIterator[HTTPTracker]:
    assert _accounts.folder is not None, "the module's users are not signed up"
    app = create_app(_env(_accounts.folder), store=InMemoryIssueStore(clock=clock))
    async with running(app) as client:
        yield HTTPTracker(client, _accounts.headers)


class ExampleAppMachine(TrackerStateMachine):
    """The model-based suite on the example app: only requests the API can express."""

    open_store = staticmethod(example_app)

    def acting_user(self, drawn: str | None) -> str | None:
        return SAME_ACCOUNT.get(drawn, drawn) if drawn else NOBODY

    def label_names(self, how: str) -> st.SearchStrategy[list[str]]:
        if how == "remove":
            return st.sampled_from(LABEL_NAMES).map(lambda name: [name])
        return super().label_names(how)

    def queries(self) -> st.SearchStrategy[IssueQuery]:
        # `page` and `limit` reach only offsets that are multiples of the limit.
        return super().queries().map(_page_aligned)


def _page_aligned(query: IssueQuery) -> IssueQuery:
    return dataclasses.replace(query, offset=query.offset - query.offset % query.limit)


TestExampleAppModel = ExampleAppMachine.TestCase
TestExampleAppModel.settings = _settings(40)
