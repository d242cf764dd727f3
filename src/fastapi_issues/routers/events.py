"""`make_event_router`: each issue's timeline, the event feed, and live events over
Server-Sent Events and WebSocket."""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import json
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Protocol, get_args, runtime_checkable
from urllib.parse import parse_qsl, urlencode

from fastapi import (
    APIRouter,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    params,
    status,
)
from fastapi.sse import KEEPALIVE_COMMENT, EventSourceResponse, format_sse_event

from fastapi_issues.routers._errors import STORE_ERRORS
from fastapi_issues.routers._event_access import EventAccess, visible_page
from fastapi_issues.routers._event_socket import SocketOptions, WebSocketUser, add_socket_route
from fastapi_issues.routers._kernel import (
    IssueGate,
    IssuePolicy,
    RouteRegistrar,
    check_operations,
    route_name,
)
from fastapi_issues.routers._live import (
    Closed,
    Encodings,
    HubFull,
    LiveLimits,
    Overflowed,
    encoded,
    has_room,
    hub_for,
    live_events,
)
from fastapi_issues.routers._pages import set_page_headers
from fastapi_issues.routers._params import MAX_ID_LENGTH, NO_NUL, IssueId, PageNumber
from fastapi_issues.routers._responses import common_errors, error
from fastapi_issues.schemas import EventOut, EventType
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import EventStore, IssueStore
from fastapi_issues.storage.query import EventQuery

__all__ = ["EventOperation", "LiveLimits", "make_event_router"]

_log = logging.getLogger("fastapi_issues.events")

EventOperation = Literal["timeline", "feed", "stream", "ws"]
"""The routes of the event router, as named in `exclude` and `dependencies`."""

_OPERATION_IDS: dict[str, str] = {
    "timeline": "list_issue_events",
    "feed": "list_events",
    "stream": "stream_events",
    "ws": "events_websocket",
}

_EVENT_ID = re.compile(r"[0-9]{1,19}")
_MAX_EVENT_ID = 2**63 - 1

_FEED_SCAN = 1000
"""The most events one feed request reads from the log looking for visible ones; the
`next` link then resumes after the last one read, so nothing is skipped."""


@runtime_checkable
class _EventIssueStore(EventStore, IssueStore, Protocol):
    """What the event routes use: the event log, and the issues it is about."""


EventTypes = Annotated[
    list[EventType] | None,
    Query(alias="type", max_length=len(EventType), description="Only events of these types."),
]
EventIssueId = Annotated[
    str | None,
    Query(max_length=MAX_ID_LENGTH, pattern=NO_NUL, description="Only this issue's events."),
]
After = Annotated[
    int | None, Query(ge=0, le=_MAX_EVENT_ID, description="Only events with an id above this.")
]


def make_event_router(
    storage: EventStore | Callable[..., Any],
    auth_dependency: Callable[..., Any] | None = None,
    prefix: str = "/api/v1",
    *,
    name: str = "events",
    tags: Sequence[str | Enum] | None = ("Events",),
    exclude: Collection[EventOperation] = (),
    dependencies: Mapping[EventOperation, Sequence[params.Depends]] | None = None,
    policy: IssuePolicy | None = None,
    websocket_user: WebSocketUser | None = None,
    limits: LiveLimits = LiveLimits(),  # frozen: one shared default is safe
) -> APIRouter:
    """Build the event routes as an `APIRouter` to pass to `app.include_router`.

    Serves `prefix/issues/{issue_id}/events` (an issue's timeline, oldest first, paginated
    like the issue list), `prefix/events` (the feed: events after an id, ascending),
    `prefix/events/stream` (Server-Sent Events) and the WebSocket `prefix/events/ws`.

    Args:
        storage: the store the issue router uses (an `EventStore` and an `IssueStore`), or
            a dependency returning or yielding it. The live routes share one hub per store
            object and process, so a dependency should return the same store every time.
        auth_dependency: as for `make_issue_router`; it guards the HTTP routes.
        prefix: where the API is mounted (the issue router's prefix without `/issues`).
        name: namespaces route names (`events:feed`, ...); operation ids are
            `list_issue_events`, `list_events` and `stream_events`, prefixed with `name`
            when it is not `events`.
        tags: OpenAPI tags for the routes.
        exclude: operations not to serve at all (`timeline`, `feed`, `stream`, `ws`).
        dependencies: extra dependencies per operation.
        policy: the issue policy also given to `make_issue_router`. The timeline 404s
            exactly when the issue does; the feed and the live routes carry only events of
            issues the user may `read` (see `routers._event_access` for deleted issues).
        websocket_user: turns the bearer token of a WebSocket's first message into the
            user, raising or returning None for a bad one (`fastapi_issues.auth.
            websocket_user` makes one). Needed with `auth_dependency` unless `ws` is
            excluded; without auth the token is ignored.
        limits: `LiveLimits`: subscribers per store and process (1000), events buffered
            per subscriber (256), the SSE heartbeat (15 s), how often the hub reads the log
            at most under a stream of writes (every 0.02 s).
    """
    extra = dict(dependencies or {})
    check_operations("event", get_args(EventOperation), exclude, extra)
    if auth_dependency is not None and websocket_user is None and "ws" not in exclude:
        raise ValueError(
            "the WebSocket route cannot check tokens: pass websocket_user= "
            "(fastapi_issues.auth.websocket_user) or exclude 'ws'"
        )
    router = APIRouter(tags=list(tags) if tags else None)
    route = RouteRegistrar(
        router,
        name,
        default_name="events",
        operation_ids=_OPERATION_IDS,
        exclude=[*exclude, "ws"],
        dependencies=extra,
        kind="event",
        errors=common_errors(auth=auth_dependency is not None, policy=True, what="event"),
        store_errors=STORE_ERRORS,
        body_operations=(),
        storage=storage,
        store_type=_EventIssueStore,
        auth_dependency=auth_dependency,
    )
    endpoints = _EventEndpoints(policy, limits)
    _add_http_routes(route, endpoints, prefix)
    route.finish()
    if "ws" not in exclude:
        options = SocketOptions(
            gate=IssueGate(policy),
            limits=limits,
            websocket_user=websocket_user if auth_dependency is not None else None,
        )
        add_socket_route(
            router,
            prefix + "/events/ws",
            route_name(name, "ws"),
            storage=storage,
            store_type=_EventIssueStore,
            options=options,
            dependencies=extra.get("ws", ()),
        )
    return router


