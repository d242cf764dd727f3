"""`make_webhook_router`: webhooks, their deliveries, pings and redeliveries, for admins.

A hook makes the server POST to a URL its creator chose, so the router is closed by default:
only admins may use any of its routes, and a URL must name a public address unless the host
says otherwise (`allow_private_targets`). Deliveries themselves are made by
`fastapi_issues.webhooks.DeliveryWorker`, never in a request.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, params, status
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError

from fastapi_issues.routers._errors import STORE_ERRORS
from fastapi_issues.routers._kernel import (
    DEFAULT_MAX_BODY_SIZE,
    RouteRegistrar,
    check_operations,
    route_name,
)
from fastapi_issues.routers._no_echo import NoSecretEchoRoute
from fastapi_issues.routers._pages import set_page_headers
from fastapi_issues.routers._params import MAX_ID_LENGTH, NO_NUL, PageNumber
from fastapi_issues.routers._responses import Responses, common_errors, error
from fastapi_issues.schemas import DeliveryOut, HookCreate, HookOut, HookUpdate
from fastapi_issues.storage.protocols import HookStore

__all__ = ["HookAction", "HookOperation", "HookPolicy", "admins_only", "make_webhook_router"]

HookOperation = Literal[
    "list",
    "create",
    "get",
    "update",
    "delete",
    "ping",
    "list_deliveries",
    "get_delivery",
    "redeliver",
]
"""The routes of the webhook router, as named in `exclude` and `dependencies`."""

_OPERATION_IDS: dict[str, str] = {
    "list": "list_hooks",
    "create": "create_hook",
    "get": "get_hook",
    "update": "update_hook",
    "delete": "delete_hook",
    "ping": "ping_hook",
    "list_deliveries": "list_hook_deliveries",
    "get_delivery": "get_hook_delivery",
    "redeliver": "redeliver_hook_delivery",
}
"""OpenAPI operation ids: method names in generated clients."""

HookAction = Literal["read", "create", "update", "delete", "ping", "redeliver"]
"""What a hook policy is asked about: `read` for listing and reading hooks and deliveries."""

_ACTIONS: dict[str, HookAction] = {
    "list": "read",
    "create": "create",
    "get": "read",
    "update": "update",
    "delete": "delete",
    "ping": "ping",
    "list_deliveries": "read",
    "get_delivery": "read",
    "redeliver": "redeliver",
}


class HookPolicy(Protocol):
    """Decides whether `user` may do `action` with webhooks. Return True to allow; denied
    gets 403. It may be sync or async, and may raise its own `HTTPException`.

    Every route asks, reading included: a hook's URL and its deliveries' answers are for
    whoever runs the server. `routers.policies.AdminsOnly` is the usual one.
    """

    def __call__(self, user: Any, action: HookAction) -> bool | Awaitable[bool]: ...


def admins_only(user: Any, action: HookAction) -> bool:
    """The default policy: users whose `is_admin` attribute is true (auth's users who are
    admins in the user store). To name admins by username too, pass `AdminsOnly([...])`."""
    return bool(getattr(user, "is_admin", False))


RESOLVE_TIMEOUT = 5.0
"""How long the check of a hook's URL waits for its host to resolve, in seconds."""

HookId = Annotated[
    str,
    PathParam(max_length=MAX_ID_LENGTH, pattern=NO_NUL, description="The hook's id."),
]
DeliveryId = Annotated[
    str,
    PathParam(
        max_length=MAX_ID_LENGTH,
        pattern=NO_NUL,
        description="The delivery's id: `X-Issues-Delivery` of its requests.",
    ),
]


