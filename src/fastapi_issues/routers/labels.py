"""`make_label_router`: label definitions, and the labels on each issue."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import inspect
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response, params, status
from fastapi import Path as PathParam

from fastapi_issues.routers._errors import ISSUE_CHANGED, STORE_ERRORS
from fastapi_issues.routers._etags import if_match
from fastapi_issues.routers._issue_json import issue_response
from fastapi_issues.routers._kernel import (
    DEFAULT_MAX_BODY_SIZE,
    IssueGate,
    IssuePolicy,
    RouteRegistrar,
    as_actor,
    check_operations,
    route_name,
)
from fastapi_issues.routers._pages import set_page_headers
from fastapi_issues.routers._params import NO_NUL, IssueId, PageNumber
from fastapi_issues.routers._responses import MALFORMED_IF_MATCH, common_errors, error
from fastapi_issues.schemas import (
    MAX_LABELS_PER_ISSUE,
    IssueLabels,
    IssueOut,
    LabelCreate,
    LabelOut,
    LabelUpdate,
)
from fastapi_issues.storage.errors import LabelNotFound
from fastapi_issues.storage.protocols import LabelStore

__all__ = ["LabelAction", "LabelOperation", "LabelPolicy", "make_label_router"]

LabelOperation = Literal[
    "list",
    "create",
    "get",
    "update",
    "delete",
    "list_issue",
    "set_issue",
    "add_issue",
    "remove_issue",
]
"""The routes of the label router, as named in `exclude` and `dependencies`."""

_OPERATION_IDS: dict[str, str] = {
    "list": "list_labels",
    "create": "create_label",
    "get": "get_label",
    "update": "update_label",
    "delete": "delete_label",
    "list_issue": "list_issue_labels",
    "set_issue": "set_issue_labels",
    "add_issue": "add_issue_labels",
    "remove_issue": "remove_issue_label",
}
"""OpenAPI operation ids: method names in generated clients."""

LabelAction = Literal["create", "update", "delete"]
"""What a label policy is asked about: changes to label definitions. Reading is not asked."""


class LabelPolicy(Protocol):
    """Decides whether `user` may create, update (rename, recolour, redescribe) or delete
    label definitions.

    Return True to allow; denied gets 403. It may be sync or async, and may raise its own
    `HTTPException`. Putting labels on an issue, or taking them off, is not asked about here:
    that is an update of the issue, for the issue `policy`.
    """

    def __call__(self, user: Any, action: LabelAction) -> bool | Awaitable[bool]: ...


_log = logging.getLogger("fastapi_issues")

IssueLabelEdit = Callable[..., Awaitable[IssueOut]]
LabelGate = Callable[[Any, LabelAction], Awaitable[None]]

LabelName = Annotated[
    str,
    PathParam(max_length=200, pattern=NO_NUL, description="The label's name, ignoring case."),
]


def make_label_router(
    storage: LabelStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1/labels",
    *,
    issues_prefix: str = "/api/v1/issues",
    name: str = "labels",
    tags: Sequence[str | Enum] | None = ("Labels",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    exclude: Collection[LabelOperation] = (),
    dependencies: Mapping[LabelOperation, Sequence[params.Depends]] | None = None,
    policy: IssuePolicy | None = None,
    label_policy: LabelPolicy | None = None,
) -> APIRouter:
    """Build the label routes as an `APIRouter` to pass to `app.include_router`.

    Serves the labels themselves under `prefix` (list, create, get, update, delete; a label
    is addressed by its name, ignoring case) and the labels of each issue under
    `issues_prefix/{issue_id}/labels` (list, set with PUT, add with POST, remove one with
    DELETE). Label changes to an issue are atomic in the store, return the issue with its new
    `ETag` and honour `If-Match`.

    Args:
        storage: a `LabelStore` (the same store the issue router uses), or a dependency that
            returns or yields one.
        auth_dependency: as for `make_issue_router`; every route depends on it.
        prefix: where the label definitions live.
        issues_prefix: where the issue router is mounted.
        name: namespaces route names (`labels:list`, ... for `url_for`); operation ids
            are `list_labels`, ..., prefixed with `name` when it is not `labels`.
        tags: OpenAPI tags for the routes.
        max_body_size: the most bytes a request body may have (FastAPI's own limit); a
            larger one gets 413. `None` sets none here (an app-wide limit still applies).
        exclude: operations not to serve at all.
        dependencies: extra dependencies per operation, e.g. rate limits.
        policy: the issue policy also given to `make_issue_router`: changing an issue's
            labels needs `update` on it, listing them needs `read`.
        label_policy: who may create, update and delete label definitions (403 otherwise);
            every user who may use the router may read them. Without one, label definitions
            are changed by anyone when there is no `policy`, and by no one when there is:
            renaming or deleting a label changes every issue carrying it, including issues
            the policy keeps the user from editing. Pass e.g. `AdminsOnly([...])`.
    """
    extra_dependencies = dict(dependencies or {})
    check_operations("label", get_args(LabelOperation), exclude, extra_dependencies)
    router = APIRouter(tags=list(tags) if tags else None, max_body_size=max_body_size)
    route = RouteRegistrar(
        router,
        name,
        default_name="labels",
        operation_ids=_OPERATION_IDS,
        exclude=exclude,
        dependencies=extra_dependencies,
        kind="label",
        errors=common_errors(
            auth=auth_dependency is not None, policy=policy is not None, what="label"
        ),
        store_errors=STORE_ERRORS,
        body_operations={"create", "update", "set_issue", "add_issue"},
        storage=storage,
        store_type=LabelStore,
        auth_dependency=auth_dependency,
    )
    endpoints = _LabelEndpoints(name, policy, _label_gate(label_policy, policy))
    refused = (
        error(status.HTTP_403_FORBIDDEN, "The label policy does not allow this.")
        if label_policy is not None
        else {}
    )
    _add_label_routes(route, endpoints, prefix, refused)
    _add_issue_label_routes(route, endpoints, issues_prefix + "/{issue_id}/labels")
    route.finish()
    return router


class _LabelEndpoints:
    """The label routes' endpoints, one method each, and what they share."""

    def __init__(self, name: str, policy: IssuePolicy | None, may_change: LabelGate) -> None:
        self._get_route = route_name(name, "get")
        self._policy = policy
        self._gate = IssueGate(policy)
        self._may_change = may_change

    async def list_labels(
        self,
        request: Request,
        response: Response,
        store: LabelStore,
        user: Any,
        page: PageNumber = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Labels per page.")] = 100,
    ) -> Any:
        result = await store.list_labels(offset=(page - 1) * limit, limit=limit)
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    async def create_label(
        self,
        request: Request,
        response: Response,
        payload: LabelCreate,
        store: LabelStore,
        user: Any,
    ) -> Any:
        await self._may_change(user, "create")
        label = await store.create_label(payload)
        # Starlette's path convertor does not escape: "a b", "50%" or "why?" must be.
        location = request.url_for(self._get_route, label_name=quote(label.name, safe="/"))
        response.headers["Location"] = str(location)
        return label

    async def get_label(self, label_name: LabelName, store: LabelStore, user: Any) -> Any:
        return await store.get_label(label_name)

    async def update_label(
        self, label_name: LabelName, payload: LabelUpdate, store: LabelStore, user: Any
    ) -> Any:
        await self._may_change(user, "update")
        return await store.update_label(label_name, payload)

    async def delete_label(self, label_name: LabelName, store: LabelStore, user: Any) -> Any:
        await self._may_change(user, "delete")
        await store.delete_label(label_name, **as_actor(store, user))
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def list_issue_labels(self, issue_id: IssueId, store: LabelStore, user: Any) -> Any:
        issue = await self._gate.readable(store, user, issue_id)
        return await _existing_labels(store, issue.labels)

    async def set_issue_labels(
        self,
        issue_id: IssueId,
        payload: IssueLabels,
        request: Request,
        store: LabelStore,
        user: Any,
    ) -> Any:
        return await self._edit(
            store.set_issue_labels, issue_id, payload.labels, request, store, user
        )

    async def add_issue_labels(
        self,
        issue_id: IssueId,
        payload: IssueLabels,
        request: Request,
        store: LabelStore,
        user: Any,
    ) -> Any:
        return await self._edit(
            store.add_issue_labels, issue_id, payload.labels, request, store, user
        )

    async def remove_issue_label(
        self,
        issue_id: IssueId,
        label_name: LabelName,
        request: Request,
        store: LabelStore,
        user: Any,
    ) -> Any:
        return await self._edit(
            store.remove_issue_labels, issue_id, [label_name], request, store, user
        )

    async def _edit(
        self,
        edit_labels: IssueLabelEdit,
        issue_id: str,
        names: Sequence[str],
        request: Request,
        store: LabelStore,
        user: Any,
    ) -> Response:
        expected = None
        condition = if_match(request)  # a malformed one gets 400 before the store is asked
        if self._policy is not None or condition is not None:
            issue = await store.get(issue_id)
            await self._gate.authorize(user, "update", issue)
            if condition is not None:
                expected = condition.expected_version(issue.version, ISSUE_CHANGED)
        updated = await edit_labels(
            issue_id, names, expected_version=expected, **as_actor(store, user)
        )
        return issue_response(updated)


async def _existing_labels(store: LabelStore, names: Sequence[str]) -> list[LabelOut]:
    """The labels named that still exist: one renamed or deleted since the issue was read
    is left out, not an error."""
    labels = []
    for name in names:
        try:
            labels.append(await store.get_label(name))
        except LabelNotFound:
            continue
    return labels


_NO_LABEL = error(status.HTTP_404_NOT_FOUND, "No such label.")
_TAKEN = error(status.HTTP_409_CONFLICT, "Another label has this name, ignoring case.")
_PRECONDITION = {
    **error(
        status.HTTP_412_PRECONDITION_FAILED, "`If-Match` names a version the issue is no longer at."
    ),
    **MALFORMED_IF_MATCH,
}


def _add_label_routes(
    route: RouteRegistrar, endpoints: _LabelEndpoints, prefix: str, refused: Mapping[Any, Any]
) -> None:
    route(
        "list",
        "GET",
        prefix,
        endpoints.list_labels,
        response_model=list[LabelOut],
        summary="List labels",
        description="One page of labels by name, ignoring case, with `X-Total-Count` and "
        "`Link` headers as for issues.",
    )
    route(
        "create",
        "POST",
        prefix,
        endpoints.create_label,
        response_model=LabelOut,
        status_code=status.HTTP_201_CREATED,
        summary="Create a label",
        description="Names are unique ignoring case and keep the case given. The new "
        "label's URL is in the `Location` header.",
        responses={**_TAKEN, **refused},
    )
    one_label = prefix + "/{label_name:path}"
    route(
        "get",
        "GET",
        one_label,
        endpoints.get_label,
        response_model=LabelOut,
        summary="Get a label",
        responses=_NO_LABEL,
    )
    route(
        "update",
        "PATCH",
        one_label,
        endpoints.update_label,
        response_model=LabelOut,
        summary="Update a label",
        description="Changes only the fields sent. A renamed label stays on every issue "
        "that carries it.",
        responses={**_NO_LABEL, **_TAKEN, **refused},
    )
    route(
        "delete",
        "DELETE",
        one_label,
        endpoints.delete_label,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete a label",
        description="Deletes the label and takes it off every issue.",
        responses={**_NO_LABEL, **refused},
    )


_EDIT_DOC = (
    " Returns the issue with its new `ETag`. Send the issue's `ETag` in `If-Match` to "
    "have the change refused with 412 if the issue changed since you read it. A name no "
    f"label has, or more than {MAX_LABELS_PER_ISSUE} labels on the issue, gets 409."
)


def _add_issue_label_routes(route: RouteRegistrar, endpoints: _LabelEndpoints, path: str) -> None:
    route(
        "list_issue",
        "GET",
        path,
        endpoints.list_issue_labels,
        response_model=list[LabelOut],
        summary="List an issue's labels",
        description="The issue's labels by name, ignoring case, with their colours.",
        responses=error(status.HTTP_404_NOT_FOUND, "No such issue."),
    )
    edit_errors = {
        **error(status.HTTP_404_NOT_FOUND, "No such issue."),
        **error(status.HTTP_409_CONFLICT, "No label has a name sent, or too many labels."),
        **_PRECONDITION,
    }
    route(
        "set_issue",
        "PUT",
        path,
        endpoints.set_issue_labels,
        response_model=IssueOut,
        summary="Set an issue's labels",
        description="Replaces the issue's labels with the ones named." + _EDIT_DOC,
        responses=edit_errors,
    )
    route(
        "add_issue",
        "POST",
        path,
        endpoints.add_issue_labels,
        response_model=IssueOut,
        summary="Add labels to an issue",
        description="Adds the labels named to the issue's; ones it has are kept once." + _EDIT_DOC,
        responses=edit_errors,
    )
    route(
        "remove_issue",
        "DELETE",
        path + "/{label_name:path}",
        endpoints.remove_issue_label,
        response_model=IssueOut,
        summary="Remove a label from an issue",
        description="Takes one label off the issue; removing one it does not carry changes "
        "nothing. Returns the issue with its new `ETag`; honours `If-Match`.",
        responses={
            **error(status.HTTP_404_NOT_FOUND, "No such issue, or no such label."),
            **_PRECONDITION,
        },
    )


def _label_gate(label_policy: LabelPolicy | None, policy: IssuePolicy | None) -> LabelGate:
    """What checks a change to label definitions: `label_policy`, or the default.

    Without a `label_policy`, changes are open when issues are (no `policy`: anyone may
    change any issue anyway) and closed when a `policy` guards issues, since a renamed or
    deleted label changes issues the policy may keep the user from editing. Closed, not
    open, so that forgetting the label policy never lets every user past the issue policy.
    """
    if label_policy is None and policy is None:
        return _open
    decide: LabelPolicy = _nobody if label_policy is None else label_policy
    if label_policy is None:
        _log.warning(
            "make_label_router has an issue policy but no label_policy: nobody may create, "
            "rename or delete labels; pass label_policy to allow someone"
        )

    async def may_change_labels(user: Any, action: LabelAction) -> None:
        verdict = decide(user, action)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not verdict:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"Not allowed to {action} labels")

    return may_change_labels


async def _open(user: Any, action: LabelAction) -> None:
    return None


def _nobody(user: Any, action: LabelAction) -> bool:
    return False
