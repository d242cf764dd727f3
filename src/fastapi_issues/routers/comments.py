"""`make_comment_router`: the comments on each issue."""

# No `from __future__ import annotations`: FastAPI must see the factory-local Annotated types.

import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, params, status
from fastapi import Path as PathParam

from fastapi_issues.routers._kernel import (
    IssueGate,
    RouteRegistrar,
    check_operations,
    common_errors,
    error,
    set_page_headers,
    store_dependency,
)
from fastapi_issues.routers.issues import (
    MAX_ID_LENGTH,
    NO_NUL,
    NOT_FOUND,
    IsoDateTime,
    IssuePolicy,
    _anonymous,
    _aware,
    _etag_versions,
    _matches_weakly,
    _unavailable,
    _username,
)
from fastapi_issues.schemas import CommentCreate, CommentOut, CommentUpdate, IssueOut
from fastapi_issues.storage.errors import (
    CommentNotFound,
    CommentVersionConflict,
    IssueNotFound,
    StorageError,
)
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

CommentAction = Literal["create", "update", "delete"]
"""What a comment policy is asked about."""

COMMENT_NOT_FOUND = "Comment not found"


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
    return comment is not None and comment.author == _username(user)


def make_comment_router(
    storage: CommentStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1/issues",
    *,
    name: str = "comments",
    tags: Sequence[str | Enum] | None = ("Comments",),
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
        name: namespaces route names and operation ids (`comments:list`, ...).
        tags: OpenAPI tags for the routes.
        exclude: operations not to serve at all.
        dependencies: extra dependencies per operation.
        policy: the issue policy also given to `make_issue_router`. A user who may not
            `read` an issue gets 404 for its comments, as for the issue itself.
        comment_policy: who may create, edit and delete comments; denied gets 403. The
            default, `author_only`, lets only authors edit and delete their comments.
    """
    Store = Annotated[CommentStore, Depends(store_dependency(storage, CommentStore))]
    User = Annotated[Any, Depends(auth_dependency or _anonymous)]
    extra_dependencies = dict(dependencies or {})
    check_operations("comment", get_args(CommentOperation), exclude, extra_dependencies)

    router = APIRouter(tags=list(tags) if tags else None)
    errors = common_errors(auth=auth_dependency is not None, policy=True, what="comment")
    route = RouteRegistrar(
        router, name, exclude, extra_dependencies, errors, body_operations={"create", "update"}
    )
    gate = IssueGate(policy)

    no_issue = error(status.HTTP_404_NOT_FOUND, "No such issue.")
    no_comment = error(status.HTTP_404_NOT_FOUND, "No such issue or comment.")
    precondition = error(
        status.HTTP_412_PRECONDITION_FAILED,
        "`If-Match` names a version the comment is no longer at.",
    )

    IssueId = Annotated[
        str,
        PathParam(
            max_length=MAX_ID_LENGTH,
            pattern=NO_NUL,
            description="The issue's id, as returned when it was created.",
        ),
    ]
    CommentId = Annotated[
        str,
        PathParam(
            max_length=MAX_ID_LENGTH,
            pattern=NO_NUL,
            description="The comment's id, as returned when it was created.",
        ),
    ]

    async def allow(
        user: Any, action: CommentAction, issue: IssueOut, comment: CommentOut | None
    ) -> None:
        verdict = comment_policy(user, action, issue, comment)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        if not verdict:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to do that to this comment")

    async def fetch(store: CommentStore, issue_id: str, comment_id: str) -> CommentOut:
        try:
            return await store.get_comment(issue_id, comment_id)
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except CommentNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, COMMENT_NOT_FOUND) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc

    @route(
        "list",
        "GET",
        prefix + "/{issue_id}/comments",
        response_model=list[CommentOut],
        summary="List an issue's comments",
        description=(
            "One page of the issue's comments, oldest first. The total is in the "
            "`X-Total-Count` header and links to other pages in the `Link` header."
        ),
        responses=no_issue,
    )
    async def list_comments(
        issue_id: IssueId,
        request: Request,
        response: Response,
        store: Store,
        user: User,
        page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")] = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Comments per page.")] = 20,
        since: Annotated[
            IsoDateTime | None,
            Query(description="Only comments created or edited at or after this time."),
        ] = None,
    ) -> Any:
        if policy is not None:
            await gate.readable(store, user, issue_id)
        try:
            result = await store.list_comments(
                issue_id, offset=(page - 1) * limit, limit=limit, since=_aware(since)
            )
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    @route(
        "create",
        "POST",
        prefix + "/{issue_id}/comments",
        response_model=CommentOut,
        status_code=status.HTTP_201_CREATED,
        summary="Comment on an issue",
        description="Adds a comment by the current user. Its URL is in the `Location` header "
        "and its version in `ETag`.",
        responses=no_issue,
    )
    async def create_comment(
        issue_id: IssueId,
        payload: CommentCreate,
        request: Request,
        response: Response,
        store: Store,
        user: User,
    ) -> Any:
        issue = await gate.readable(store, user, issue_id)
        await allow(user, "create", issue, None)
        try:
            comment = await store.create_comment(issue_id, payload, author=_username(user))
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        response.headers["Location"] = str(
            request.url_for(f"{name}:get", issue_id=issue_id, comment_id=comment.id)
        )
        response.headers["ETag"] = _comment_etag(comment)
        return comment

    @route(
        "get",
        "GET",
        prefix + "/{issue_id}/comments/{comment_id}",
        response_model=CommentOut,
        summary="Get a comment",
        description="One comment, with its `ETag`; `If-None-Match` gets 304 when unchanged.",
        responses={
            **no_comment,
            status.HTTP_304_NOT_MODIFIED: {"description": "The comment still matches your ETag."},
        },
    )
    async def get_comment(
        issue_id: IssueId, comment_id: CommentId, request: Request, store: Store, user: User
    ) -> Any:
        if policy is not None:
            await gate.readable(store, user, issue_id)
        comment = await fetch(store, issue_id, comment_id)
        etag = _comment_etag(comment)
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _matches_weakly(if_none_match, etag):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return _comment_response(comment)

    async def prepare_write(
        action: CommentAction,
        issue_id: str,
        comment_id: str,
        request: Request,
        store: CommentStore,
        user: Any,
    ) -> int | None:
        issue = await gate.readable(store, user, issue_id)
        comment = await fetch(store, issue_id, comment_id)
        await allow(user, action, issue, comment)
        header = request.headers.get("if-match")
        if header is None:
            return None
        versions = _etag_versions(header)
        if versions is None:
            return None
        if comment.version not in versions:
            raise _comment_changed()
        # The store re-checks this version atomically with the write.
        return comment.version

    write_doc = (
        " Send the comment's `ETag` in `If-Match` to have this refused with 412 if the comment "
        "changed since you read it."
    )

    @route(
        "update",
        "PATCH",
        prefix + "/{issue_id}/comments/{comment_id}",
        response_model=CommentOut,
        summary="Edit a comment",
        description="Replaces the comment's text." + write_doc,
        responses={**no_comment, **precondition},
    )
    async def update_comment(
        issue_id: IssueId,
        comment_id: CommentId,
        payload: CommentUpdate,
        request: Request,
        store: Store,
        user: User,
    ) -> Any:
        expected = await prepare_write("update", issue_id, comment_id, request, store, user)
        try:
            comment = await store.update_comment(
                issue_id, comment_id, payload, expected_version=expected
            )
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except CommentNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, COMMENT_NOT_FOUND) from None
        except CommentVersionConflict:
            raise _comment_changed() from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        return _comment_response(comment)

    @route(
        "delete",
        "DELETE",
        prefix + "/{issue_id}/comments/{comment_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete a comment",
        description="Deletes the comment for good." + write_doc,
        responses={**no_comment, **precondition},
    )
    async def delete_comment(
        issue_id: IssueId, comment_id: CommentId, request: Request, store: Store, user: User
    ) -> Any:
        expected = await prepare_write("delete", issue_id, comment_id, request, store, user)
        try:
            await store.delete_comment(issue_id, comment_id, expected_version=expected)
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except CommentNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, COMMENT_NOT_FOUND) from None
        except CommentVersionConflict:
            raise _comment_changed() from None
        except StorageError as exc:
            raise _unavailable(exc) from exc
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    route.finish()
    return router


def _comment_etag(comment: CommentOut) -> str:
    return f'"v{comment.version}"'


def _comment_response(comment: CommentOut) -> Response:
    return Response(
        content=comment.model_dump_json(),
        media_type="application/json",
        headers={"ETag": _comment_etag(comment)},
    )


def _comment_changed() -> HTTPException:
    return HTTPException(
        status.HTTP_412_PRECONDITION_FAILED,
        "The comment has changed since the version in If-Match; fetch it again and retry",
    )
