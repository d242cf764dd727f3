"""`make_issue_router`: the issue routes, wired to whatever store and auth the host gives."""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

import hashlib
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, params, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from fastapi_issues.routers._json_body import reject_ambiguous_json
from fastapi_issues.schemas import IssueCreate, IssueOut, IssuePriority, IssueStatus, IssueUpdate
from fastapi_issues.storage.errors import (
    InvalidIssueChange,
    IssueNotFound,
    StorageError,
    VersionConflict,
)
from fastapi_issues.storage.protocols import IssueStore
from fastapi_issues.storage.query import IssueQuery, IssueSortField, SortDirection

__all__ = ["IssueAction", "IssueOperation", "IssuePolicy", "UserCheck", "make_issue_router"]

IssueOperation = Literal["list", "create", "get", "update", "patch", "delete"]
"""The routes of the issue router, as named in `exclude` and `dependencies`."""

IssueAction = Literal["create", "read", "update", "delete"]
"""What a policy is asked about. Listing asks `read` with no issue."""


class IssuePolicy(Protocol):
    """Decides whether `user` may do `action` to `issue` (None for create and list).

    Return True to allow. It may be sync or async, and may raise its own `HTTPException`.
    """

    def __call__(
        self, user: Any, action: IssueAction, issue: IssueOut | None
    ) -> bool | Awaitable[bool]: ...


UserCheck = Callable[[str], Awaitable[bool]]
"""Tells whether a username belongs to a known user, e.g. a lookup in the auth user store."""


class ErrorMessage(BaseModel):
    """The body of every error the issue routes raise themselves."""

    detail: str


_log = logging.getLogger("fastapi_issues")

NOT_FOUND = "Issue not found"
MAX_ID_LENGTH = 100
MAX_FILTER_VALUES = 10
# NUL is refused in every string the API takes: PostgreSQL cannot store or compare it.
NO_NUL = r"^[^\x00]*$"
_METHODS_IN_ALLOW_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_OTHER_METHODS = ("OPTIONS", "TRACE")
_BODY_OPERATIONS = frozenset({"create", "update", "patch"})
_ISO_DATE_START = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_8601(value: Any) -> Any:
    # Pydantic would read "1.5" as a Unix timestamp; the documented format is ISO 8601.
    if isinstance(value, str) and (len(value) > 64 or not _ISO_DATE_START.match(value)):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2024-05-01T12:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601)]


class _ListQuery(BaseModel):
    """The query parameters of the list route.

    Validated in one step by the route itself, and documented through `openapi_extra`:
    FastAPI's per-parameter handling cost more than a third of a list request.
    """

    model_config = ConfigDict(extra="ignore")

    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1.")
    limit: int = Field(20, ge=1, le=100, description="Issues per page.")
    status: list[IssueStatus] | None = Field(
        None,
        max_length=MAX_FILTER_VALUES,
        description="Only these statuses (repeat to allow several).",
    )
    priority: list[IssuePriority] | None = Field(
        None,
        max_length=MAX_FILTER_VALUES,
        description="Only these priorities (repeat to allow several).",
    )
    reporter: str | None = Field(
        None, max_length=100, pattern=NO_NUL, description="Only issues this user reported."
    )
    q: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Text to find in the title or description, ignoring case.",
    )
    created_since: IsoDateTime | None = Field(
        None, description="Only issues created at or after this time."
    )
    updated_since: IsoDateTime | None = Field(
        None, description="Only issues updated at or after this time."
    )
    labels: str | None = Field(
        None,
        max_length=1000,
        pattern=NO_NUL,
        description="Comma-separated label names, ignoring case: only issues with all.",
    )
    assignee: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=NO_NUL,
        description="Only issues assigned to this user; `none` for unassigned ones, "
        "`*` for assigned ones.",
    )
    sort: IssueSortField = Field("created_at", description="What to order by.")
    direction: SortDirection = Field("asc", description="Ascending or descending.")


_REPEATABLE = frozenset({"status", "priority"})


