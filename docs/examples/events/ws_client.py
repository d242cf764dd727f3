"""Follow the events over the WebSocket route, with `websockets`."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


async def follow(
    url: str, token: str | None = None, after: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every event after `after` (from now, when None), across drops.

    `url` is like ws://127.0.0.1:8000/api/v1/events/ws.
    """
    while True:
        try:
            async with connect(url) as socket:
                # The token goes in the first message, never in the URL.
                hello = {"token": token, "after": after}
                await socket.send(json.dumps(hello))
                async for message in socket:
                    event = json.loads(message)
                    after = event["id"]
                    yield event
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == 1008:
                raise  # a bad token or first message: retrying will not help
        except OSError:
            pass  # the server is unreachable, or restarting
        await asyncio.sleep(1)  # then resume after the last event seen
