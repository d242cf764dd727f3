"""The kernel every router is built on.

- `route_name`: the one place route names and operation ids are made (`issues:get`).
- `add_route`: adds a route under that name, its endpoint wrapped so that the store errors
  it lets through are answered from an error table (`routers._errors`); a GET route
  answers HEAD as well.
- `RouteRegistrar`: a router's registration: `exclude`, per-operation `dependencies`, the
  store and user arguments each endpoint takes, body checks, and 405 with a full `Allow`.
- `IssueGate`: the issue policy, as every router applies it.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, params, status

from fastapi_issues.routers._errors import NOT_FOUND, ErrorTable
from fastapi_issues.routers._json_body import reject_ambiguous_json
from fastapi_issues.routers._responses import BODY_ERRORS, Responses
from fastapi_issues.schemas import IssueOut
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import EventStore, IssueStore

__all__ = [
    "Endpoint",
    "IssueAction",
    "IssueGate",
    "IssuePolicy",
    "RouteRegistrar",
    "add_route",
    "anonymous",
    "check_operations",
    "route_name",
    "username",
]

Endpoint = Callable[..., Awaitable[Any]]

IssueAction = Literal["create", "read", "update", "delete"]
"""What a policy is asked about. Listing asks `read` with no issue."""


class IssuePolicy(Protocol):
    """Decides whether `user` may do `action` to `issue` (None for create and list).

    Return True to allow. It may be sync or async, and may raise its own `HTTPException`.
    """

    def __call__(
        self, user: Any, action: IssueAction, issue: IssueOut | None
    ) -> bool | Awaitable[bool]: ...


_METHODS_IN_ALLOW_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
_OTHER_METHODS = ("OPTIONS", "TRACE")
_NOTHING: Mapping[str, Any] = MappingProxyType({})


DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""The request body limit of every router unless told otherwise: 1 MiB. FastAPI enforces it
(`APIRouter(max_body_size=...)`) and answers 413 to a larger body, declared or streamed,
before an endpoint or a dependency such as auth runs."""


def route_name(router: str, operation: str) -> str:
    """The name of `operation` in the router named `router`, for `request.url_for`."""
    return f"{router}:{operation}"


def operation_id(readable: str, router: str, default_router: str) -> str:
    """The OpenAPI operation id of a route: `readable`, a verb on a noun (`create_issue`).

    Clients generated from the schema name their methods after it (openapi-python-client
    made `issuescreate` of `issues:create`). A router mounted under a name other than its
    default gets the name in front, so that two of them in one app keep unique ids.
    """
    if router == default_router:
        return readable
    return f"{router}_{readable}"


def add_route(
    router: APIRouter,
    path: str,
    endpoint: Callable[..., Any],
    *,
    method: str,
    router_name: str,
    operation: str,
    operation_id: str,
    errors: ErrorTable,
    head: bool = True,
    fixed: Mapping[str, Any] = _NOTHING,
    resolved: Mapping[str, Any] = _NOTHING,
    **kwargs: Any,
) -> None:
    """Add the route `router_name:operation`; a GET route answers HEAD as well (unless
    `head` is false).

    The endpoint is wrapped once: a `StorageError` it raises is answered as `errors` says
    (re-raised when no row fits), the arguments in `fixed` are always given and hidden from
    FastAPI, and those in `resolved` are annotated with the dependency that resolves them.

    HEAD is served wherever GET is (RFC 9110 9.3.2), with the GET's status and headers:
    `ETag`, `X-Total-Count`, `Link`, `Content-Length`. HEAD is a route of its own, left out
    of the OpenAPI schema, where FastAPI would list it as a second operation under the same
    id. It runs the GET endpoint; the ASGI server drops the body of a HEAD response (uvicorn,
    hypercorn and httpx's ASGI transport do), as it does for Starlette's own GET routes.
    """
    name = route_name(router_name, operation)
    endpoint = _wrap(endpoint, errors, fixed, resolved)
    router.add_api_route(
        path, endpoint, methods=[method], name=name, operation_id=operation_id, **kwargs
    )
    if method != "GET" or not head:
        return
    head_name = route_name(router_name, f"{operation}:head")
    router.add_api_route(
        path,
        endpoint,
        methods=["HEAD"],
        name=head_name,
        operation_id=head_name,
        include_in_schema=False,
        **kwargs,
    )


async def anonymous() -> None:
    """The user when there is no auth: nobody."""
    return None


def username(user: Any) -> str | None:
    """The reporter name for a resolved user: its `username`, or the user itself if a str."""
    if user is None or isinstance(user, str):
        return user
    name = user.get("username") if isinstance(user, Mapping) else getattr(user, "username", None)
    return name if isinstance(name, str) else None


def as_actor(store: object, user: Any) -> dict[str, Any]:
    """The keyword naming who makes a write, `{"actor": name}`, for a store that records it
    (one with an event log, an `EventStore`); nothing for a store without, whose writes
    take no `actor`, so that stores written for 0.1 keep working."""
    return {"actor": username(user)} if _records_actors(type(store)) else {}


_RECORDS_ACTORS: dict[type[Any], bool] = {}


def _records_actors(store_type: type[Any]) -> bool:
    # Asked per request, answered once per class: a protocol check costs microseconds.
    known = _RECORDS_ACTORS.get(store_type)
    if known is None:
        known = _RECORDS_ACTORS[store_type] = issubclass(store_type, EventStore)
    return known


def check_operations(
    kind: str,
    known: Collection[str],
    exclude: Collection[str],
    dependencies: Mapping[Any, Sequence[params.Depends]],
) -> None:
    """Refuse operations in `exclude` or `dependencies` that the router does not have."""
    unknown = (set(dependencies) | set(exclude)) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind} operations: {sorted(unknown)}")


class RouteRegistrar:
    """Adds a router's routes, skipping excluded operations.

    Every endpoint takes the store as `store` and the current user as `user`: a store given
    as an instance, and the user when there is no auth, are passed in directly (each
    dependency FastAPI resolves costs time on every request); otherwise FastAPI resolves
    them with the dependencies given. Body routes refuse ambiguous JSON first and document
    400 and 413, and `finish` makes every path answer other methods with 405 and a full
    `Allow`.
    """

    def __init__(
        self,
        router: APIRouter,
        name: str,
        *,
        default_name: str,
        operation_ids: Mapping[str, str],
        kind: str,
        exclude: Collection[str],
        dependencies: Mapping[Any, Sequence[params.Depends]],
        errors: Responses,
        store_errors: ErrorTable,
        body_operations: Collection[str],
        storage: Any,
        store_type: type,
        auth_dependency: Callable[..., Any] | None,
    ) -> None:
        self._router = router
        self._name = name
        self._default_name = default_name
        self._operation_ids = operation_ids
        self._kind = kind
        self._exclude = exclude
        self._dependencies = dependencies
        self._errors = errors
        self._store_errors = store_errors
        self._body_operations = body_operations
        self._fixed, self._resolved = _arguments(storage, store_type, auth_dependency)
        self._served: dict[str, list[str]] = {}
        self._excluded_methods: set[str] = set()
        self._no_head: set[str] = set()

    def __call__(
        self,
        operation: str,
        method: str,
        path: str,
        endpoint: Endpoint,
        *,
        responses: Responses | None = None,
        dependencies_extra: Sequence[params.Depends] = (),
        **kwargs: Any,
    ) -> None:
        """Serve `endpoint` as `operation` at `method path`, unless it is excluded."""
        if operation in self._exclude:
            self._excluded_methods.add(method)
            return
        all_responses = {**self._errors, **(responses or {})}
        dependencies = list(self._dependencies.get(operation, ()))
        if operation in self._body_operations:
            # A route's own 400 (a malformed If-Match) already says the body's too.
            all_responses = {**BODY_ERRORS, **all_responses}
            dependencies.insert(0, Depends(reject_ambiguous_json))
        add_route(
            self._router,
            path,
            endpoint,
            method=method,
            router_name=self._name,
            operation=operation,
            operation_id=operation_id(
                self._operation_ids[operation], self._name, self._default_name
            ),
            errors=self._store_errors.for_operation(f"{self._kind}:{operation}"),
            fixed=self._fixed,
            resolved=self._resolved,
            dependencies=[*dependencies, *dependencies_extra],
            responses=all_responses,
            **kwargs,
        )
        self._served.setdefault(path, []).append(method)
        if method == "GET" and kwargs.get("head") is False:
            self._no_head.add(path)

    def finish(self) -> None:
        """Answer the methods no route serves with 405 and an `Allow` naming all that are
        (see `answer_other_methods`). Methods of excluded operations are left free for
        routes of the host's own."""
        excluded = self._excluded_methods
        left_free = excluded | ({"HEAD"} if "GET" in excluded else set())
        answer_other_methods(
            self._router, self._name, self._served, left_free=left_free, no_head=self._no_head
        )