def _list_query_parameters() -> list[dict[str, Any]]:
    """The list route's query parameters as OpenAPI documents them."""
    schema = _ListQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    documented = []
    for name, field_schema in schema["properties"].items():
        if field_schema.get("default", ...) is None:
            del field_schema["default"]  # as FastAPI documents an optional parameter
        documented.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": field_schema,
                "description": field_schema["description"],
            }
        )
    return documented


def _parse_list_query(request: Request) -> _ListQuery:
    query = request.query_params
    # Read as FastAPI reads parameters: the last value of a scalar, all values of a list.
    given: dict[str, Any] = {}
    for name in _ListQuery.model_fields:
        if name in _REPEATABLE:
            values = query.getlist(name)
            if values:
                given[name] = values
        elif name in query:
            given[name] = query[name]
    try:
        return _ListQuery.model_validate(given)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError(
            [{**error, "loc": ("query", *error["loc"])} for error in errors]
        ) from None


class _EncodedIssues:
    """The JSON of issues recently sent, by the identity of the (frozen) model.

    The JSON-file and in-memory stores hand out the same model until the issue changes, so a
    page read again is mostly joined from bytes already encoded: the profile of `GET` a page
    showed encoding as its largest single cost. Stores that build new models per read only
    miss; the bound keeps what they leave behind small.
    """

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._entries: dict[int, tuple[IssueOut, bytes]] = {}
        self._size = size

    def one(self, issue: IssueOut) -> bytes:
        entry = self._entries.get(id(issue))
        if entry is not None and entry[0] is issue:
            return entry[1]
        encoded = _ISSUE_SERIALIZER.to_json(issue)
        if len(self._entries) >= self._size:
            self._entries.clear()
        # The entry holds the model, so its id cannot be reused while the entry lives.
        self._entries[id(issue)] = (issue, encoded)
        return encoded

    def many(self, issues: Sequence[IssueOut]) -> bytes:
        return b"[" + b",".join([self.one(issue) for issue in issues]) + b"]"


_ISSUE_SERIALIZER = IssueOut.__pydantic_serializer__
_encoded_issues = _EncodedIssues(size=1024)

# As FastAPI documents the 422 of a route whose parameters it validates itself.
_VALIDATION_ERROR_RESPONSE = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


async def _lists_validation_schemas(
    _: Annotated[str | None, Query(alias="_", include_in_schema=False)] = None,
) -> None:
    return None


def _username(user: Any) -> str | None:
    """The reporter name for a resolved user: its `username`, or the user itself if a str."""
    if user is None or isinstance(user, str):
        return user
    name = user.get("username") if isinstance(user, Mapping) else getattr(user, "username", None)
    return name if isinstance(name, str) else None


def _etag(issue: IssueOut) -> str:
    # Label renames and comments change what an issue looks like without changing its
    # version, so they get a say in the tag; If-Match still compares versions only.
    if not issue.labels and not issue.comment_count:
        return f'"v{issue.version}"'
    seen = "\n".join([*issue.labels, str(issue.comment_count)]).encode()
    return f'"v{issue.version}-{hashlib.blake2b(seen, digest_size=4).hexdigest()}"'


def _etag_versions(header: str) -> set[int] | None:
    """Versions named by an If-Match header; None means `*` (any version)."""
    versions: set[int] = set()
    for raw in header.split(","):
        tag = raw.strip()
        if tag == "*":
            return None
        # If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
        if tag.startswith('"v') and tag.endswith('"'):
            version = tag[2:-1].split("-", 1)[0]
            if version.isdigit():
                versions.add(int(version))
    return versions


def _matches_weakly(header: str, etag: str) -> bool:
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def _link_header(request: Request, page: int, last: int) -> str:
    # What `request.url.include_query_params(page=n)` gives, with the URL parsed once
    # rather than once per link: the other parameters in order, then `page`.
    url = request.url
    base = str(url.replace(query="")) + "?"
    if url.query:
        pairs = parse_qsl(url.query, keep_blank_values=True)
        kept = urlencode([(k, v) for k, v in pairs if k != "page"])
        if kept:
            base += kept + "&"

    def link(number: int, rel: str) -> str:
        return f'<{base}page={number}>; rel="{rel}"'

    links = [link(1, "first")]
    if page > 1:
        links.append(link(min(page - 1, last), "prev"))
    if page < last:
        links.append(link(page + 1, "next"))
    links.append(link(last, "last"))
    return ", ".join(links)