def make_webhook_router(
    hooks: HookStore | Callable[..., Any],
    *,
    auth_dependency: Callable[..., Any] | None = None,
    policy: HookPolicy | None = None,
    allow_private_targets: bool = False,
    prefix: str = "/api/v1/hooks",
    name: str = "hooks",
    tags: Sequence[str | Enum] | None = ("Webhooks",),
    max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
    exclude: Collection[HookOperation] = (),
    dependencies: Mapping[HookOperation, Sequence[params.Depends]] | None = None,
) -> APIRouter:
    """Build the webhook routes as an `APIRouter` to pass to `app.include_router`.

    Serves the hooks under `prefix` (list, create, get, update, delete), a hook's ping
    (`POST {hook_id}/pings`), its deliveries newest first (`GET {hook_id}/deliveries`, and
    one by id) and redelivery (`POST {hook_id}/deliveries/{delivery_id}/attempts`). A hook's
    secret is write-only: no answer shows it, 422s included.

    Args:
        hooks: the store's `HookStore` (`store.hooks`), or a dependency that returns one.
        auth_dependency: resolves the current user, as for `make_issue_router`; every
            route depends on it. Required unless `policy` is given: a router that let
            anyone register hooks would let anyone make the server call any URL.
        policy: who may do what (403 otherwise). Without one, only users whose `is_admin`
            is true (`admins_only`); `AdminsOnly([...])` adds admins by username. A router
            without auth must be given one explicitly, e.g. one allowing everyone on an
            intranet no one else reaches.
        allow_private_targets: let hooks call loopback, private and link-local addresses
            (intranets, tests). Off, such a URL, or one whose host does not resolve, gets
            422. Give the `DeliveryWorker` the same setting: it checks again at each
            delivery.
        prefix: where the hooks live.
        name: namespaces route names (`hooks:list`, ... for `url_for`); operation ids
            are `list_hooks`, ..., prefixed with `name` when it is not `hooks`.
        tags: OpenAPI tags for the routes.
        max_body_size: the most bytes a request body may have; a larger one gets 413.
        exclude: operations not to serve at all.
        dependencies: extra dependencies per operation, e.g. rate limits.
    """
    # Here, not at import: the webhooks package needs its extra (httpx), and the package
    # root imports this module. A router that cannot deliver is refused when it is built.
    from fastapi_issues.webhooks import TargetRefused, check_target

    if auth_dependency is None and policy is None:
        raise ValueError(
            "make_webhook_router needs an auth_dependency (only admins may register hooks: "
            "a hook makes the server call its URL), or an explicit policy to serve the "
            "routes without auth"
        )
    extra_dependencies = dict(dependencies or {})
    check_operations("hook", get_args(HookOperation), exclude, extra_dependencies)
    router = APIRouter(
        tags=list(tags) if tags else None,
        max_body_size=max_body_size,
        route_class=NoSecretEchoRoute,
    )
    route = RouteRegistrar(
        router,
        name,
        default_name="hooks",
        operation_ids=_OPERATION_IDS,
        exclude=exclude,
        dependencies=extra_dependencies,
        kind="hook",
        errors=common_errors(auth=auth_dependency is not None, policy=True, what="hook"),
        store_errors=STORE_ERRORS,
        body_operations={"create", "update"},
        storage=hooks,
        store_type=HookStore,
        auth_dependency=auth_dependency,
    )
    check = functools.partial(check_target, allow_private=allow_private_targets)
    endpoints = _HookEndpoints(name, _TargetCheck(check, TargetRefused))
    gate = _HookGate(policy if policy is not None else admins_only, auth_dependency)
    _add_hook_routes(route, endpoints, gate, prefix)
    _add_delivery_routes(route, endpoints, gate, prefix + "/{hook_id}")
    route.finish()
    return router


class _HookGate:
    """The policy as a dependency of each route: it runs before the body is validated, so
    a user who may not use hooks learns nothing from a 422 and no URL is resolved."""

    def __init__(self, policy: HookPolicy, auth_dependency: Callable[..., Any] | None) -> None:
        self._policy = policy
        self._auth_dependency = auth_dependency

    def __call__(self, operation: str) -> params.Depends:
        action = _ACTIONS[operation]
        policy = self._policy

        async def may(user: Any) -> None:
            verdict = policy(user, action)
            if inspect.isawaitable(verdict):
                verdict = await verdict
            if not verdict:
                raise HTTPException(status.HTTP_403_FORBIDDEN, f"Not allowed to {action} hooks")

        if self._auth_dependency is None:

            async def may_anonymous() -> None:
                await may(None)

            anonymous: params.Depends = Depends(may_anonymous)
            return anonymous

        # The same dependency as the endpoint's `user`: FastAPI resolves it once a request.
        async def may_signed_in(user: Annotated[Any, Depends(self._auth_dependency)]) -> None:
            await may(user)

        signed_in: params.Depends = Depends(may_signed_in)
        return signed_in


