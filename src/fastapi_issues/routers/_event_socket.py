"""The event router's WebSocket: a first message saying who and from where, then one JSON
text message per event.

Browsers cannot set headers on a WebSocket, and a token in the URL ends up in logs, so the
bearer token comes in the first message: `{"token": "...", "after": <id or null>,
"types": [...], "issue_id": "..."}`. A malformed first message, or a missing or bad token
(when the router has auth), closes with 1008 and a reason that repeats nothing sent.
"""

# No `from __future__ import annotations`: FastAPI must see the Annotated types at runtime.

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, params, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from fastapi_issues.routers._event_access import EventAccess
from fastapi_issues.routers._kernel import IssueGate
from fastapi_issues.routers._live import (
    Closed,
    HubFull,
    LiveLimits,
    Overflowed,
    Subscriber,
    encoded,
    hub_for,
    live_events,
)
from fastapi_issues.routers._params import MAX_ID_LENGTH, NO_NUL
from fastapi_issues.schemas import EventType
from fastapi_issues.storage.errors import StorageError
from fastapi_issues.storage.protocols import EventStore

__all__ = ["SocketOptions", "WebSocketUser", "add_socket_route", "serve_socket"]

WebSocketUser = Callable[[str], Awaitable[Any]]
"""Turns a bearer token into the user; raises (an `HTTPException`, say) or returns None for
a bad one."""

_log = logging.getLogger("fastapi_issues.events")

POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
INTERNAL_ERROR = 1011

_FIRST_MESSAGE_TIMEOUT = 10.0
"""Seconds a client has to send its first message."""

_MALFORMED = (
    'the first message must be JSON: {"token": str, "after": int|null, '
    '"types": [str]?, "issue_id": str?}'
)


class FirstMessage(BaseModel):
    """The client's first message."""

    model_config = ConfigDict(extra="ignore")

    token: str | None = Field(default=None, max_length=8192)
    after: int | None = Field(default=None, ge=0, le=2**63 - 1)
    types: list[EventType] | None = Field(default=None, max_length=len(EventType))
    issue_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH, pattern=NO_NUL)


@dataclass(frozen=True)
class SocketOptions:
    """What the WebSocket route was built with."""

    gate: IssueGate
    limits: LiveLimits
    websocket_user: WebSocketUser | None
    """None: no auth, tokens are ignored."""


class _Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


def add_socket_route(
    router: APIRouter,
    path: str,
    name: str,
    *,
    storage: Any,
    store_type: type,
    options: SocketOptions,
    dependencies: Sequence[params.Depends],
) -> None:
    """Serve the WebSocket at `path`, over `storage`: a `store_type`, or a dependency
    resolving one (as the kernel takes it for the HTTP routes)."""
    if isinstance(storage, store_type):
        fixed = cast(EventStore, storage)

        async def events_websocket(websocket: WebSocket) -> None:
            await serve_socket(websocket, fixed, options)

        endpoint: Callable[..., Any] = events_websocket
    else:

        async def events_websocket_resolved(
            websocket: WebSocket, store: Annotated[Any, Depends(storage)]
        ) -> None:
            await serve_socket(websocket, store, options)

        endpoint = events_websocket_resolved
    router.add_api_websocket_route(path, endpoint, name=name, dependencies=list(dependencies))


async def serve_socket(websocket: WebSocket, store: EventStore, options: SocketOptions) -> None:
    """Serve one WebSocket client until it leaves, falls behind, or is refused."""
    await websocket.accept()
    try:
        first = await _first_message(websocket)
        user = await _user(first.token, options.websocket_user)
        if not await options.gate.allowed(user, "read", None):
            raise _Refused(POLICY_VIOLATION, "not allowed to read events")
    except _Refused as refused:
        await websocket.close(refused.code, refused.reason)
        return
    except WebSocketDisconnect:
        return
    await _stream(websocket, store, options, first, EventAccess(options.gate, store, user))


async def _first_message(websocket: WebSocket) -> FirstMessage:
    try:
        async with asyncio.timeout(_FIRST_MESSAGE_TIMEOUT):
            message = await websocket.receive()
    except TimeoutError:
        raise _Refused(POLICY_VIOLATION, "no first message in time") from None
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        raise _Refused(POLICY_VIOLATION, _MALFORMED)
    try:
        return FirstMessage.model_validate_json(text)
    except ValidationError:
        raise _Refused(POLICY_VIOLATION, _MALFORMED) from None


async def _user(token: str | None, resolve: WebSocketUser | None) -> Any:
    if resolve is None:
        return None
    if not token:
        raise _Refused(POLICY_VIOLATION, "missing token")
    try:
        user = await resolve(token)
    except HTTPException as exc:
        if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
            raise _Refused(TRY_AGAIN_LATER, "cannot check the token now; try again later") from None
        raise _Refused(POLICY_VIOLATION, "invalid token") from None
    if user is None:
        raise _Refused(POLICY_VIOLATION, "invalid token")
    return user


async def _stream(
    websocket: WebSocket,
    store: EventStore,
    options: SocketOptions,
    first: FirstMessage,
    visible: EventAccess,
) -> None:
    hub = hub_for(store, options.limits)
    try:
        subscriber = hub.subscribe(options.limits.buffer, first.issue_id)
    except HubFull:
        await websocket.close(TRY_AGAIN_LATER, "too many live subscribers; try again later")
        return
    reader = asyncio.create_task(_until_closed(websocket, subscriber))
    try:
        events = live_events(
            store,
            hub,
            subscriber,
            first.after,
            types=frozenset(first.types) if first.types else None,
            visible=None if visible.shows_everything else visible,
            heartbeat=options.limits.heartbeat,
        )
        async for batch in events:
            # None (a heartbeat) is skipped: WebSocket keeps itself alive with protocol
            # pings. One message per event is the WebSocket's contract.
            for event in batch or ():
                await websocket.send_text(encoded(event))
    except Overflowed as overflow:
        reason = f"fell too far behind; reconnect with after={overflow.last}"
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(TRY_AGAIN_LATER, reason)
    except (Closed, WebSocketDisconnect, OSError):
        pass
    except StorageError as exc:
        _log.warning("event socket closed, the store failed: %s", exc)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(INTERNAL_ERROR, "the event store cannot be read; reconnect")
    finally:
        hub.unsubscribe(subscriber)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _until_closed(websocket: WebSocket, subscriber: Subscriber) -> None:
    """Read (and ignore) what the client sends, to notice when it leaves."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
    finally:
        subscriber.close()