async def _anonymous() -> None:
    return None


def _with_fixed(endpoint: Callable[..., Any], fixed: Mapping[str, Any]) -> Callable[..., Any]:
    """`endpoint` with the arguments in `fixed` always given and hidden from FastAPI.

    Each dependency FastAPI resolves costs time on every request; a store passed as an
    instance, or no auth, need none.
    """
    if not fixed:
        return endpoint
    signature = inspect.signature(endpoint)

    async def with_fixed(**kwargs: Any) -> Any:
        return await endpoint(**kwargs, **fixed)

    with_fixed.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name not in fixed]
    )
    with_fixed.__name__ = endpoint.__name__
    with_fixed.__qualname__ = endpoint.__qualname__
    with_fixed.__doc__ = endpoint.__doc__
    return with_fixed


def make_issue_router(
    storage: IssueStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1/issues",
    *,
    name: str = "issues",
    tags: Sequence[str | Enum] | None = ("Issues",),
    exclude: Collection[IssueOperation] = (),
    dependencies: Mapping[IssueOperation, Sequence[params.Depends]] | None = None,
    policy: IssuePolicy | None = None,
    user_exists: UserCheck | None = None,
) -> APIRouter:
    """Build the issue routes as an `APIRouter` to pass to `app.include_router`.

    Args:
        storage: an issue store, or a FastAPI dependency that returns or yields one (for a
            store per request, or to swap it with `app.dependency_overrides` in tests).
        auth_dependency: any FastAPI dependency that resolves the current user or raises
            (its 401 passes through). Every issue route depends on it; the user becomes the
            `reporter` of the issues it creates (its `username` attribute or key, or the
            value itself when it is a string) and is what `policy` is asked about.
        prefix: where the routes live.
        name: namespaces route names and operation ids (`issues:list`, ...). Give each
            router its own when one app mounts several.
        tags: OpenAPI tags for the routes.
        exclude: operations not to serve at all, e.g. `{"delete"}`.
        dependencies: extra dependencies per operation, e.g.
            `{"delete": [Depends(require_admin)]}`.
        policy: decides per user, action and issue what is allowed. Denied gets 403, or 404
            when the user may not even read the issue, so its existence does not leak.
        user_exists: an async callable telling whether a username is a known user; when
            given, assigning anyone unknown gets 422. Without it any username is accepted.
    """
    fixed: dict[str, Any] = {}
    if isinstance(storage, IssueStore):
        fixed["store"] = storage
        store_dependency: Callable[..., Any] = _anonymous  # never resolved: `store` is fixed
    else:
        store_dependency = storage
    if auth_dependency is None:
        fixed["user"] = None

    Store = Annotated[IssueStore, Depends(store_dependency)]
    User = Annotated[Any, Depends(auth_dependency or _anonymous)]
    extra_dependencies = dict(dependencies or {})
    unknown = (set(extra_dependencies) | set(exclude)) - set(get_args(IssueOperation))
    if unknown:
        raise ValueError(f"unknown issue operations: {sorted(unknown)}")

    router = APIRouter(prefix=prefix, tags=list(tags) if tags else None)

    common_errors: dict[int | str, dict[str, Any]] = {
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ErrorMessage,
            "description": "The issue store cannot be reached or read.",
        }
    }
    if auth_dependency is not None:
        common_errors[status.HTTP_401_UNAUTHORIZED] = {
            "model": ErrorMessage,
            "description": "Missing or invalid credentials.",
        }
    if policy is not None:
        common_errors[status.HTTP_403_FORBIDDEN] = {
            "model": ErrorMessage,
            "description": "The authorization policy does not allow this.",
        }
    not_found: dict[int | str, dict[str, Any]] = {
        status.HTTP_404_NOT_FOUND: {"model": ErrorMessage, "description": "No such issue."}
    }
    state_conflict: dict[int | str, dict[str, Any]] = {
        status.HTTP_409_CONFLICT: {
            "model": ErrorMessage,
            "description": "A `state_reason` for an issue that is not closed.",
        }
    }
    precondition: dict[int | str, dict[str, Any]] = {
        status.HTTP_412_PRECONDITION_FAILED: {
            "model": ErrorMessage,
            "description": "`If-Match` names a version the issue is no longer at.",
        }
    }
    body_errors: dict[int | str, dict[str, Any]] = {
        status.HTTP_400_BAD_REQUEST: {
            "model": ErrorMessage,
            "description": "The body cannot be parsed (not UTF-8, or nested too deeply).",
        },
        413: {
            "model": ErrorMessage,
            "description": "The body is larger than the server accepts.",
        },
    }
    served: dict[str, list[str]] = {}

    Endpoint = Callable[..., Awaitable[Any]]

    def route(
        operation: IssueOperation, method: str, path: str, **kwargs: Any
    ) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            if operation in exclude:
                return endpoint
            responses = {**common_errors, **kwargs.pop("responses", {})}
            route_dependencies = list(extra_dependencies.get(operation, ()))
            if operation in _BODY_OPERATIONS:
                responses.update(body_errors)
                route_dependencies.insert(0, Depends(reject_ambiguous_json))
            _add_route(
                router,
                path,
                _with_fixed(endpoint, fixed),
                method=method,
                name=f"{name}:{operation}",
                dependencies=[*route_dependencies, *kwargs.pop("dependencies_extra", ())],
                responses=responses,
                **kwargs,
            )
            served.setdefault(path, []).append(method)
            return endpoint

        return register

    async def allowed(user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
        if policy is None:
            return True
        verdict = policy(user, action, issue)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    async def authorize(user: Any, action: IssueAction, issue: IssueOut | None) -> None:
        if await allowed(user, action, issue):
            return
        if issue is not None and action != "read" and not await allowed(user, "read", issue):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        if action == "read" and issue is not None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to do that to this issue")

    async def fetch(store: IssueStore, issue_id: str) -> IssueOut:
        try:
            return await store.get(issue_id)
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc

    IssueId = Annotated[
        str,
        PathParam(
            max_length=MAX_ID_LENGTH,
            pattern=NO_NUL,
            description="The issue's id, as returned when it was created.",
        ),
    ]

    @route(
        "list",
        "GET",
        "",
        response_model=list[IssueOut],
        summary="List issues",
        description=(
            "One page of issues, filtered and sorted as asked. The total number of matching "
            "issues is in the `X-Total-Count` header and links to the first, previous, next "
            "and last pages are in the `Link` header (RFC 8288)."
        ),
        openapi_extra={
            "parameters": _list_query_parameters(),
            "responses": {"422": _VALIDATION_ERROR_RESPONSE},
        },
        **(
            # The 422 answer above refers to schemas FastAPI adds only for routes with
            # parameters; when no other route is served, a hidden one makes it add them.
            {"dependencies_extra": [Depends(_lists_validation_schemas)]}
            if set(get_args(IssueOperation)) - set(exclude) == {"list"}
            else {}
        ),
    )
    async def list_issues(request: Request, store: Store, user: User) -> Any:
        params = _parse_list_query(request)
        await authorize(user, "read", None)
        query = IssueQuery(
            offset=(params.page - 1) * params.limit,
            limit=params.limit,
            status=tuple(params.status or ()),
            priority=tuple(params.priority or ()),
            reporter=params.reporter,
            text=params.q,
            created_since=_aware(params.created_since),
            updated_since=_aware(params.updated_since),
            labels=tuple(n.strip() for n in (params.labels or "").split(",") if n.strip()),
            assignee=params.assignee,
            sort=params.sort,
            direction=params.direction,
        )
        try:
            result = await store.list(query)
        except StorageError as exc:
            raise _unavailable(exc) from exc
        last = max(1, -(-result.total // params.limit))
        return Response(
            content=_encoded_issues.many(result.items),
            media_type="application/json",
            headers={
                "X-Total-Count": str(result.total),
                "Link": _link_header(request, params.page, last),
            },
        )

    @route(
        "create",
        "POST",
        "",
        response_model=IssueOut,
        status_code=status.HTTP_201_CREATED,
        summary="Create an issue",
        description=(
            "Creates an `open` issue. Fields not in the schema are ignored. The new issue's "
            "URL is in the `Location` header and its version in `ETag`."
        ),
    )
    async def create_issue(
        request: Request, response: Response, payload: IssueCreate, store: Store, user: User
    ) -> Any:
        await authorize(user, "create", None)
        await check_assignees(payload.assignees)
        try:
            issue = await store.create(payload, reporter=_username(user))
        except StorageError as exc:
            raise _unavailable(exc) from exc
        response.headers["Location"] = str(request.url_for(f"{name}:get", issue_id=issue.id))
        response.headers["ETag"] = _etag(issue)
        return issue

    @route(
        "get",
        "GET",
        "/{issue_id}",
        response_model=IssueOut,
        summary="Get an issue",
        description=(
            "One issue by id. Send the `ETag` you have in `If-None-Match` to get "
            "`304 Not Modified` when it has not changed."
        ),
        responses={
            **not_found,
            status.HTTP_304_NOT_MODIFIED: {"description": "The issue still matches your ETag."},
        },
    )
    async def get_issue(issue_id: IssueId, request: Request, store: Store, user: User) -> Any:
        issue = await fetch(store, issue_id)
        await authorize(user, "read", issue)
        etag = _etag(issue)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _matches_weakly(if_none_match, etag):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return _with_etag(issue)

    def needs_current(request: Request) -> bool:
        return policy is not None or "if-match" in request.headers

    async def check_assignees(names: Sequence[str], already: Collection[str] = ()) -> None:
        if user_exists is None:
            return
        errors = [
            {
                "type": "unknown_user",
                "loc": ("body", "assignees", position),
                "msg": f"No user is called {name!r}",
                "input": name,
            }
            for position, name in enumerate(names)
            if name not in already and not await user_exists(name)
        ]
        if errors:
            raise RequestValidationError(errors)

    async def update(
        issue_id: str, payload: IssueUpdate, request: Request, store: IssueStore, user: Any
    ) -> Any:
        expected = None
        current: IssueOut | None = None
        if needs_current(request):
            current = await fetch(store, issue_id)
            await authorize(user, "update", current)
            expected = _expected_version(request, current)
        if "assignees" in payload.model_fields_set and user_exists is not None:
            # Users assigned earlier may since have gone; keeping them is not an error.
            current = current or await fetch(store, issue_id)
            await check_assignees(payload.assignees, current.assignees)
        try:
            updated = await store.update(
                issue_id, payload, expected_version=expected, actor=_username(user)
            )
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except VersionConflict:
            raise _precondition_failed() from None
        except InvalidIssueChange as exc:
            # Well formed, but at odds with the issue as it stands (409, not 422).
            raise HTTPException(status.HTTP_409_CONFLICT, exc.reason) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        return _with_etag(updated)

    update_doc = (
        "Changes only the fields sent; `null` is refused. Closing an issue records "
        "`closed_at`, `closed_by` and `state_reason` (`completed` unless sent); reopening "
        "clears them. Send the issue's `ETag` in `If-Match` to have the update refused with "
        "412 if someone changed it since you read it; without `If-Match` the last write wins."
    )

    @route(
        "update",
        "PUT",
        "/{issue_id}",
        response_model=IssueOut,
        summary="Update an issue",
        description=update_doc + " Same as PATCH, kept for crash-course clients.",
        responses={**not_found, **precondition, **state_conflict},
    )
    async def put_issue(
        issue_id: IssueId, payload: IssueUpdate, request: Request, store: Store, user: User
    ) -> Any:
        return await update(issue_id, payload, request, store, user)

    @route(
        "patch",
        "PATCH",
        "/{issue_id}",
        response_model=IssueOut,
        summary="Partially update an issue",
        description=update_doc,
        responses={**not_found, **precondition, **state_conflict},
    )
    async def patch_issue(
        issue_id: IssueId, payload: IssueUpdate, request: Request, store: Store, user: User
    ) -> Any:
        return await update(issue_id, payload, request, store, user)

    @route(
        "delete",
        "DELETE",
        "/{issue_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete an issue",
        description="Deletes an issue for good. Honours `If-Match` as updates do.",
        responses={**not_found, **precondition},
    )
    async def delete_issue(issue_id: IssueId, request: Request, store: Store, user: User) -> Any:
        expected = None
        if needs_current(request):
            issue = await fetch(store, issue_id)
            await authorize(user, "delete", issue)
            expected = _expected_version(request, issue)
        try:
            await store.delete(issue_id, expected_version=expected)
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except VersionConflict:
            raise _precondition_failed() from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    _refuse_other_methods(
        router, name, served, excluded={_OPERATION_METHODS[operation] for operation in exclude}
    )
    return router


_OPERATION_METHODS: dict[str, str] = {
    "list": "GET",
    "create": "POST",
    "get": "GET",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}


def _add_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    *,
    method: str,
    name: str,
    **kwargs: Any,
) -> None:
    """Add the route `name` (also its operation id); a GET route answers HEAD as well.

    Every router of the package registers its routes here, so HEAD is served wherever GET
    is (RFC 9110 9.3.2), with the GET's status and headers: `ETag`, `X-Total-Count`, `Link`,
    `Content-Length`. HEAD is a route of its own, left out of the OpenAPI schema, where
    FastAPI would list it as a second operation under the same id. It runs the GET
    endpoint; the ASGI server drops the body of a HEAD response (uvicorn, hypercorn and
    httpx's ASGI transport do), as it does for Starlette's own GET routes.
    """
    router.add_api_route(path, endpoint, methods=[method], name=name, operation_id=name, **kwargs)
    if method != "GET":
        return
    router.add_api_route(
        path,
        endpoint,
        methods=["HEAD"],
        name=f"{name}:head",
        operation_id=f"{name}:head",
        include_in_schema=False,
        **kwargs,
    )


def _refuse_other_methods(
    router: APIRouter, name: str, served: Mapping[str, Sequence[str]], excluded: Collection[str]
) -> None:
    """Answer the methods no route serves with 405 and an `Allow` naming all that are.

    Starlette answers a method a path does not serve with the `Allow` of whichever route on
    that path it met first, so it would list GET alone for the collection. These routes list
    every method served there instead, HEAD with GET. Methods of excluded operations
    (`excluded`) are left free for routes of the host's own.
    """
    left_free = set(excluded) | ({"HEAD"} if "GET" in excluded else set())
    for path, methods in served.items():
        served_here = set(methods) | ({"HEAD"} if "GET" in methods else set())
        allow = ", ".join(m for m in _METHODS_IN_ALLOW_ORDER if m in served_here)
        others = [
            m
            for m in (*_METHODS_IN_ALLOW_ORDER, *_OTHER_METHODS)
            if m not in served_here and m not in left_free
        ]
        router.add_api_route(
            path,
            _method_not_allowed(allow),
            methods=others,
            include_in_schema=False,
            name=f"{name}:method-not-allowed:{path}",
        )


def _method_not_allowed(allow: str) -> Callable[[], Awaitable[None]]:
    async def method_not_allowed() -> None:
        raise HTTPException(
            status.HTTP_405_METHOD_NOT_ALLOWED, "Method Not Allowed", headers={"Allow": allow}
        )

    return method_not_allowed


def _with_etag(issue: IssueOut) -> Response:
    return Response(
        content=_encoded_issues.one(issue),
        media_type="application/json",
        headers={"ETag": _etag(issue)},
    )


def _expected_version(request: Request, issue: IssueOut) -> int | None:
    header = request.headers.get("if-match")
    if header is None:
        return None
    versions = _etag_versions(header)
    if versions is None:
        return None
    if issue.version not in versions:
        raise _precondition_failed()
    # The store re-checks this version atomically with the write.
    return issue.version


def _precondition_failed() -> HTTPException:
    return HTTPException(
        status.HTTP_412_PRECONDITION_FAILED,
        "The issue has changed since the version in If-Match; fetch it again and retry",
    )


def _unavailable(exc: StorageError) -> HTTPException:
    # The cause (a path, a driver message) goes to the log, not to the client.
    _log.error("issue store failed: %s", exc)
    return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Issue store unavailable")


def _aware(moment: datetime | None) -> datetime | None:
    """Naive query times are taken as UTC, like every time the API returns."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment
