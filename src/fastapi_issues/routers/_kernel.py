"""What the label and comment routers share with the issue router: the store dependency,
route registration with `exclude`/`dependencies`, pagination headers and the issue policy."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, params, status

from fastapi_issues.routers._json_body import reject_ambiguous_json
from fastapi_issues.routers.issues import (
    NOT_FOUND,
    ErrorMessage,
    IssueAction,
    IssuePolicy,
    _add_route,
    _link_header,
    _refuse_other_methods,
    _unavailable,
)
from fastapi_issues.schemas import IssueOut
from fastapi_issues.storage.errors import IssueNotFound, StorageError
from fastapi_issues.storage.protocols import IssueStore

Endpoint = Callable[..., Awaitable[Any]]
Responses = dict[int | str, dict[str, Any]]


def store_dependency(storage: Any, protocol: type) -> Callable[..., Any]:
    """`storage` itself when it is a dependency, else a dependency returning the store."""
    if not isinstance(storage, protocol):
        return storage  # type: ignore[no-any-return]

    async def provide_store() -> Any:
        return storage

    return provide_store


def check_operations(
    kind: str,
    known: Collection[str],
    exclude: Collection[str],
    dependencies: Mapping[Any, Sequence[params.Depends]],
) -> None:
    unknown = (set(dependencies) | set(exclude)) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind} operations: {sorted(unknown)}")


def common_errors(*, auth: bool, policy: bool, what: str) -> Responses:
    errors: Responses = {
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ErrorMessage,
            "description": f"The {what} store cannot be reached or read.",
        }
    }
    if auth:
        errors[status.HTTP_401_UNAUTHORIZED] = {
            "model": ErrorMessage,
            "description": "Missing or invalid credentials.",
        }
    if policy:
        errors[status.HTTP_403_FORBIDDEN] = {
            "model": ErrorMessage,
            "description": "The authorization policy does not allow this.",
        }
    return errors


BODY_ERRORS: Responses = {
    status.HTTP_400_BAD_REQUEST: {
        "model": ErrorMessage,
        "description": "The body cannot be parsed (not UTF-8, or nested too deeply).",
    },
    413: {"model": ErrorMessage, "description": "The body is larger than the server accepts."},
}


def error(code: int, description: str) -> Responses:
    return {code: {"model": ErrorMessage, "description": description}}


class RouteRegistrar:
    """Adds routes named `<name>:<operation>`, skipping excluded operations, as
    `make_issue_router` does: GET routes answer HEAD too, body routes refuse ambiguous JSON
    first and document 400 and 413, and `finish` makes every path answer other methods with
    405 and a full `Allow`."""

    def __init__(
        self,
        router: APIRouter,
        name: str,
        exclude: Collection[str],
        dependencies: Mapping[Any, Sequence[params.Depends]],
        errors: Responses,
        *,
        body_operations: Collection[str],
    ) -> None:
        self._router = router
        self._name = name
        self._exclude = exclude
        self._dependencies = dependencies
        self._errors = errors
        self._body_operations = body_operations
        self._served: dict[str, list[str]] = {}
        self._excluded_methods: set[str] = set()

    def __call__(
        self, operation: str, method: str, path: str, **kwargs: Any
    ) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            if operation in self._exclude:
                self._excluded_methods.add(method)
                return endpoint
            responses = {**self._errors, **kwargs.pop("responses", {})}
            dependencies = list(self._dependencies.get(operation, ()))
            if operation in self._body_operations:
                responses.update(BODY_ERRORS)
                dependencies.insert(0, Depends(reject_ambiguous_json))
            _add_route(
                self._router,
                path,
                endpoint,
                method=method,
                name=f"{self._name}:{operation}",
                dependencies=dependencies,
                responses=responses,
                **kwargs,
            )
            self._served.setdefault(path, []).append(method)
            return endpoint

        return register

    def finish(self) -> None:
        """Answer the methods no route serves with 405 and an `Allow` naming all that are.

        Methods of excluded operations stay free for routes of the host's own.
        """
        _refuse_other_methods(self._router, self._name, self._served, self._excluded_methods)


def set_page_headers(
    request: Request, response: Response, page: int, limit: int, total: int
) -> None:
    last = max(1, -(-total // limit))
    response.headers["X-Total-Count"] = str(total)
    response.headers["Link"] = _link_header(request, page, last)


class IssueGate:
    """Applies an `IssuePolicy` exactly as `make_issue_router` does: 403 when denied, 404
    when the user may not even read the issue."""

    def __init__(self, policy: IssuePolicy | None) -> None:
        self.policy = policy

    async def allowed(self, user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
        if self.policy is None:
            return True
        verdict = self.policy(user, action, issue)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    async def authorize(self, user: Any, action: IssueAction, issue: IssueOut | None) -> None:
        if await self.allowed(user, action, issue):
            return
        if issue is not None and (action == "read" or not await self.allowed(user, "read", issue)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to do that to this issue")

    async def fetch(self, store: IssueStore, issue_id: str) -> IssueOut:
        try:
            return await store.get(issue_id)
        except IssueNotFound:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
        except StorageError as exc:
            raise _unavailable(exc) from exc

    async def readable(self, store: IssueStore, user: Any, issue_id: str) -> IssueOut:
        issue = await self.fetch(store, issue_id)
        await self.authorize(user, "read", issue)
        return issue
