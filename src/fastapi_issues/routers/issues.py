"""`make_issue_router`: the issue routes, wired to whatever store and auth the host gives."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Any, Literal, get_args

from fastapi import APIRouter, Depends, Request, Response, params, status
from fastapi.exceptions import RequestValidationError

from fastapi_issues.routers._errors import ISSUE_CHANGED, STORE_ERRORS
from fastapi_issues.routers._etags import if_match, issue_etag, matches_weakly
from fastapi_issues.routers._issue_json import encoded_issues, issue_response
from fastapi_issues.routers._kernel import (
    DEFAULT_MAX_BODY_SIZE,
    IssueAction,
    IssueGate,
    IssuePolicy,
    RouteRegistrar,
    as_actor,
    check_operations,
    route_name,
    username,
)
from fastapi_issues.routers._list_query import (
    VALIDATION_ERROR_RESPONSE,
    list_query_parameters,
    lists_validation_schemas,
    parse_list_query,
)
from fastapi_issues.routers._pages import page_headers
from fastapi_issues.routers._params import IssueId
from fastapi_issues.routers._responses import MALFORMED_IF_MATCH, common_errors, error
from fastapi_issues.schemas import IssueCreate, IssueOut, IssueUpdate
from fastapi_issues.storage.protocols import IssueStore

__all__ = ["IssueAction", "IssueOperation", "IssuePolicy", "UserCheck", "make_issue_router"]

IssueOperation = Literal["list", "create", "get", "update", "patch", "delete"]
"""The routes of the issue router, as named in `exclude` and `dependencies`."""

_OPERATION_IDS: dict[str, str] = {
    "list": "list_issues",
    "create": "create_issue",
    "get": "get_issue",
    "update": "replace_issue",
    "patch": "update_issue",
    "delete": "delete_issue",
}
"""OpenAPI operation ids: method names in generated clients. PUT replaces, PATCH updates."""

UserCheck = Callable[[str], Awaitable[bool]]
"""Tells whether a username belongs to a known user, e.g. a lookup in the auth user store."""

_BODY_OPERATIONS = frozenset({"create", "update", "patch"})


def make_issue_router(
    storage: IssueStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1/issues",
    *,
    name: str = "issues",
    tags: Sequence[str | Enum] | None = ("Issues",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
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
        name: namespaces route names (`issues:list`, ... for `url_for`); operation ids
            are `list_issues`, `create_issue`, ..., prefixed with `name` when it is not
            `issues`. Give each router its own when one app mounts several.
        tags: OpenAPI tags for the routes.
        max_body_size: the most bytes a request body may have (FastAPI's own limit); a
            larger one gets 413. `None` sets none here (an app-wide limit still applies).
        exclude: operations not to serve at all, e.g. `{"delete"}`.
        dependencies: extra dependencies per operation, e.g.
            `{"delete": [Depends(require_admin)]}`.
        policy: decides per user, action and issue what is allowed. Denied gets 403, or 404
            when the user may not even read the issue, so its existence does not leak.
        user_exists: an async callable telling whether a username is a known user; when
            given, assigning anyone unknown gets 422. Without it any username is accepted.
    """
    extra_dependencies = dict(dependencies or {})
    check_operations("issue", get_args(IssueOperation), exclude, extra_dependencies)
    router = APIRouter(
        prefix=prefix, tags=list(tags) if tags else None, max_body_size=max_body_size
    )
    route = RouteRegistrar(
        router,
        name,
        default_name="issues",
        operation_ids=_OPERATION_IDS,
        exclude=exclude,
        dependencies=extra_dependencies,
        kind="issue",
        errors=common_errors(
            auth=auth_dependency is not None, policy=policy is not None, what="issue"
        ),
        store_errors=STORE_ERRORS,
        body_operations=_BODY_OPERATIONS,
        storage=storage,
        store_type=IssueStore,
        auth_dependency=auth_dependency,
    )
    _add_issue_routes(route, _IssueEndpoints(name, policy, user_exists), exclude)
    route.finish()
    return router