def answer_other_methods(
    router: APIRouter,
    name: str,
    served: Mapping[str, Collection[str]],
    *,
    left_free: Collection[str] = (),
    no_head: Collection[str] = (),
) -> None:
    """Answer the methods `served` does not name, path by path, with 405 and an `Allow`
    naming all that are.

    Starlette answers a method a path does not serve with the `Allow` of whichever route
    on that path it met first, so it would list GET alone for a collection. These routes
    list every method served there instead, HEAD with GET (except on the paths in
    `no_head`, such as an event stream, where HEAD gets 405 too).
    """
    for path, methods in served.items():
        head = "GET" in methods and path not in no_head
        served_here = set(methods) | ({"HEAD"} if head else set())
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
            name=route_name(name, f"method-not-allowed:{path}"),
        )


def _arguments(
    storage: Any, store_type: type, auth_dependency: Callable[..., Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The endpoint arguments passed as they are, and the annotations of those resolved."""
    fixed: dict[str, Any] = {}
    resolved: dict[str, Any] = {}
    if isinstance(storage, store_type):
        fixed["store"] = storage
    else:
        resolved["store"] = Annotated[store_type, Depends(storage)]
    if auth_dependency is None:
        fixed["user"] = None
    else:
        resolved["user"] = Annotated[Any, Depends(auth_dependency)]
    return fixed, resolved


def _wrap(
    endpoint: Endpoint,
    errors: ErrorTable,
    fixed: Mapping[str, Any],
    resolved: Mapping[str, Any],
) -> Endpoint:
    """`endpoint` as `add_route` serves it: one wrapper, so one call more per request."""
    signature = inspect.signature(endpoint, eval_str=True)

    async def bound(**kwargs: Any) -> Any:
        try:
            return await endpoint(**kwargs, **fixed)
        except StorageError as exc:
            answer = errors.http_error(exc)
            if answer is None:
                raise
            raise answer  # noqa: B904 - http_error sets the cause as the table says

    bound.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            parameter.replace(annotation=resolved.get(parameter.name, parameter.annotation))
            for parameter in signature.parameters.values()
            if parameter.name not in fixed
        ]
    )
    bound.__name__ = endpoint.__name__
    bound.__qualname__ = endpoint.__qualname__
    bound.__doc__ = endpoint.__doc__
    return bound


def _method_not_allowed(allow: str) -> Callable[[], Awaitable[None]]:
    async def method_not_allowed() -> None:
        raise HTTPException(
            status.HTTP_405_METHOD_NOT_ALLOWED, "Method Not Allowed", headers={"Allow": allow}
        )

    return method_not_allowed


class IssueGate:
    """Applies an `IssuePolicy` for every router: 403 when denied, 404 when the user may
    not even read the issue, so its existence does not leak."""

    def __init__(self, policy: IssuePolicy | None) -> None:
        self.policy = policy

    async def allowed(self, user: Any, action: IssueAction, issue: IssueOut | None) -> bool:
        """The policy's verdict; True without a policy."""
        if self.policy is None:
            return True
        verdict = self.policy(user, action, issue)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    async def authorize(self, user: Any, action: IssueAction, issue: IssueOut | None) -> None:
        """Raise 403 or 404 unless the policy allows `action`."""
        if await self.allowed(user, action, issue):
            return
        if issue is not None and (action == "read" or not await self.allowed(user, "read", issue)):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Not allowed to do that to this issue")

    async def readable(self, store: IssueStore, user: Any, issue_id: str) -> IssueOut:
        """The issue, if the user may read it; 404 otherwise."""
        issue = await store.get(issue_id)
        await self.authorize(user, "read", issue)
        return issue