class _TargetCheck:
    """The one place a refused target becomes an answer: a 422 on the body's `url`,
    shaped as FastAPI's own validation errors, since a client fixes it in the same field as
    a malformed URL. A host that does not resolve in time is refused too."""

    def __init__(self, check: Callable[[str], Awaitable[None]], refused: type[Exception]) -> None:
        self._check = check
        self._refused = refused

    async def __call__(self, url: str) -> None:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT):
                await self._check(url)
        except TimeoutError:
            raise _url_refused(f"the host did not resolve within {RESOLVE_TIMEOUT:g} s") from None
        except self._refused as exc:
            raise _url_refused(str(exc)) from None


def _url_refused(reason: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "hook_url_refused", "loc": ("body", "url"), "msg": f"Refused: {reason}"}]
    )


class _HookEndpoints:
    """The webhook routes' endpoints, one method each. The policy has been asked (a
    dependency of each route) before any of them runs; `user` is unused here."""

    def __init__(self, name: str, check_url: _TargetCheck) -> None:
        self._get_route = route_name(name, "get")
        self._delivery_route = route_name(name, "get_delivery")
        self._check_url = check_url

    async def list_hooks(
        self,
        request: Request,
        response: Response,
        store: HookStore,
        user: Any,
        page: PageNumber = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Hooks per page.")] = 30,
    ) -> Any:
        result = await store.list_hooks(offset=(page - 1) * limit, limit=limit)
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    async def create_hook(
        self, request: Request, response: Response, payload: HookCreate, store: HookStore, user: Any
    ) -> Any:
        await self._check_url(payload.url)
        hook = await store.create_hook(payload)
        response.headers["Location"] = str(request.url_for(self._get_route, hook_id=hook.id))
        return hook

    async def get_hook(self, hook_id: HookId, store: HookStore, user: Any) -> Any:
        return await store.get_hook(hook_id)

    async def update_hook(
        self, hook_id: HookId, payload: HookUpdate, store: HookStore, user: Any
    ) -> Any:
        if "url" in payload.model_fields_set:
            await store.get_hook(hook_id)  # 404 before the URL is resolved
            await self._check_url(payload.url)
        return await store.update_hook(hook_id, payload)

    async def delete_hook(self, hook_id: HookId, store: HookStore, user: Any) -> Any:
        await store.delete_hook(hook_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    async def ping_hook(
        self, hook_id: HookId, request: Request, response: Response, store: HookStore, user: Any
    ) -> Any:
        delivery = await store.queue_ping(hook_id)
        self._locate(request, response, delivery)
        return delivery

    async def list_hook_deliveries(
        self,
        hook_id: HookId,
        request: Request,
        response: Response,
        store: HookStore,
        user: Any,
        page: PageNumber = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Deliveries per page.")] = 20,
    ) -> Any:
        result = await store.list_deliveries(hook_id, offset=(page - 1) * limit, limit=limit)
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    async def get_hook_delivery(
        self, hook_id: HookId, delivery_id: DeliveryId, store: HookStore, user: Any
    ) -> Any:
        return await store.get_delivery(hook_id, delivery_id)

    async def redeliver_hook_delivery(
        self,
        hook_id: HookId,
        delivery_id: DeliveryId,
        request: Request,
        response: Response,
        store: HookStore,
        user: Any,
    ) -> Any:
        delivery = await store.redeliver(hook_id, delivery_id)
        self._locate(request, response, delivery)
        return delivery

    def _locate(self, request: Request, response: Response, delivery: DeliveryOut) -> None:
        where = request.url_for(
            self._delivery_route, hook_id=delivery.hook_id, delivery_id=delivery.id
        )
        response.headers["Location"] = str(where)


_NO_HOOK = error(status.HTTP_404_NOT_FOUND, "No such hook.")
_NO_DELIVERY = error(status.HTTP_404_NOT_FOUND, "No such hook, or it has no such delivery.")
_URL_REFUSED: Responses = {
    422: {
        "description": "Validation error; also a `url` whose host is, or resolves to, an "
        "address hooks may not call (loopback, private, link-local, cloud metadata), or "
        "does not resolve."
    }
}


def _add_hook_routes(
    route: RouteRegistrar, endpoints: _HookEndpoints, gate: _HookGate, prefix: str
) -> None:
    route(
        "list",
        "GET",
        prefix,
        endpoints.list_hooks,
        dependencies_extra=[gate("list")],
        response_model=list[HookOut],
        summary="List hooks",
        description="One page of hooks, oldest first, with `X-Total-Count` and `Link`.",
    )
    route(
        "create",
        "POST",
        prefix,
        endpoints.create_hook,
        dependencies_extra=[gate("create")],
        response_model=HookOut,
        status_code=status.HTTP_201_CREATED,
        summary="Create a hook",
        description="The hook delivers the events made from now on. Its secret signs each "
        "delivery (`X-Issues-Signature-256`) and is never shown again. The new hook's URL "
        "is in the `Location` header.",
        responses=_URL_REFUSED,
    )
    one_hook = prefix + "/{hook_id}"
    route(
        "get",
        "GET",
        one_hook,
        endpoints.get_hook,
        dependencies_extra=[gate("get")],
        response_model=HookOut,
        summary="Get a hook",
        responses=_NO_HOOK,
    )
    route(
        "update",
        "PATCH",
        one_hook,
        endpoints.update_hook,
        dependencies_extra=[gate("update")],
        response_model=HookOut,
        summary="Update a hook",
        description="Changes only the fields sent. Making an inactive hook active again "
        "clears `failing_since`; it delivers the events made from then on, not those made "
        "while it was inactive.",
        responses={**_NO_HOOK, **_URL_REFUSED},
    )
    route(
        "delete",
        "DELETE",
        one_hook,
        endpoints.delete_hook,
        dependencies_extra=[gate("delete")],
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        response_model=None,
        summary="Delete a hook",
        description="Deletes the hook and its deliveries, pending ones included.",
        responses=_NO_HOOK,
    )


def _add_delivery_routes(
    route: RouteRegistrar, endpoints: _HookEndpoints, gate: _HookGate, one_hook: str
) -> None:
    queued = (
        " Answers 202 with the delivery, pending; the delivery worker makes the attempt. "
        "Its URL is in the `Location` header."
    )
    route(
        "ping",
        "POST",
        one_hook + "/pings",
        endpoints.ping_hook,
        dependencies_extra=[gate("ping")],
        response_model=DeliveryOut,
        status_code=status.HTTP_202_ACCEPTED,
        summary="Ping a hook",
        description="Queues a `ping` delivery, due at once, also for an inactive hook." + queued,
        responses=_NO_HOOK,
    )
    deliveries = one_hook + "/deliveries"
    route(
        "list_deliveries",
        "GET",
        deliveries,
        endpoints.list_hook_deliveries,
        dependencies_extra=[gate("list_deliveries")],
        response_model=list[DeliveryOut],
        summary="List a hook's deliveries",
        description="One page of the hook's deliveries, newest first, each with its last "
        "attempt, with `X-Total-Count` and `Link`.",
        responses=_NO_HOOK,
    )
    one_delivery = deliveries + "/{delivery_id}"
    route(
        "get_delivery",
        "GET",
        one_delivery,
        endpoints.get_hook_delivery,
        dependencies_extra=[gate("get_delivery")],
        response_model=DeliveryOut,
        summary="Get a delivery",
        responses=_NO_DELIVERY,
    )
    route(
        "redeliver",
        "POST",
        one_delivery + "/attempts",
        endpoints.redeliver_hook_delivery,
        dependencies_extra=[gate("redeliver")],
        response_model=DeliveryOut,
        status_code=status.HTTP_202_ACCEPTED,
        summary="Redeliver",
        description="Makes the delivery pending and due at once, with the same id and "
        "body; a finished one goes out of its hook's order." + queued,
        responses=_NO_DELIVERY,
    )