class _IssueEndpoints:
    """The issue routes' endpoints, one method each, and what they share."""

    def __init__(
        self, name: str, policy: IssuePolicy | None, user_exists: UserCheck | None
    ) -> None:
        self._get_route = route_name(name, "get")
        self._gate = IssueGate(policy)
        self._policy = policy
        self._user_exists = user_exists

    async def list_issues(self, request: Request, store: IssueStore, user: Any) -> Any:
        params = parse_list_query(request)
        await self._gate.authorize(user, "read", None)
        result = await store.list(params.store_query())
        return Response(
            content=encoded_issues.many(result.items),
            media_type="application/json",
            headers=page_headers(request, params.page, params.limit, result.total),
        )

    async def create_issue(
        self,
        request: Request,
        response: Response,
        payload: IssueCreate,
        store: IssueStore,
        user: Any,
    ) -> Any:
        await self._gate.authorize(user, "create", None)
        await self._check_assignees(payload.assignees)
        issue = await store.create(payload, reporter=username(user))
        response.headers["Location"] = str(request.url_for(self._get_route, issue_id=issue.id))
        response.headers["ETag"] = issue_etag(issue)
        return issue

    async def get_issue(
        self, issue_id: IssueId, request: Request, store: IssueStore, user: Any
    ) -> Any:
        issue = await store.get(issue_id)
        await self._gate.authorize(user, "read", issue)
        etag = issue_etag(issue)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and matches_weakly(if_none_match, etag):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return issue_response(issue)

    async def put_issue(
        self,
        issue_id: IssueId,
        payload: IssueUpdate,
        request: Request,
        store: IssueStore,
        user: Any,
    ) -> Any:
        return await self._update(issue_id, payload, request, store, user)

    async def patch_issue(
        self,
        issue_id: IssueId,
        payload: IssueUpdate,
        request: Request,
        store: IssueStore,
        user: Any,
    ) -> Any:
        return await self._update(issue_id, payload, request, store, user)

    async def delete_issue(
        self, issue_id: IssueId, request: Request, store: IssueStore, user: Any
    ) -> Any:
        _, expected = await self._checked(issue_id, "delete", request, store, user)
        await store.delete(issue_id, expected_version=expected, **as_actor(store, user))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def _checked(
        self, issue_id: str, action: IssueAction, request: Request, store: IssueStore, user: Any
    ) -> tuple[IssueOut | None, int | None]:
        """The issue as it stands and the version the write must find, when the policy or
        `If-Match` needs them; (None, None) when neither does. A malformed `If-Match` gets
        400 before the store is asked."""
        condition = if_match(request)
        if self._policy is None and condition is None:
            return None, None
        current = await store.get(issue_id)
        await self._gate.authorize(user, action, current)
        if condition is None:
            return current, None
        return current, condition.expected_version(current.version, ISSUE_CHANGED)

    async def _check_assignees(self, names: Sequence[str], already: Collection[str] = ()) -> None:
        user_exists = self._user_exists
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

    async def _update(
        self, issue_id: str, payload: IssueUpdate, request: Request, store: IssueStore, user: Any
    ) -> Any:
        current, expected = await self._checked(issue_id, "update", request, store, user)
        if "assignees" in payload.model_fields_set and self._user_exists is not None:
            # Users assigned earlier may since have gone; keeping them is not an error.
            current = current or await store.get(issue_id)
            await self._check_assignees(payload.assignees, current.assignees)
        updated = await store.update(
            issue_id, payload, expected_version=expected, actor=username(user)
        )
        return issue_response(updated)


_NOT_FOUND = error(status.HTTP_404_NOT_FOUND, "No such issue.")
_STATE_CONFLICT = error(
    status.HTTP_409_CONFLICT, "A `state_reason` for an issue that is not closed."
)
_PRECONDITION = {
    **error(
        status.HTTP_412_PRECONDITION_FAILED, "`If-Match` names a version the issue is no longer at."
    ),
    **MALFORMED_IF_MATCH,
}
_UPDATE_DOC = (
    "Changes only the fields sent; `null` is refused, except for `due_date`, which it "
    "clears. Fields not in the schema are ignored, but a body naming none that is (a typo "
    "such as `stauts`) gets 422 listing them. Closing an issue records `closed_at`, "
    "`closed_by` and `state_reason` (`completed` unless sent); reopening clears them. Send "
    "the issue's `ETag` in `If-Match` to have the update refused with 412 if someone "
    "changed it since you read it; without `If-Match` the last write wins."
)


def _add_issue_routes(
    route: RouteRegistrar, endpoints: _IssueEndpoints, exclude: Collection[str]
) -> None:
    route(
        "list",
        "GET",
        "",
        endpoints.list_issues,
        response_model=list[IssueOut],
        summary="List issues",
        description=(
            "One page of issues, filtered and sorted as asked. The total number of matching "
            "issues is in the `X-Total-Count` header and links to the first, previous, next "
            "and last pages are in the `Link` header (RFC 8288)."
        ),
        openapi_extra={
            "parameters": list_query_parameters(),
            "responses": {"422": VALIDATION_ERROR_RESPONSE},
        },
        # The 422 answer above refers to schemas FastAPI adds only for routes with
        # parameters; when no other route is served, a hidden one makes it add them.
        dependencies_extra=(
            [Depends(lists_validation_schemas)]
            if set(get_args(IssueOperation)) - set(exclude) == {"list"}
            else []
        ),
    )
    route(
        "create",
        "POST",
        "",
        endpoints.create_issue,
        response_model=IssueOut,
        status_code=status.HTTP_201_CREATED,
        summary="Create an issue",
        description=(
            "Creates an `open` issue. Fields not in the schema are ignored. The new issue's "
            "URL is in the `Location` header and its version in `ETag`."
        ),
    )
    route(
        "get",
        "GET",
        "/{issue_id}",
        endpoints.get_issue,
        response_model=IssueOut,
        summary="Get an issue",
        description=(
            "One issue by id. Send the `ETag` you have in `If-None-Match` to get "
            "`304 Not Modified` when it has not changed."
        ),
        responses={
            **_NOT_FOUND,
            status.HTTP_304_NOT_MODIFIED: {"description": "The issue still matches your ETag."},
        },
    )
    changes = {**_NOT_FOUND, **_PRECONDITION, **_STATE_CONFLICT}
    route(
        "update",
        "PUT",
        "/{issue_id}",
        endpoints.put_issue,
        response_model=IssueOut,
        summary="Update an issue",
        description=_UPDATE_DOC + " Same as PATCH, kept for crash-course clients.",
        responses=changes,
    )
    route(
        "patch",
        "PATCH",
        "/{issue_id}",
        endpoints.patch_issue,
        response_model=IssueOut,
        summary="Partially update an issue",
        description=_UPDATE_DOC,
        responses=changes,
    )
    route(
        "delete",
        "DELETE",
        "/{issue_id}",
        endpoints.delete_issue,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete an issue",
        description="Deletes an issue for good. Honours `If-Match` as updates do.",
        responses={**_NOT_FOUND, **_PRECONDITION},
    )