class _EventEndpoints:
    """The HTTP routes' endpoints, one method each."""

    def __init__(self, policy: IssuePolicy | None, limits: LiveLimits) -> None:
        self._gate = IssueGate(policy)
        self._limits = limits

    async def list_issue_events(
        self,
        issue_id: IssueId,
        request: Request,
        response: Response,
        store: _EventIssueStore,
        user: Any,
        page: PageNumber = 1,
        limit: Annotated[int, Query(ge=1, le=100, description="Events per page.")] = 20,
    ) -> Any:
        await self._gate.readable(store, user, issue_id)
        result = await store.issue_events(issue_id, offset=(page - 1) * limit, limit=limit)
        set_page_headers(request, response, page, limit, result.total)
        return result.items

    async def list_events(
        self,
        request: Request,
        response: Response,
        store: _EventIssueStore,
        user: Any,
        after: After = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Events per page.")] = 50,
        types: EventTypes = None,
        issue_id: EventIssueId = None,
    ) -> Any:
        await self._gate.authorize(user, "read", None)
        visible = EventAccess(self._gate, store, user)
        query = EventQuery(
            after=after or 0,
            limit=min(_FEED_SCAN, max(limit, 100)),
            types=frozenset(types) if types else None,
            issue_id=issue_id,
        )
        found, last = await visible_page(store, query, limit, visible, scan=_FEED_SCAN)
        response.headers["Link"] = f'<{_after_url(request, last)}>; rel="next"'
        return found

    async def stream_events(
        self,
        store: _EventIssueStore,
        user: Any,
        after: After = None,
        types: EventTypes = None,
        issue_id: EventIssueId = None,
        last_event_id: Annotated[
            str | None,
            Header(description="Resume after this id (browsers send it on reconnecting)."),
        ] = None,
    ) -> Any:
        await self._gate.authorize(user, "read", None)
        start = _resume_point(last_event_id, after)
        if not has_room(store, self._limits):
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "Too many live subscribers; try again later",
                headers={"Retry-After": str(self._limits.retry_after)},
            )
        body = self._sse_body(
            store,
            start,
            frozenset(types) if types else None,
            issue_id,
            EventAccess(self._gate, store, user),
        )
        return EventSourceResponse(
            body, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def _sse_body(
        self,
        store: EventStore,
        after: int | None,
        types: frozenset[EventType] | None,
        issue_id: str | None,
        visible: EventAccess,
    ) -> AsyncIterator[bytes]:
        hub = hub_for(store, self._limits)
        try:
            subscriber = hub.subscribe(self._limits.buffer, issue_id)
        except HubFull:  # lost a race for the last place since the check
            yield format_sse_event(comment="too many live subscribers; try again later")
            return
        events = live_events(
            store,
            hub,
            subscriber,
            after,
            types=types,
            visible=None if visible.shows_everything else visible,
            heartbeat=self._limits.heartbeat,
        )
        try:
            # Said once the hub has its start: whatever is written from then on is sent.
            await hub.ready()
            yield _SUBSCRIBED
            async for batch in events:
                if batch is None:
                    yield KEEPALIVE_COMMENT
                    continue
                # One chunk for the batch: one write through the ASGI stack, not one each.
                yield _sse_batch(batch)
        except Overflowed as overflow:
            yield _overflow_event(overflow.last)
        except Closed:
            return
        except StorageError as exc:
            # The headers are sent: all that is left is to end the stream, which browsers
            # reconnect with Last-Event-ID (after the `retry` delay).
            _log.warning("event stream ended, the store failed: %s", exc)
            yield format_sse_event(comment="the event store cannot be read; reconnect")
        finally:
            hub.unsubscribe(subscriber)


_SUBSCRIBED = format_sse_event(comment="subscribed")


_sse_event: Encodings[bytes] = Encodings(
    lambda event: format_sse_event(
        data_str=encoded(event), event=event.type.value, id=str(event.id)
    )
)
"""An event as SSE, formatted once for all the subscribers it is sent to."""

_BATCHES: OrderedDict[tuple[int, ...], tuple[list[EventOut], bytes]] = OrderedDict()
_BATCHES_KEPT = 16


def _sse_batch(batch: list[EventOut]) -> bytes:
    """`batch` as one SSE chunk, joined once for the subscribers that send the same events
    (without filters, all of them send what the hub read). Keyed by the events' identity:
    an entry holds its events, so the ids are not reused while it is kept."""
    key = tuple(map(id, batch))
    found = _BATCHES.get(key)
    if found is not None:
        return found[1]
    chunk = b"".join(map(_sse_event, batch))
    _BATCHES[key] = (batch, chunk)
    if len(_BATCHES) > _BATCHES_KEPT:
        _BATCHES.popitem(last=False)
    return chunk


def _overflow_event(last: int) -> bytes:
    detail = "This client fell too far behind; reconnect with Last-Event-ID to resume."
    data = json.dumps({"detail": detail, "last_event_id": last})
    return format_sse_event(data_str=data, event="overflow")


def _after_url(request: Request, after: int) -> str:
    """The request's URL with `after` set to `after` (and any other parameter as it was)."""
    url = request.url
    pairs = [(k, v) for k, v in parse_qsl(url.query, keep_blank_values=True) if k != "after"]
    pairs.append(("after", str(after)))
    return str(url.replace(query=urlencode(pairs)))


def _resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """Where a stream starts: `Last-Event-ID` (sent by a reconnecting browser, so it wins),
    else `after`, else None (only what happens from now)."""
    if last_event_id is None:
        return after
    value = last_event_id.strip()
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if _EVENT_ID.fullmatch(value) is None or int(value) > _MAX_EVENT_ID:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Last-Event-ID must be an event id")
    return int(value)


_NO_ISSUE = error(status.HTTP_404_NOT_FOUND, "No such issue.")


def _add_http_routes(route: RouteRegistrar, endpoints: _EventEndpoints, prefix: str) -> None:
    route(
        "timeline",
        "GET",
        prefix + "/issues/{issue_id}/events",
        endpoints.list_issue_events,
        response_model=list[EventOut],
        summary="List an issue's events",
        description=(
            "One page of the issue's timeline, oldest first. The total is in the "
            "`X-Total-Count` header and links to other pages in the `Link` header."
        ),
        responses=_NO_ISSUE,
    )
    route(
        "feed",
        "GET",
        prefix + "/events",
        endpoints.list_events,
        response_model=list[EventOut],
        summary="List events",
        description=(
            "Events after `after`, ascending by id, only of issues you may read. The `Link` "
            'header\'s `rel="next"` carries the id to resume after (also when the page is '
            "empty: poll it for what comes next)."
        ),
    )
    route(
        "stream",
        "GET",
        prefix + "/events/stream",
        endpoints.stream_events,
        head=False,
        # Not `response_class=EventSourceResponse`: that is FastAPI's generator route, which
        # would start the stream before the 503 and 400 answers could be given. The endpoint
        # returns an `EventSourceResponse` itself.
        response_class=Response,
        response_model=None,
        summary="Stream events (Server-Sent Events)",
        description=(
            "Replays the events after `Last-Event-ID` (or `after`), then sends each new one "
            "as it happens: `id:` its id, `event:` its type, `data:` its JSON. A first "
            "comment, `: subscribed`, says that every later change will be sent; one "
            "every 15 s (`: ping`) keeps the connection open; a client that falls too far "
            "behind gets an `overflow` event and is disconnected, and resumes by id."
        ),
        responses={
            **error(status.HTTP_400_BAD_REQUEST, "`Last-Event-ID` is not an event id."),
            200: {
                "description": "The event stream: `id:` the event id, `event:` its type, "
                "`data:` the event as JSON (`EventOut`).",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
        },
    )
