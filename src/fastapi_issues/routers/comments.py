"""`make_comment_router`: the comments on each issue."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args

from fastapi import APIRouter, HTTPException, Query, Request, Response, params, status
from fastapi import Path as PathParam

from fastapi_issues.routers._errors import COMMENT_CHANGED, STORE_ERRORS
from fastapi_issues.routers._etags import comment_etag, if_match, matches_weakly
from fastapi_issues.routers._kernel import (
    DEFAULT_MAX_BODY_SIZE,
    IssueGate,
    IssuePolicy,
    RouteRegistrar,
    as_actor,
    check_operations,
    route_name,
    username,
)
from fastapi_issues.routers._pages import set_page_headers
from fastapi_issues.routers._params import (
    MAX_ID_LENGTH,
    NO_NUL,
    IsoDateTime,
    IssueId,
    PageNumber,
    aware,
)
from fastapi_issues.routers._responses import MALFORMED_IF_MATCH, common_errors, error
from fastapi_issues.schemas import CommentCreate, CommentOut, CommentUpdate, IssueOut
from fastapi_issues.storage.protocols import CommentStore

__all__ = [
    "CommentAction",
    "CommentOperation",
    "CommentPolicy",
    "author_only",
    "make_comment_router",
]

CommentOperation = Literal["list", "create", "get", "update", "delete"]
"""The routes of the comment router, as named in `exclude` and `dependencies`."""

_OPERATION_IDS: dict[str, str] = {
    "list": "list_comments",
    "create": "create_comment",
    "get": "get_comment",
    "update": "update_comment",
    "delete": "delete_comment",
}
"""OpenAPI operation ids: method names in generated clients."""

CommentAction = Literal["create", "update", "delete"]
"""What a comment policy is asked about."""


class CommentPolicy(Protocol):
    """Decides whether `user` may do `action` to `comment` (None for create) on `issue`.

    It is only asked once the user may read the issue. Return True to allow; it may be sync
    or async, and may raise its own `HTTPException`.
    """

    def __call__(
        self, user: Any, action: CommentAction, issue: IssueOut, comment: CommentOut | None
    ) -> bool | Awaitable[bool]: ...


def author_only(
    user: Any, action: CommentAction, issue: IssueOut, comment: CommentOut | None
) -> bool:
    """The default comment policy: whoever may read an issue may comment on it, and only a
    comment's author may edit or delete it. Without auth everyone is the same nobody, so
    everyone may."""
    if action == "create":
        return True
    return comment is not None and comment.author == username(user)


CommentId = Annotated[
    str,
    PathParam(
        max_length=MAX_ID_LENGTH,
        pattern=NO_NUL,
        description="The comment's id, as returned when it was created.",
    ),
]


def make_comment_router(
    storage: CommentStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1/issues",
    *,
    name: str = "comments",
    tags: Sequence[str | Enum] | None = ("Comments",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    exclude: Collection[CommentOperation] = (),
    dependencies: Mapping[CommentOperation, Sequence[params.Depends]] | None = None,
    policy: IssuePolicy | None = None,
    comment_policy: CommentPolicy = author_only,
) -> APIRouter:
    """Build the comment routes as an `APIRouter` to pass to `app.include_router`.

    Serves `prefix/{issue_id}/comments` (list oldest first, paginated like issues; create)
    and `prefix/{issue_id}/comments/{comment_id}` (get, edit with PATCH, delete). Comments
    carry an `ETag`; edits and deletes honour `If-Match`.

    Args:
        storage: a `CommentStore` (the same store the issue router uses), or a dependency
            that returns or yields one.
        auth_dependency: as for `make_issue_router`; the user becomes the comment's `author`.
        prefix: where the issue router is mounted.
        name: namespaces route names (`comments:list`, ... for `url_for`); operation ids
            are `list_comments`, ..., prefixed with `name` when it is not `comments`.
        tags: OpenAPI tags for the routes.
        max_body_size: the most bytes a request body may have (FastAPI's own limit); a
            larger one gets 413. `None` sets none here (an app-wide limit still applies).
        exclude: operations not to serve at all.
        dependencies: extra dependencies per operation.
        policy: the issue policy also given to `make_issue_router`. A user who may not
            `read` an issue gets 404 for its comments, as for the issue itself.
        comment_policy: who may create, edit and delete comments; denied gets 403. The
            default, `author_only`, lets only authors edit and delete their comments.
    """
    extra_dependencies = dict(dependencies or {})
    check_operations("comment", get_args(CommentOperation), exclude, extra_dependencies)
    router = APIRouter(tags=list(tags) if tags else None, max_body_size=max_body_size)
    route = RouteRegistrar(
        router,
        name,
        default_name="comments",
        operation_ids=_OPERATION_IDS,
        exclude=exclude,
        dependencies=extra_dependencies,
        kind="comment",
        errors=common_errors(auth=auth_dependency is not None, policy=True, what="comment"),
        store_errors=STORE_ERRORS,
        body_operations={"create", "update"},
        storage=storage,
        store_type=CommentStore,
        auth_dependency=auth_dependency,
    )
    endpoints = _CommentEndpoints(name, policy, comment_policy)
    _add_comment_routes(route, endpoints, prefix + "/{issue_id}/comments")
    route.finish()
    return router


class _CommentEndpoints:
    """The comment routes' endpoints, one method each, and what they share."""

    def __init__(
        self, name: str, policy: IssuePolicy | None, comment_policy: CommentPolicy
    ) -> None:
        self._get_route = route_name(name, "get")
        self._policy = policy
        self._gate = IssueGate(policy)
        self._comment_policy = comment_policy

    async def list_comments(
        self,
        issue_id: IssueId,
        request: Request,
        response: Response,
        store: CommentStore,
        user: Any,
        page: PageNumber = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Comments per page.")] = 20,
        since: Annotated[
            IsoDateTime | None,
            Query(description="Only comments created or edited at or after this time."),
        ] = None,
    ) -> Any:
        if self._policy is not None:
            await self._gate.readable(store, user, issue_id)
        result = await store.list_comments(
            issue_id, offset=(page - 1) * limit, limit=limit, since=aware(since)
        )
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    async def create_comment(
        self,
        issue_id: IssueId,
        payload: CommentCreate,
        request: Request,
        response: Response,
        store: CommentStore,
        user: Any,
    ) -> Any:
        issue = await self._gate.readable(store, user, issue_id)
        await self._allow(user, "create", issue, None)
        comment = await store.create_comment(issue_id, payload, author=username(user))
        response.headers["Location"] = str(
            request.url_for(self._get_route, issue_id=issue_id, comment_id=comment.id)
        )
        response.headers["ETag"] = comment_etag(comment)
        return comment

    async def get_comment(
        self,
        issue_id: IssueId,
        comment_id: CommentId,
        request: Request,
        store: CommentStore,
        user: Any,
    ) -> Any:
        if self._policy is not None:
            await self._gate.readable(store, user, issue_id)
        comment = await store.get_comment(issue_id, comment_id)
        etag = comment_etag(comment)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and matches_weakly(if_none_match, etag):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return _comment_response(comment)

    async def update_comment(
        self,
        issue_id: IssueId,
        comment_id: CommentId,
        payload: CommentUpdate,
        request: Request,
        store: CommentStore,
        user: Any,
    ) -> Any:
        expected = await self._prepare_write("update", issue_id, comment_id, request, store, user)
        comment = await store.update_comment(
            issue_id, comment_id, payload, expected_version=expected, **as_actor(store, user)
        )
        return _comment_response(comment)

    async def delete_comment(
        self,
        issue_id: IssueId,
        comment_id: CommentId,
        request: Request,
        store: CommentStore,
        user: Any,
    ) -> Any:
        expected = await self._prepare_write("delete", issue_id, comment_id, request, store, user)
        await store.delete_comment(
            issue_id, comment_id, expected_version=expected, **as_actor(store, user)
        )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def _allow(
        self, user: Any, action: CommentAction, issue: IssueOut, comment: CommentOut | None
    ) -> None:
        verdict = self._comment_policy(user, action, issue, comment)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not verdict:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to do that to this comment")

    async def _prepare_write(
        self,
        action: CommentAction,
        issue_id: str,
        comment_id: str,
        request: Request,
        store: CommentStore,
        user: Any,
    ) -> int | None:
        condition = if_match(request)  # a malformed one gets 400 before the store is asked
        issue = await self._gate.readable(store, user, issue_id)
        comment = await store.get_comment(issue_id, comment_id)
        await self._allow(user, action, issue, comment)
        if condition is None:
            return None
        return condition.expected_version(comment.version, COMMENT_CHANGED)


def _comment_response(comment: CommentOut) -> Response:
    return Response(
        content=comment.model_dump_json(),
        media_type="application/json",
        headers={"ETag": comment_etag(comment)},
    )


_NO_COMMENT = error(status.HTTP_404_NOT_FOUND, "No such issue or comment.")
_PRECONDITION = {
    **error(
        status.HTTP_412_PRECONDITION_FAILED,
        "`If-Match` names a version the comment is no longer at.",
    ),
    **MALFORMED_IF_MATCH,
}
_WRITE_DOC = (
    " Send the comment's `ETag` in `If-Match` to have this refused with 412 if the comment "
    "changed since you read it."
)


def _add_comment_routes(route: RouteRegistrar, endpoints: _CommentEndpoints, path: str) -> None:
    no_issue = error(status.HTTP_404_NOT_FOUND, "No such issue.")
    route(
        "list",
        "GET",
        path,
        endpoints.list_comments,
        response_model=list[CommentOut],
        summary="List an issue's comments",
        description=(
            "One page of the issue's comments, oldest first. The total is in the "
            "`X-Total-Count` header and links to other pages in the `Link` header."
        ),
        responses=no_issue,
    )
    route(
        "create",
        "POST",
        path,
        endpoints.create_comment,
        response_model=CommentOut,
        status_code=status.HTTP_201_CREATED,
        summary="Comment on an issue",
        description="Adds a comment by the current user. Its URL is in the `Location` header "
        "and its version in `ETag`.",
        responses=no_issue,
    )
    one = path + "/{comment_id}"
    route(
        "get",
        "GET",
        one,
        endpoints.get_comment,
        response_model=CommentOut,
        summary="Get a comment",
        description="One comment, with its `ETag`; `If-None-Match` gets 304 when unchanged.",
        responses={
            **_NO_COMMENT,
            status.HTTP_304_NOT_MODIFIED: {"description": "The comment still matches your ETag."},
        },
    )
    route(
        "update",
        "PATCH",
        one,
        endpoints.update_comment,
        response_model=CommentOut,
        summary="Edit a comment",
        description="Replaces the comment's text." + _WRITE_DOC,
        responses={**_NO_COMMENT, **_PRECONDITION},
    )
    route(
        "delete",
        "DELETE",
        one,
        endpoints.delete_comment,
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete a comment",
        description="Deletes the comment for good." + _WRITE_DOC,
        responses={**_NO_COMMENT, **_PRECONDITION},
    )
